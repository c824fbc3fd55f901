#!/usr/bin/env bash
# A local user against corrald's root checks, in a throwaway systemd (tools/sandbox/sandbox.sh):
# a call whose caller is judged by the euid in /proc/PID/status can be sent by any user who then
# execs a setuid-root program on the same pid, keeping the connection (su and passwd wait for a
# password with euid 0). corrald must judge by the uid the bus vouches for (SO_PEERCRED at
# connect), as the bus policy does. Prints "N passed, N failed" last.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/system/lib.sh

build_corral //tests:bus_creds_probe
probe=$bin/tests/bus_creds_probe
echo "== booting a throwaway systemd with corral installed"
corral_sandbox "$(mktemp -d /tmp/corral-buscreds-XXXXXX)"
as_nobody() {
  timeout 60 tools/sandbox/sandbox.sh run "$sandbox_state" -- \
    setpriv --reuid=nobody --regid=nogroup --clear-groups sh -c 'exec "$@"' sh "$@"
}

check "corralctl image build busybox" sb corralctl image build busybox
check "create a container whose command line holds a secret" \
  sb sh -c 'corralctl create secret --image busybox --net none -- echo TOKEN-s3cr3t >/dev/null'
# The probe, plain for nobody to run and a setuid-root copy as "the setuid program". Under
# /var/lib/corral (not nosuid), in a directory nobody may enter.
d=/var/lib/corral/buscreds
check "install the probe and its setuid-root copy" sb sh -c \
  "mkdir -p $d && chmod 0755 $d && install -m 0755 $probe $d/probe && install -m 4755 $probe $d/holder"
path=/org/corral1/container/secret
check_output "(control) the setuid copy runs with euid 0 for nobody" '^euid=0 ' \
  as_nobody $d/probe send $d/holder $path org.freedesktop.DBus.Properties Get org.corral1.Container Name
check_output "(control) the probe's call is answered: the Name property" '^euid=0 reply: .*secret' \
  as_nobody $d/probe send $d/holder $path org.freedesktop.DBus.Properties Get org.corral1.Container Name
out=$(as_nobody $d/probe send $d/holder $path org.freedesktop.DBus.Properties Get org.corral1.Container Command 2>&1)
if echo "$out" | grep -q TOKEN; then
  not_ok "a setuid program holding nobody's connection does not read the Command property"
  echo "$out" | sed 's/^/    /'
else
  ok "a setuid program holding nobody's connection does not read the Command property"
fi
check_output "nor run CheckConfig" '^euid=0 reply: .*org\.corral1\.Error\.AccessDenied' \
  as_nobody $d/probe send $d/holder /org/corral1 org.corral1.Manager CheckConfig
check "root still reads Command" sb sh -c 'busctl get-property org.corral1 '$path' org.corral1.Container Command | grep -q TOKEN'
check "root still runs CheckConfig" sb corralctl checkconfig

echo "== cleanup"
check "remove secret and the probes" sb sh -c "corralctl rm secret >/dev/null && rm -rf $d"
finish
