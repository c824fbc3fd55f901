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
check_output "its systemd reaches running (or degraded)" '^(running|degraded)$' sb sh -c '
  for i in $(seq 100); do
    s=$(corralctl exec deb -- systemctl is-system-running 2>/dev/null)
    case $s in running|degraded) break ;; esac; sleep 0.2
  done
  echo "$s"; [ "$s" = degraded ] && corralctl exec deb -- systemctl --failed --no-legend >&2; true'
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
check_output "nothing is left: no scope, mount or cgroup" '^0 0 0$' sb sh -c '
  echo $(systemctl list-units --all --no-legend "corral-*.scope" | grep -c .) \
       $(grep -c /run/corral /proc/self/mountinfo) \
       $(find /sys/fs/cgroup -name "corral-*.scope" -type d | grep -c .)'

finish
