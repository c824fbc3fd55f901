#!/usr/bin/env bash
# A Debian image with systemd, built with `corralctl image build debian` (debootstrap from the
# host's Debian mirror), booted by corrald in the throwaway systemd: it reaches `running`, its
# systemd sees its own delegated cgroup tree, tmpfs /run and /tmp, container=corral, a console
# with a login prompt, machined knows its OS, and `corralctl stop` shuts it down cleanly.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/system/lib.sh

build_corral
work=$(mktemp -d /tmp/corral-boottest-XXXXXX)
extra_cleanup="rm -rf $work"
trap '$extra_cleanup' EXIT

echo "== the image (debootstrap, a minute or so)"
check_output "corralctl image build debian (systemd variant)" 'built image debian \(bookworm, systemd\)' \
  "$bin/tools/corralctl" --images-dir "$work/images" image build debian
rootfs=$work/images/debian/rootfs
check_output "corralctl images lists it with its size" '^debian +[0-9.]+M ' "$bin/tools/corralctl" --images-dir "$work/images" images
[ -x "$rootfs/lib/systemd/systemd" ] || { echo "no image, nothing more to test"; finish; exit 1; }

echo "== booting it under corrald"
corral_sandbox "$work/sandbox" "$work/images"
check "corralctl create deb --image DIR --boot" sb corralctl create deb --image "$rootfs" --boot
check "corralctl start deb" sb corralctl start deb
check_output "its systemd reaches running" '^running$' sb sh -c '
  for i in $(seq 100); do
    s=$(corralctl exec deb -- systemctl is-system-running 2>/dev/null)
    case $s in running|degraded) break ;; esac; sleep 0.2
  done
  echo "$s"; [ "$s" = degraded ] && corralctl exec deb -- systemctl --failed --no-legend >&2; true'
echo "== in its own user namespace (as systemd-nspawn -U)"
check_output "the leader (systemd) runs as the first uid of the container's range, seen from the host" '^[1-9][0-9]* [1-9][0-9]*$' sb sh -c '
  p=$(busctl get-property org.corral1 /org/corral1/container/deb org.corral1.Container Leader | cut -d" " -f2)
  r=$(corralctl info deb | awk "/^UIDRange:/ {print \$2}")
  [ "$(awk "/^Uid:/ {print \$2}" /proc/$p/status)" = "${r%-*}" ] && echo $(awk "/^Uid:/ {print \$2} /^Gid:/ {print \$2}" /proc/$p/status)'
check_output "it holds CAP_SYS_ADMIN only inside a user namespace that is not the host's" '^sysadmin=1 own$' sb sh -c '
  p=$(busctl get-property org.corral1 /org/corral1/container/deb org.corral1.Container Leader | cut -d" " -f2)
  c=$(awk "/^CapEff:/ {print \$2}" /proc/$p/status)
  [ "$(readlink /proc/$p/ns/user)" != "$(readlink /proc/self/ns/user)" ] && echo sysadmin=$(( 0x$c >> 21 & 1 )) own'
check_output "inside, root is root and maps to the range" '^0 +[1-9][0-9]* +65536$' \
  sb corralctl exec deb -- sh -c 'echo $(id -u) $(awk "{print \$2, \$3}" /proc/self/uid_map)'
# Issue 11's route from a service of the container's systemd (CAP_SYS_ADMIN): a mount namespace
# of its own and a fresh proc, where /proc/sys is not read-only. Privileged, that opens the
# host's core_pattern for writing; here root inside is not host root. Opened for appending and
# closed, never written.
check_output "a service with CAP_SYS_ADMIN cannot open the host's core_pattern through a fresh proc" '^mounted closed$' \
  sb corralctl exec deb -- systemd-run --quiet --wait --pipe sh -c 'unshare -m sh -c "mount -t proc proc /proc && m=mounted;
    (exec 3>>/proc/sys/kernel/core_pattern) 2>/dev/null && echo \$m writable || echo \$m closed"'
# cgroup v1 (this host is hybrid): an existing hierarchy may be mounted from a cgroup namespace
# (rooted at the container's own cgroup there, as LXC's unprivileged containers use it), but
# its files, the scope's limits among them, are the host root's. Privileged, pids.max opens.
v1_probe='unshare -m sh -c "mkdir -p /run/cg; mount -t cgroup -o pids cgroup /run/cg 2>/dev/null && m=mounted;
  for f in /run/cg/pids.max /run/cg/cgroup.procs /run/cg/release_agent; do
    [ -e \$f ] && (exec 3>>\$f) 2>/dev/null && echo \$m writable \$f; done; echo \$m done"'
check_output "a service's cgroup v1 mount leaves the scope's pids.max, cgroup.procs, release_agent closed" \
  '^(mounted )?done$' sb corralctl exec deb -- systemd-run --quiet --wait --pipe sh -c "$v1_probe"
# A fresh sysfs of a new network namespace: privileged, /sys/power/state opens; here the mount
# is refused (the container's own /sys is read-only) or the file stays closed.
sysfs_probe='unshare -m -n sh -c "mkdir -p /run/s; mount -t sysfs sysfs /run/s 2>/dev/null && m=mounted;
  (exec 3>>/run/s/power/state) 2>/dev/null && echo \$m writable || echo \$m closed"'
check_output "a fresh sysfs of a new network namespace leaves the host's /sys/power/state closed" '^(mounted )?closed$' \
  sb corralctl exec deb -- systemd-run --quiet --wait --pipe sh -c "$sysfs_probe"
check_output "its systemd said READY=1 on the notify socket (Ready property)" '^b true$' sb sh -c '
  for i in $(seq 50); do
    r=$(busctl get-property org.corral1 /org/corral1/container/deb org.corral1.Container Ready)
    [ "$r" = "b true" ] && break; sleep 0.2
  done; echo "$r"'
check_output "no unit failed" '^$' sb corralctl exec deb -- systemctl --failed --no-legend --plain
check_output "its systemd runs its own cgroup tree (PID 1 in /init.scope of a writable cgroup2)" '^0::/init.scope cgroup2fs rw' \
  sb corralctl exec deb -- sh -c 'echo $(grep ^0:: /proc/1/cgroup) $(stat -f -c %T /sys/fs/cgroup) $(findmnt -no OPTIONS /sys/fs/cgroup | cut -d, -f1)'
check_output "that tree is the scope's payload leaf on the host side" 'corral-deb.scope/payload/init.scope' \
  sb sh -c 'cat /proc/$(busctl get-property org.corral1 /org/corral1/container/deb org.corral1.Container Leader | cut -d" " -f2)/cgroup'
check_output "/run and /tmp are tmpfs" '^tmpfs tmpfs$' sb corralctl exec deb -- sh -c 'echo $(findmnt -no FSTYPE /run) $(findmnt -no FSTYPE /tmp)'
check_output "systemd saw container=corral" '^corral$' sb corralctl exec deb -- cat /run/systemd/container
check_output "its host name is the container's" '^deb$' sb corralctl exec deb -- hostname
check_output "the console shows the login prompt" 'deb login:' \
  sb sh -c '(sleep 0.5; printf "\r"; sleep 1; printf "\001q") | script -qec "corralctl console deb" /dev/null'
check_output "machinectl knows its OS" '^deb +container +corral +debian +12' sb machinectl list --no-legend
check "corralctl stop (SIGRTMIN+3, within the timeout)" sb corralctl stop deb --timeout 20
check_output "systemd shut down cleanly: stopped, and not killed" '^s "stopped" i [0-9]+$' \
  sb sh -c 'echo $(busctl get-property org.corral1 /org/corral1/container/deb org.corral1.Container State) $(busctl get-property org.corral1 /org/corral1/container/deb org.corral1.Container ExitStatus) | grep -v " i 137"'
check "corralctl rm deb" sb corralctl rm deb
# The control for the core_pattern check above: the same probe in a --privileged boot container
# (no user namespace: root inside is host root) does open it, so that check means something.
# Opened for appending and closed, never written.
sb corralctl create debp --image "$rootfs" --boot --privileged >/dev/null
check "a --privileged boot container of the same image starts" sb corralctl start debp
check_output "control: there the probe opens the host's core_pattern" '^mounted writable$' sb sh -c '
  for i in $(seq 100); do corralctl exec debp -- systemctl is-system-running 2>/dev/null | grep -Eq "running|degraded" && break; sleep 0.2; done
  corralctl exec debp -- systemd-run --quiet --wait --pipe sh -c "unshare -m sh -c \"mount -t proc proc /proc && m=mounted;
    (exec 3>>/proc/sys/kernel/core_pattern) 2>/dev/null && echo \\\$m writable || echo \\\$m closed\""'
check_output "control: there a fresh sysfs opens /sys/power/state" '^mounted writable$' \
  sb corralctl exec debp -- systemd-run --quiet --wait --pipe sh -c "$sysfs_probe"
check_output "control: there the cgroup v1 mount opens pids.max" 'mounted writable /run/cg/pids.max' \
  sb corralctl exec debp -- systemd-run --quiet --wait --pipe sh -c "$v1_probe"
check_output "corralctl info shows it privileged, without a range" 'Privileged: +true UIDRange: +none' \
  sb sh -c 'corralctl info debp | grep -E "^(Privileged|UIDRange):" | tr "\n" " "'
sb sh -c 'corralctl stop debp --timeout 20; corralctl rm debp' >/dev/null
check_output "nothing is left: no scope, mount or cgroup" '^0 0 0$' sb sh -c '
  echo $(systemctl list-units --all --no-legend "corral-*.scope" | grep -c .) \
       $(grep -c /run/corral /proc/self/mountinfo) \
       $(find /sys/fs/cgroup -name "corral-*.scope" -type d | grep -c .)'

finish
