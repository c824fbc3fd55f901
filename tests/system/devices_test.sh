#!/usr/bin/env bash
# Devices and the rootfs, end to end in a throwaway systemd (tools/sandbox/sandbox.sh): the
# scope of every corrald container has DevicePolicy=closed and the allow-list, the kernel
# enforces it (access letters, mknod), --device gives exactly its node, corral-run's own scope
# (--memory) gets the same policy, an image whose /proc is a symlink is refused, and bad device
# specs are refused with nothing created. Probes open and close (shell redirections, nothing
# written). Prints "N passed, N failed" last.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/system/lib.sh

build_corral
echo "== booting a throwaway systemd with corral installed"
corral_sandbox "$(mktemp -d /tmp/corral-devtest-XXXXXX)"

check "corralctl image build busybox" sb corralctl image build busybox
# /dev/fuse: harmless to open, not on the default list; tools/sandbox/sandbox.sh binds the host's.
dev=/dev/fuse
check "the sandbox has $dev" sb test -c "$dev"

echo "== the scope's device policy"
# The container's own processes probe at start (the results in /probe.out): a failed
# redirection ends a shell, hence the subshells.
probe="(exec 3<$dev) && echo read-ok; (exec 3<>$dev) && echo OPENED-FOR-WRITING; mknod /tmp/blk b 7 0 && echo MADE-BLOCK-NODE; exec sleep 1000"
# dev1 is privileged (root inside is the host's, so the node's 0600 mode does not stop it): only
# the scope's device allow-list stands between it and the node, which is what this part tests.
check "create dev1 (privileged) with --device $dev:r" sb corralctl create dev1 --image busybox --net none --privileged --device "$dev:r" -- \
  sh -c "($probe) >/probe.out 2>&1"
check_output "the config keeps the device" "^device=$dev:r\$" sb grep '^device=' /var/lib/corral/containers/dev1/config
check_output "the Devices property and corralctl info show it" "^Devices: +$dev:r\$" sb corralctl info dev1
check "start dev1" sb corralctl start dev1
check_output "corral-dev1.scope: DevicePolicy=closed" '^DevicePolicy=closed$' \
  sb systemctl show corral-dev1.scope -p DevicePolicy
check_output "corral-dev1.scope: DeviceAllow lists the default nodes, the ptys and $dev r" \
  "^/dev/console rwm,/dev/full rwm,$dev r,/dev/null rwm,/dev/ptmx rwm,/dev/random rwm,/dev/tty rwm,/dev/urandom rwm,/dev/zero rwm,char-pts rw,\$" \
  sb sh -c 'systemctl show corral-dev1.scope -p DeviceAllow | sed "s/^DeviceAllow=//" | LC_ALL=C sort | tr "\n" ","'
sleep 0.5
check_output "inside, $dev opens for reading (r given)" '^read-ok$' sb corralctl exec dev1 -- grep read-ok /probe.out
check_output "inside, $dev does not open for writing (the kernel's allow-list: EPERM)" "can.t (open|create) '?$dev'?: Operation not permitted" \
  sb corralctl exec dev1 -- cat /probe.out
check_output "inside, mknod of a block device is refused by the allow-list (EPERM)" "mknod: /tmp/blk: Operation not permitted" \
  sb corralctl exec dev1 -- cat /probe.out
check_output "none of the forbidden steps succeeded" '^0$' sb corralctl exec dev1 -- grep -c -e OPENED -e MADE /probe.out
check_output "a char node made in /dev does not open (nodev): /dev/mem's 1:1" 'Permission denied|Operation not permitted' \
  sb corralctl exec dev1 -- sh -c 'mknod /dev/m c 1 1; exec 3</dev/m && echo OPENED'
# An exec'd process is under the same allow-list: on a hybrid host the policy lives in the v1
# devices hierarchy, which exec joins with the leader.
check_output "an exec'd process cannot open $dev for writing either (EPERM)" 'Operation not permitted' \
  sb corralctl exec dev1 -- sh -c "(exec 3<>$dev) && echo OPENED-FOR-WRITING"
check_output "nor mknod a block device (EPERM)" 'Operation not permitted' \
  sb corralctl exec dev1 -- sh -c 'mknod /tmp/blk2 b 7 0 && echo MADE-BLOCK-NODE'
check_output "the container's own nodes work" '^ok$' sb corralctl exec dev1 -- sh -c 'exec 3</dev/null 4>/dev/null 5</dev/urandom && echo ok'
check_output "and exec -t gets its pty" '/dev/pts/[0-9]+' sb sh -c 'script -qec "corralctl exec -t dev1 -- tty" /dev/null'

check "create dev2 without --device" sb corralctl create dev2 --image busybox --net none -- sleep 1000
check "start dev2" sb corralctl start dev2
check_output "without --device there is no /dev/fuse" '^absent$' sb corralctl exec dev2 -- sh -c 'test -e /dev/fuse && echo present || echo absent'
check_output "and the scope does not allow it" '^DeviceAllow=.*char-pts rw$' sb systemctl show corral-dev2.scope -p DeviceAllow
sb sh -c 'corralctl stop dev1; corralctl stop dev2; corralctl rm dev1; corralctl rm dev2' >/dev/null

echo "== bad device specs change nothing"
mgr() { sb gdbus call --system --dest org.corral1 --object-path /org/corral1 --method "org.corral1.Manager.$1" "${@:2}"; }
check_fails "corralctl create --device without /dev/" 'under /dev/' sb corralctl create bad1 --image busybox --device fuse -- true
check_fails "corralctl create --device of a node the host lacks" 'No such file' sb corralctl create bad2 --image busybox --device /dev/nonexistent0 -- true
check_fails "corralctl create --device with bad access" 'may only hold r, w and m' sb corralctl create bad3 --image busybox --device /dev/null:rwx -- true
check_fails "D-Bus Devices of a directory" 'org.corral1.Error.InvalidArgument: Devices: .*not a character device' \
  mgr CreateContainer bad4 busybox "{'Devices': <['/dev/pts']>, 'Command': <['true']>}"
check_fails "D-Bus Devices with ..'" 'org.corral1.Error.InvalidArgument: Devices: ' \
  mgr CreateContainer bad5 busybox "{'Devices': <['/dev/../etc/passwd']>, 'Command': <['true']>}"
# A block node made for this check in the sandbox's own /dev (a tmpfs), never opened.
check "a block node in the sandbox's /dev" sb mknod /dev/corral-test-blk b 7 0
check_fails "corralctl create --device of a block device" '/dev/corral-test-blk on the host is a block device; only character devices' \
  sb corralctl create bad6 --image busybox --device /dev/corral-test-blk -- true
sb rm -f /dev/corral-test-blk
check_output "none of them was created" '^0$' sb sh -c 'ls /var/lib/corral/containers | grep -c "^bad"'

# Image trees for the checks below live on /var/lib/corral, the sandbox's tmpfs: an unprivileged
# container's rootfs is an idmapped mount, which the sandbox's overlay root (/tmp) cannot be.
evil=/var/lib/corral/test-evil
crun=/var/lib/corral/test-crun
echo "== an image whose /proc is a symlink"
check "make the image" sb sh -c "rm -rf $evil && mkdir $evil && cp -a /var/lib/corral/images/busybox/rootfs/. $evil/ &&
  rm -rf $evil/proc && ln -s run/p $evil/proc"
sb corralctl create evil --image $evil --net none -- sleep 1000 >/dev/null
check_fails "corrald refuses to start it, naming /proc" 'not a real directory \(a symlink or file\) at `proc`' sb corralctl start evil
check_output "and it stays stopped with no scope left" '^stopped 0$' sb sh -c '
  echo $(busctl get-property org.corral1 /org/corral1/container/evil org.corral1.Container State | cut -d\" -f2) \
       $(systemctl list-units --no-legend corral-evil.scope | grep -c .)'
sb corralctl rm evil >/dev/null

echo "== corral-run's own scope (--memory, a --device less than rwm)"
check "a rootfs for corral-run" sb sh -c "rm -rf $crun && mkdir $crun && cp -a /var/lib/corral/images/busybox/rootfs/. $crun/"
# Whether this sandbox's cgroups have a memory controller (a v1 hierarchy, or cgroup2's root
# offering it); a pure cgroup2 sandbox on this hybrid host has none.
if sb sh -c 'grep -q " - cgroup cgroup .*memory" /proc/self/mountinfo || grep -qw memory /sys/fs/cgroup/cgroup.controllers'; then
  check_output "corral-run --memory: $dev reads, does not open for writing (scope's allow-list)" \
    "^read-ok sh: can.t (open|create) '?$dev'?: Operation not permitted \$" \
    sb sh -c "corral-run --rootfs $crun --net none --privileged --memory 64M --device $dev:r -- sh -c '(exec 3<$dev) && echo read-ok; (exec 4<>$dev) && echo OPENED' 2>&1 | tr '\n' ' '"
else
  check_fails "corral-run --memory is refused where no memory controller would enforce it, naming it" \
    'cannot enforce --memory: this host.s cgroups have no memory controller \(cgroup2 at /sys/fs/cgroup offers "".*nothing was changed' \
    sb corral-run --rootfs $crun --net none --memory 64M -- sh -c 'echo RAN'
  check_fails "and so is --pids (no pids controller)" 'cannot enforce --pids: .*no pids controller' \
    sb corral-run --rootfs $crun --net none --pids 20 -- sh -c 'echo RAN'
  check "and no corral-run scope was left" test -z "$(sb systemctl list-units --no-legend 'corral-run-*' | grep .)"
fi
check_output "corral-run --device $dev:r alone runs in a scope that enforces r" \
  "^read-ok sh: can.t (open|create) '?$dev'?: Operation not permitted \$" \
  sb sh -c "corral-run --rootfs $crun --net none --privileged --device $dev:r -- sh -c '(exec 3<$dev) && echo read-ok; (exec 4<>$dev) && echo OPENED' 2>&1 | tr '\n' ' '"
check_output "corral-run in its scope (--device $dev:r): mknod of a block device refused (EPERM)" 'Operation not permitted' \
  sb corral-run --rootfs $crun --net none --privileged --device $dev:r -- sh -c 'mknod /tmp/blk b 7 0 && echo MADE'
check_output "unprivileged (the default), mknod of a block device is refused too (user namespace)" 'Operation not permitted' \
  sb corral-run --rootfs $crun --net none -- sh -c 'mknod /tmp/blk b 7 0 && echo MADE'
# Unprivileged, a --device node keeps its host owner and mode: one only host root may open
# (0600, as this VM's /dev/fuse) stays closed to root inside; one open to all (Debian's 0666) opens.
if [ "$(sb stat -c %a "$dev")" = 600 ]; then want='Permission denied'; else want='^OPENED$'; fi
check_output "unprivileged, --device $dev keeps the host node's mode ($(sb stat -c %a "$dev"))" "$want" \
  sb corral-run --rootfs $crun --net none --device $dev -- sh -c "(exec 3<>$dev) && echo OPENED"
sb rm -rf $evil $crun

echo "== nothing left"
check_output "no container or scope of corral left" '^0 0$' sb sh -c '
  echo $(busctl call org.corral1 /org/corral1 org.corral1.Manager ListContainers | cut -d" " -f2) \
       $(systemctl list-units --all --no-legend "corral-*.scope" | grep -c .)'

finish
