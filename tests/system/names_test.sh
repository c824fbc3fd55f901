#!/usr/bin/env bash
# Names the contract allows all start (issue 13): the default host name is derived from the
# name ("a_b" -> "a-b", 64 characters cut to 63, "x.." -> "x"); AccessDenied is only for callers
# without rights (Exec of a file that is not executable is Failed); a key given twice in an
# a{sv} is InvalidArgument and creates nothing. In the throwaway systemd. Prints "N passed,
# N failed" last.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/system/lib.sh

build_corral //tests:exec_error_probe
probe=$bin/tests/exec_error_probe
echo "== booting a throwaway systemd with corral installed"
corral_sandbox "$(mktemp -d /tmp/corral-names-XXXXXX)"
check "corralctl image build busybox" sb corralctl image build busybox

long=$(printf 'n%.0s' $(seq 64))
echo "== every valid name starts"
for pair in "a_b:a-b" "$long:$(printf 'n%.0s' $(seq 63))" "x..:x" "Web_1.srv_:Web-1.srv"; do
  name=${pair%%:*} host=${pair#*:}
  sb corralctl create "$name" --image busybox --net none -- sh -c 'exec sleep 1000' >/dev/null
  check "start ${name:0:20}" sb corralctl start "$name"
  check_output "its host name inside is ${host:0:20}..." "^$host\$" sb corralctl exec "$name" -- hostname
  check_output "and its Hostname property says so" "\"$host\"" \
    sb busctl get-property org.corral1 "$(sb busctl call org.corral1 /org/corral1 org.corral1.Manager GetContainer s "$name" | awk '{print $2}' | tr -d '"')" org.corral1.Container Hostname
  sb corralctl stop "$name" >/dev/null 2>&1; sb corralctl rm "$name" >/dev/null 2>&1
done

echo "== AccessDenied is for callers without rights"
sb corralctl create n1 --image busybox --net none -- sh -c 'exec sleep 1000' >/dev/null
check "start n1" sb corralctl start n1
exec_error() { sb "$probe" n1 "$@"; }
check_output "exec of a file that is not executable: Failed, naming the errno" \
  '^org\.corral1\.Error\.Failed .*(Permission denied|EACCES)' exec_error /etc/passwd
check_output "exec of a missing command is not AccessDenied either" '^org\.corral1\.Error\.(Failed|InvalidArgument) ' exec_error /no/such
check_fails "a non-root caller still gets AccessDenied (the bus policy's or corrald's)" 'AccessDenied' \
  sb setpriv --reuid=65534 --regid=65534 --clear-groups gdbus call --system --dest org.corral1 --object-path /org/corral1 \
  --method org.corral1.Manager.StopContainer n1

echo "== a key given twice"
check_fails "CreateContainer with Memory twice is InvalidArgument" 'org\.corral1\.Error\.InvalidArgument.*Memory is given twice' \
  sb gdbus call --system --timeout 5 --dest org.corral1 --object-path /org/corral1 --method org.corral1.Manager.CreateContainer \
  d1 busybox "[{'Memory', <uint64 100000000>}, {'Memory', <uint64 200000000>}]"
check_output "and created nothing" '^none$' sb sh -c 'corralctl ls | grep -q "^d1 " && echo present || echo none'
check_output "Exec with Cwd twice is InvalidArgument" '^org\.corral1\.Error\.InvalidArgument .*Cwd is given twice' \
  exec_error true dup
check_output "(control) the same Exec with Cwd once runs" '^exit 0$' exec_error true

echo "== cleanup"
sb sh -c 'corralctl stop n1; corralctl rm n1' >/dev/null 2>&1
check_output "nothing is left" '^0 0$' sb sh -c "echo \$(corralctl ls | awk 'NR>1' | wc -l) \$(systemctl list-units --no-legend 'corral-*.scope' | grep -c .)"
finish
