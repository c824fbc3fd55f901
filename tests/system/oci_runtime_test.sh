#!/usr/bin/env bash
# corral-oci on its own in a throwaway systemd (tools/sandbox/sandbox.sh), for what needs real
# cgroups and machined: linux.resources.devices enforced (a device node made inside with mknod
# and not on the allow-list cannot be opened, one in linux.devices can; `update` replaces the
# filter; a bundle without linux.cgroupsPath gets runc's default cgroup, cgroupfs and
# --systemd-cgroup, its devices and pids rules attacked from inside, its limits, pause, update
# and removal checked from outside), and registration with machined (--register, the
# corral.machined annotation) shown by machinectl and gone at delete. Probes only open device nodes (dd count=0), never write them.
# CORRAL_SANDBOX_LAYOUT=unified runs it on a pure cgroup v2 systemd. Prints "N passed, N failed" last.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/system/lib.sh

build_corral
work=$(mktemp -d /tmp/corral-ocirt-XXXXXX)
extra_cleanup="rm -rf $work"
busybox_tarball "$work"
echo "== booting a throwaway systemd with corral installed"
corral_sandbox "$work/sandbox" "$work"

# bundle NAME PYTHON: $work/NAME/config.json from `corral-oci spec`, edited by PYTHON (c is the config).
bundle() {
  mkdir -p "$work/$1"
  rm -f "$work/$1/config.json"
  "$bin/tools/corral-oci" spec --bundle "$work/$1"
  python3 - "$work/$1/config.json" "$work/rootfs" <<PY
import json, sys
path, rootfs = sys.argv[1], sys.argv[2]
c = json.load(open(path))
c["root"] = {"path": rootfs}
c["process"]["terminal"] = False
for s in ("bounding", "effective", "permitted"):
    c["process"]["capabilities"][s].append("CAP_MKNOD")
$2
json.dump(c, open(path, "w"))
PY
}
oci() { sb /usr/local/bin/corral-oci --root /run/ocitest "$@"; }

probe='dd if=/dev/loop-control of=/dev/null count=0 2>&1 && echo allowed-opened
mknod /dev/probe-tun c 10 200 && echo mknod-tun-ok
dd if=/dev/probe-tun of=/dev/null count=0 2>&1 && echo tun-opened
mknod /dev/probe-mem c 1 1 2>&1 || echo mknod-mem-refused
echo x > /dev/null && echo null-ok'

bundle devdeny "
c['linux']['cgroupsPath'] = '/corral-ocitest/devdeny'
c['linux']['resources']['devices'] = [{'allow': False, 'access': 'rwm'}, {'allow': True, 'type': 'c', 'major': 10, 'minor': 200, 'access': 'm'}]
c['linux']['devices'] = [{'path': '/dev/loop-control', 'type': 'c', 'major': 10, 'minor': 237, 'fileMode': 0o600}]
c['process']['args'] = ['sh', '-c', '''$probe''']"
out=$(oci run --bundle "$work/devdeny" devdeny 2>&1)
check_output "linux.devices: /dev/loop-control made inside (mknod) and openable" 'allowed-opened' echo "$out"
check_output "a node the rules allow mknod of (c 10:200 m, tun) can be made" 'mknod-tun-ok' echo "$out"
check_output "... but not opened: the device filter refuses it (EPERM, not nodev's EACCES)" \
  "can't open '/dev/probe-tun': Operation not permitted" echo "$out"
check_output "... so it was never opened" '^absent$' sh -c 'echo "$1" | grep -q tun-opened && echo present || echo absent' - "$out"
check_output "mknod of a device with no rule (c 1:1, mem) is refused" 'mknod-mem-refused' echo "$out"
check_output "the nodes every container has stay usable under 'deny all' (/dev/null)" 'null-ok' echo "$out"

bundle devall "
c['linux']['cgroupsPath'] = '/corral-ocitest/devall'
c['linux']['resources']['devices'] = [{'allow': True, 'access': 'rwm'}]
c['process']['args'] = ['sh', '-c', '''$probe''']"
check_output "control: with 'allow all' the same node opens (the filter is what refused it)" 'tun-opened' \
  oci run --bundle "$work/devall" devall

# update --resources replaces the filter of a running container.
bundle devupd "
c['linux']['cgroupsPath'] = '/corral-ocitest/devupd'
c['linux']['resources']['devices'] = [{'allow': True, 'access': 'rwm'}]
c['process']['args'] = ['sh', '-c', 'mknod /dev/probe-tun c 10 200; exec sleep 1000']"
echo '{"devices": [{"allow": false, "access": "rwm"}]}' > "$work/deny.json"
check_output "update --resources with device rules: a node that opened before no longer does" \
  "^before=0 after=1 " sb sh -c "c='/usr/local/bin/corral-oci --root /run/ocitest'
    \$c run -d --bundle $work/devupd devupd </dev/null >/dev/null 2>&1 || exit 1
    sleep 0.3
    \$c exec devupd dd if=/dev/probe-tun of=/dev/null count=0 >/dev/null 2>&1; b=\$?
    \$c update --resources $work/deny.json devupd || exit 1
    \$c exec devupd dd if=/dev/probe-tun of=/dev/null count=0 >/dev/null 2>&1; a=\$?
    \$c delete -f devupd; echo \"before=\$b after=\$a \""
check_output "the containers' cgroups are gone" '^none$' sb sh -c 'ls -d /sys/fs/cgroup/*/corral-ocitest/* /sys/fs/cgroup/corral-ocitest/* 2>/dev/null || echo none'

# Whether a container's cgroup can take memory and pids limits: a pure cgroup2 systemd on a
# hybrid host has no controllers in cgroup2 (the host binds them all to v1).
limits=yes
if [ "${CORRAL_SANDBOX_LAYOUT:-host}" = unified ] && ! sb sh -c 'grep -qw pids /sys/fs/cgroup/cgroup.controllers && grep -qw memory /sys/fs/cgroup/cgroup.controllers'; then
  limits=no
fi
echo "== memory and pids controllers for containers: $limits"

# No linux.cgroupsPath: the container gets runc's default cgroup all the same (a child named
# after its id of the caller's own cgroup; on pure cgroup2 of that cgroup's parent, which can
# hand controllers down), so its linux.resources are enforced: attacked from inside.
bundle defdev "
c['linux'].pop('cgroupsPath', None)
c['linux']['resources'] = {'devices': [{'allow': False, 'access': 'rwm'}, {'allow': True, 'type': 'c', 'major': 10, 'minor': 200, 'access': 'm'}]}
c['linux']['devices'] = [{'path': '/dev/loop-control', 'type': 'c', 'major': 10, 'minor': 237, 'fileMode': 0o600}]
c['process']['args'] = ['sh', '-c', '''$probe
echo probe-done''']"
out=$(oci run --bundle "$work/defdev" defdev 2>&1)
check_output "no cgroupsPath: the probe ran" 'probe-done' echo "$out"
check_output "no cgroupsPath: a denied node (tun, made inside) does not open: EPERM from the device filter" \
  "can't open '/dev/probe-tun': Operation not permitted" echo "$out"
check_output "no cgroupsPath: ... so it was never opened" '^absent$' sh -c 'echo "$1" | grep -q tun-opened && echo present || echo absent' - "$out"
check_output "no cgroupsPath: linux.devices' /dev/loop-control still opens" 'allowed-opened' echo "$out"
check_output "no cgroupsPath: the nodes every container has stay usable (/dev/null)" 'null-ok' echo "$out"
fork16='( i=0; while [ $i -lt 16 ]; do sleep 30 & i=$((i+1)); done; echo forked-all ) 2>&1; echo probe-done'
bundle defpids "
c['linux'].pop('cgroupsPath', None)
c['linux']['resources'] = {'pids': {'limit': 8}}
c['process']['args'] = ['sh', '-c', '''$fork16''']"
if [ "$limits" = yes ]; then
  out=$(oci run --bundle "$work/defpids" defpids 2>&1)
  check_output "no cgroupsPath: pids.limit 8 holds: the 16 forks inside do not all succeed" "can't fork" echo "$out"
  check_output "no cgroupsPath: ... so 'forked-all' was never printed" '^absent$' sh -c 'echo "$1" | grep -q forked-all && echo present || echo absent' - "$out"
else
  check_fails "no cgroupsPath, no pids controller: pids.limit refused by name, not ignored" \
    'linux.resources.pids.limit: no cgroup controller for it' oci run --bundle "$work/defpids" defpids
fi
bundle defall "
c['linux'].pop('cgroupsPath', None)
c['linux']['resources'] = {'devices': [{'allow': True, 'access': 'rwm'}]}
c['process']['args'] = ['sh', '-c', '''$probe
( i=0; while [ \$i -lt 16 ]; do sleep 0.2 & i=\$((i+1)); done; echo forked-all; wait ) 2>&1''']"
out=$(oci run --bundle "$work/defall" defall 2>&1)
check_output "control: no cgroupsPath, 'allow all', no pids limit: the same node opens" 'tun-opened' echo "$out"
check_output "control: ... and the 16 forks succeed" 'forked-all' echo "$out"

# Detached, from outside: where the default cgroup is, its limits, ps, pause, update, delete.
bundle defcg "
c['linux'].pop('cgroupsPath', None)
c['linux']['resources'] = {'pids': {'limit': 9}, 'memory': {'limit': 67108864}} if '$limits' == 'yes' else {}
c['process']['args'] = ['sleep', '1000']"
if [ "$limits" = yes ]; then
  echo '{"pids": {"limit": 5}}' > "$work/defcg-update.json"
else
  echo '{"devices": [{"allow": false, "access": "rwm"}]}' > "$work/defcg-update.json"
fi
cat > "$work/defcg.sh" <<'SCRIPT'
c="/usr/local/bin/corral-oci --root /run/ocitest"
$c run -d --bundle "$2" defcg </dev/null >/dev/null 2>&1 || { echo run-failed; exit 1; }
pid=$($c state defcg | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
own=$(sed -n 's/^0:://p' /proc/self/cgroup)
ct=$(sed -n 's/^0:://p' /proc/$pid/cgroup)
if [ "$1" = unified ]; then want="$(dirname "$own")/defcg"; else want="$own/defcg"; fi
[ "$ct" = "$want" ] && echo placement=ok || echo "placement=bad own=$own ct=$ct want=$want"
dirs=$(find /sys/fs/cgroup -type d -name defcg)
for d in $dirs; do
  [ -f "$d/pids.max" ] && echo "pids.max=$(cat "$d/pids.max")"
  [ -f "$d/memory.max" ] && echo "memory=$(cat "$d/memory.max")"
  [ -f "$d/memory.limit_in_bytes" ] && echo "memory=$(cat "$d/memory.limit_in_bytes")"
done
$c ps defcg | grep -qx "$pid" && echo ps=listed
$c pause defcg && $c state defcg | grep -q '"paused"' && echo paused=yes
$c resume defcg && $c state defcg | grep -q '"running"' && echo resumed=yes
$c update --resources "$3" defcg && echo update=ok && for d in $dirs; do [ -f "$d/pids.max" ] && echo "updated.pids.max=$(cat "$d/pids.max")"; done
$c delete -f defcg
echo "left=$(find /sys/fs/cgroup -type d -name defcg | tr '\n' ' ')end"
SCRIPT
out=$(sb sh "$work/defcg.sh" "${CORRAL_SANDBOX_LAYOUT:-host}" "$work/defcg" "$work/defcg-update.json" 2>&1)
check_output "no cgroupsPath: the default cgroup is where runc puts it (a child of our own cgroup; on pure cgroup2 of its parent)" '^placement=ok$' echo "$out"
if [ "$limits" = yes ]; then
  check_output "no cgroupsPath: the bundle's pids.limit is in its cgroup" '^pids.max=9$' echo "$out"
  check_output "no cgroupsPath: the bundle's memory.limit is in its cgroup" '^memory=67108864$' echo "$out"
fi
check_output "no cgroupsPath: ps lists the init from the cgroup" '^ps=listed$' echo "$out"
check_output "no cgroupsPath: pause freezes it (state paused)" '^paused=yes$' echo "$out"
check_output "no cgroupsPath: resume thaws it" '^resumed=yes$' echo "$out"
check_output "no cgroupsPath: update applies" '^update=ok$' echo "$out"
[ "$limits" = yes ] && check_output "no cgroupsPath: update writes the new pids limit" '^updated.pids.max=5$' echo "$out"
check_output "no cgroupsPath: delete removes the default cgroup" '^left=end$' echo "$out"

# A create that fails after its default cgroup was made (a unified key no cgroup has) leaves none.
bundle deffail "
c['linux'].pop('cgroupsPath', None)
c['linux']['resources'] = {'unified': {'corral.bogus': '1'}}
c['process']['args'] = ['sleep', '1000']"
check_fails "no cgroupsPath: a create refused by a resource write fails" 'corral.bogus' oci create --bundle "$work/deffail" deffail
check_output "... and leaves no cgroup and no state" '^none$' sb sh -c \
  'find /sys/fs/cgroup -type d -name deffail | grep . || /usr/local/bin/corral-oci --root /run/ocitest list -q | grep . || echo none'

# machined: the annotation with the systemd cgroup manager (the init in a scope of its own).
bundle mach "
c['linux']['cgroupsPath'] = 'machine.slice:corral-oci:mach1'
c['annotations'] = {'corral.machined': 'true'}
c['process']['args'] = ['sleep', '1000']"
check "create (--systemd-cgroup, corral.machined=true)" sb sh -c \
  "/usr/local/bin/corral-oci --root /run/ocitest --systemd-cgroup create --bundle $work/mach mach1 </dev/null >$work/mach.log 2>&1 || { cat $work/mach.log; exit 1; }"
check_output "machinectl list shows it, class container, service corral-oci" '^mach1 +container +corral-oci' \
  sb machinectl list --no-legend
check_output "machined has the scope as its unit and the init as leader" \
  '^Class=container Leader=[1-9][0-9]* Unit=corral-oci-mach1.scope $' \
  sb sh -c 'machinectl show mach1 -p Unit -p Leader -p Class | sort | tr "\n" " "'
check "start and delete -f" sb sh -c "/usr/local/bin/corral-oci --root /run/ocitest start mach1 && /usr/local/bin/corral-oci --root /run/ocitest delete -f mach1"
check_output "unregistered at delete" '^gone$' sb sh -c 'machinectl show mach1 >/dev/null 2>&1 && echo still-there || echo gone'

# --systemd-cgroup without a cgroupsPath: runc's default scope, system.slice:runc:ID
# (runc-ID.scope), with the bundle's limits and device filter in force inside.
bundle sdef "
c['linux'].pop('cgroupsPath', None)
c['linux']['resources'] = {'devices': [{'allow': False, 'access': 'rwm'}, {'allow': True, 'type': 'c', 'major': 10, 'minor': 200, 'access': 'm'}]}
if '$limits' == 'yes': c['linux']['resources']['pids'] = {'limit': 8}
c['process']['args'] = ['sh', '-c', '''$probe
( i=0; while [ \$i -lt 16 ]; do sleep 2 & i=\$((i+1)); done; echo forked-all; wait ) 2>&1; echo probe-done''']"
out=$(oci --systemd-cgroup run --bundle "$work/sdef" sdef 2>&1)
check_output "--systemd-cgroup, no cgroupsPath: a denied node (tun, made inside) does not open: EPERM" "can't open '/dev/probe-tun': Operation not permitted" echo "$out"
[ "$limits" = yes ] && check_output "... pids.limit 8 holds: the forks inside do not all succeed" "can't fork" echo "$out"
# Seen from outside (inside, its cgroup namespace shows "/"): the init in the scope runc-sdefd.scope.
bundle sdefd "
c['linux'].pop('cgroupsPath', None)
c['process']['args'] = ['sleep', '1000']"
check_output "--systemd-cgroup, no cgroupsPath: the init is in runc's default scope system.slice/runc-sdefd.scope" \
  '^/system.slice/runc-sdefd\.scope$' sb sh -c "c='/usr/local/bin/corral-oci --root /run/ocitest --systemd-cgroup'
    \$c run -d --bundle $work/sdefd sdefd </dev/null >/dev/null 2>&1 || exit 1
    pid=\$(\$c state sdefd | sed -n 's/.*\"pid\": *\\([0-9]*\\).*/\\1/p')
    sed -n 's/^0:://p' /proc/\$pid/cgroup
    \$c delete -f sdefd"
# The scope of `run -d` + delete goes. That of a non-detached `run` may stay "active running"
# after the run, on both layouts (seen in CI, not yet understood): a known leak, not checked here.
check_output "... and the scope of run -d is gone after delete" '^none$' sb sh -c \
  'for i in $(seq 50); do systemctl list-units --all --no-legend "runc-sdefd*" | grep -q . || { echo none; exit; }; sleep 0.1; done; systemctl list-units --all --no-legend "runc-sdefd*"'

# --register without a cgroupsPath: the default cgroup, a child of the caller's unit's cgroup on
# a hybrid host, so machined adopts that unit; on pure cgroup2 it is a sibling of the caller's
# unit (runc's place), which names no unit: machined refuses, the create fails, nothing stays.
bundle reg "c['process']['args'] = ['sleep', '1000']"
if [ "${CORRAL_SANDBOX_LAYOUT:-host}" != unified ]; then
  check_output "--register run -d: machinectl shows it with the caller's unit" '^Unit=ocitest-reg\.service$' \
    sb sh -c "systemd-run --quiet --unit ocitest-reg -p Type=forking /usr/local/bin/corral-oci --root /run/ocitest --register run -d --bundle $work/reg reg1 && sleep 0.3 && machinectl show reg1 -p Unit"
  check "delete -f reg1" oci delete -f reg1
  check_output "unregistered at delete" '^gone$' sb sh -c 'machinectl show reg1 >/dev/null 2>&1 && echo still-there || echo gone'
  sb systemctl stop ocitest-reg >/dev/null 2>&1
else
  check_fails "--register, no cgroupsPath, pure cgroup2: machined's refusal named" 'register machine reg1: RegisterMachine' \
    oci --register run -d --bundle "$work/reg" reg1
  check_output "... and nothing stays: no state, no machine, no cgroup" '^none$' sb sh -c \
    '/usr/local/bin/corral-oci --root /run/ocitest list -q | grep . || machinectl show reg1 2>/dev/null | grep . || find /sys/fs/cgroup -type d -name reg1 | grep . || echo none'
fi

# --register where machined cannot tell the unit (cgroupfs path): one clear error, nothing left.
bundle regfs "
c['linux']['cgroupsPath'] = '/corral-ocitest/regfs'
c['process']['args'] = ['sleep', '1000']"
if [ "${CORRAL_SANDBOX_LAYOUT:-host}" != unified ]; then
  check_fails "--register with a cgroupfs cgroupsPath on a hybrid host: machined's refusal named" 'register machine regfs1: RegisterMachine' \
    oci --register run -d --bundle "$work/regfs" regfs1
  check_output "... and nothing stays: no state, no machine, no cgroup" '^none$' sb sh -c \
    '/usr/local/bin/corral-oci --root /run/ocitest list -q | grep . || machinectl show regfs1 2>/dev/null | grep . || ls -d /sys/fs/cgroup/*/corral-ocitest/regfs* /sys/fs/cgroup/corral-ocitest/regfs* 2>/dev/null || echo none'
fi
check_output "nothing left in corral-oci list" '^$' oci list -q
finish
