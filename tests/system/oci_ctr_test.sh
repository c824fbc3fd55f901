#!/usr/bin/env bash
# corral-oci under containerd, in a throwaway systemd (tools/sandbox/sandbox.sh): Debian's
# containerd and its runc v2 shim with `ctr run --runc-binary /usr/local/bin/corral-oci` run,
# exec into, pause, kill and remove a busybox image made offline (a docker-archive written by
# `podman save` from a rootfs tarball, then `ctr image import`). Skips (one "ok - skipped" line)
# without containerd or podman. Prints "N passed, N failed" last.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/system/lib.sh

if ! command -v ctr >/dev/null || ! command -v containerd >/dev/null || ! command -v podman >/dev/null; then
  ok "skipped: containerd or podman is not installed (apt-get install containerd podman)"
  finish
  exit
fi
build_corral
work=$(mktemp -d /tmp/corral-ctrtest-XXXXXX)
extra_cleanup="rm -rf $work"
busybox_tarball "$work"
echo "== booting a throwaway systemd with corral installed"
corral_sandbox "$work/sandbox" "$work"

# Storage on tmpfs (the sandbox root is an overlay): podman's for the image conversion,
# containerd's with the native snapshotter.
sb sh -c 'mkdir -p /var/lib/ctest /run/ctest /var/lib/containerd && mount -t tmpfs ctest /var/lib/ctest && mount -t tmpfs ctd /var/lib/containerd' >/dev/null
pm() { sb podman --root /var/lib/ctest/storage --runroot /run/ctest --storage-driver vfs --events-backend file "$@"; }
check "podman import + save as a docker-archive" sh -c "$(declare -f sb); sandbox_state=$sandbox_state; \
  sb podman --root /var/lib/ctest/storage --runroot /run/ctest --storage-driver vfs --events-backend file import $work/busybox.tar localhost/corral-busybox:latest && \
  sb podman --root /var/lib/ctest/storage --runroot /run/ctest --storage-driver vfs --events-backend file save --format docker-archive -o $work/bb-docker.tar localhost/corral-busybox:latest"
check "containerd starts" sb systemctl start containerd
check "ctr image import" sb ctr image import --snapshotter native "$work/bb-docker.tar"
cr() { sb ctr run --snapshotter native --runc-binary /usr/local/bin/corral-oci "$@"; }
check_output "ctr run --rm: output comes back" '^hello-from-ctr$' cr --rm localhost/corral-busybox:latest t1 echo hello-from-ctr
check_output "ctr run: the exit status propagates" '^status=3$' \
  sb sh -c 'ctr run --rm --snapshotter native --runc-binary /usr/local/bin/corral-oci localhost/corral-busybox:latest t3 sh -c "exit 3"; echo status=$?'
check "ctr run -d" cr -d localhost/corral-busybox:latest t2 sleep 1000
check_output "ctr task ls: RUNNING" '^t2 +[0-9]+ +RUNNING' sb ctr task ls
check_output "ctr task exec runs in the container (its PID 1 is sleep)" 'pid1=sleep1000' \
  sb ctr task exec --exec-id e1 t2 sh -c 'echo pid1=$(cat /proc/1/cmdline)'
check "ctr task pause" sb ctr task pause t2
check_output "ctr task ls: PAUSED" '^t2 +[0-9]+ +PAUSED' sb ctr task ls
check "ctr task resume" sb ctr task resume t2
check "ctr task kill -s KILL" sb ctr task kill -s KILL t2
sleep 1
check_output "ctr task ls: STOPPED" '^t2 +[0-9]+ +STOPPED' sb ctr task ls
check "ctr task rm" sb ctr task rm t2
check "ctr container rm" sb ctr container rm t2
check_output "no corral-oci state left" '^0$' sb sh -c 'find /run/containerd/runc -name state.json 2>/dev/null | wc -l'
sb systemctl stop containerd >/dev/null 2>&1
finish
