#!/usr/bin/env bash
# corral-oci under a real client, in a throwaway systemd (tools/sandbox/sandbox.sh): Debian's
# podman with --runtime /usr/local/bin/corral-oci runs, execs into, logs, stops and removes a
# busybox image made offline (`podman import` of a rootfs tarball), with --network none.
# Skips (one "ok - skipped" line) when podman is not installed. Prints "N passed, N failed" last.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/system/lib.sh

if ! command -v podman >/dev/null; then
  ok "skipped: podman is not installed (apt-get install podman)"
  finish
  exit
fi
build_corral
work=$(mktemp -d /tmp/corral-ocitest-XXXXXX)
extra_cleanup="rm -rf $work"
busybox_tarball "$work"
echo "== booting a throwaway systemd with corral installed"
corral_sandbox "$work/sandbox" "$work"

# podman's storage on a tmpfs (the sandbox root is an overlay), vfs driver, cgroupfs.
sb sh -c 'mkdir -p /var/lib/ctest /run/ctest && mount -t tmpfs ctest /var/lib/ctest' >/dev/null
pm() {
  sb podman --root /var/lib/ctest/storage --runroot /run/ctest --storage-driver vfs --cgroup-manager cgroupfs \
    --events-backend file --runtime /usr/local/bin/corral-oci "$@"
}
check_output "corral-oci --version inside the sandbox" '^corral-oci version ' sb /usr/local/bin/corral-oci --version
check "podman import of the busybox tarball" pm import "$work/busybox.tar" localhost/corral-busybox:latest
check_output "podman run --rm --network none: output comes back" '^hello-from-corral-oci$' \
  pm run --rm --network none localhost/corral-busybox:latest echo hello-from-corral-oci
check_output "podman run: the exit status propagates" '^status=7$' \
  sb sh -c "podman --root /var/lib/ctest/storage --runroot /run/ctest --storage-driver vfs --cgroup-manager cgroupfs --events-backend file --runtime /usr/local/bin/corral-oci run --rm --network none localhost/corral-busybox:latest sh -c 'exit 7'; echo status=\$?"
# In a unit of its own that may stay behind: conmon lives on in the cgroup of whatever ran
# podman (cgroupfs manager), and `sb` waits for its unit to empty.
check "podman run -d (a long-running container)" sb systemd-run --quiet -p Type=oneshot -p RemainAfterExit=yes \
  --unit corral-oci-podman-c1 podman --root /var/lib/ctest/storage --runroot /run/ctest --storage-driver vfs \
  --cgroup-manager cgroupfs --events-backend file --runtime /usr/local/bin/corral-oci \
  run -d --name c1 --network none localhost/corral-busybox:latest sh -c 'echo started-c1; exec sleep 1000'
sleep 1
check_output "podman ps shows it running" 'c1' pm ps --format '{{.Names}} {{.Status}}'
check_output "podman exec runs inside it" '^uid=0' pm exec c1 id
check_output "podman exec sees the container's processes only (pid namespace)" '^ *1 +sleep' pm exec c1 sh -c 'ps -o pid,args | grep -v PID | head -1'
check_output "podman logs has its output" 'started-c1' pm logs c1
check_output "corral-oci state (podman's --root) says running" '"status": "running"' sb sh -c \
  'd=$(dirname "$(find /run -path "*corral-oci*" -name state.json | head -1)"); /usr/local/bin/corral-oci --root "$(dirname "$d")" state "$(basename "$d")"'
check_output "the container's init is in libpod's cgroup (cgroupsPath), unified and v1 memory" \
  'libpod_parent/libpod-[0-9a-f]+ memory:/libpod_parent/libpod-[0-9a-f]+' \
  sb sh -c 'pid=$(podman --root /var/lib/ctest/storage --runroot /run/ctest --storage-driver vfs inspect -f "{{.State.Pid}}" c1); grep -E "^0::|memory" /proc/$pid/cgroup | sort | tr "\n" " " | sed "s/^[0-9]*://; s/ [0-9]*:/ /"'
check "podman run -d --memory 64m --pids-limit 50" sb systemd-run --quiet -p Type=oneshot -p RemainAfterExit=yes \
  --unit corral-oci-podman-m1 podman --root /var/lib/ctest/storage --runroot /run/ctest --storage-driver vfs \
  --cgroup-manager cgroupfs --events-backend file --runtime /usr/local/bin/corral-oci \
  run -d --name m1 --memory 64m --pids-limit 50 --network none localhost/corral-busybox:latest sleep 1000
check_output "its cgroup has the limits (memory 64 MiB, 50 pids; cgroup2 or the hybrid host's v1)" '^67108864 50$' \
  sb sh -c 'pid=$(podman --root /var/lib/ctest/storage --runroot /run/ctest --storage-driver vfs inspect -f "{{.State.Pid}}" m1)
    m=$(grep -E "^[0-9]+:memory:" /proc/$pid/cgroup | cut -d: -f3); p=$(grep -E "^[0-9]+:pids:" /proc/$pid/cgroup | cut -d: -f3)
    u=$(grep "^0::" /proc/$pid/cgroup | cut -d: -f3)
    mem=$(cat /sys/fs/cgroup/memory$m/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup$u/memory.max)
    pids=$(cat /sys/fs/cgroup/pids$p/pids.max 2>/dev/null || cat /sys/fs/cgroup$u/pids.max); echo "$mem $pids"'
check "podman rm -f m1" pm rm -f -t 0 m1
sb systemctl stop corral-oci-podman-m1 >/dev/null 2>&1
# podman's default cgroup manager: --systemd-cgroup, cgroupsPath machine.slice:libpod:ID, a
# real transient scope of the sandbox's systemd.
pms() {
  sb podman --root /var/lib/ctest/storage --runroot /run/ctest --storage-driver vfs \
    --events-backend file --runtime /usr/local/bin/corral-oci "$@"
}
check_output "podman (systemd cgroup manager) run --rm: the init is in machine.slice/libpod-ID.scope" \
  '^0::/machine.slice/libpod-[0-9a-f]+\.scope$' pms run --rm --network none localhost/corral-busybox:latest grep '^0::' /proc/self/cgroup
check "podman (systemd cgroup manager) run -d --memory 64m" sb systemd-run --quiet -p Type=oneshot -p RemainAfterExit=yes \
  --unit corral-oci-podman-s1 podman --root /var/lib/ctest/storage --runroot /run/ctest --storage-driver vfs \
  --events-backend file --runtime /usr/local/bin/corral-oci run -d --name s1 --memory 64m --network none \
  localhost/corral-busybox:latest sleep 1000
check_output "systemd has its scope, active, with MemoryMax=64M" '^ActiveState=active MemoryMax=67108864 ' \
  sb sh -c 'id=$(podman --root /var/lib/ctest/storage --runroot /run/ctest --storage-driver vfs ps -q --no-trunc --filter name=s1)
    systemctl show -p ActiveState -p MemoryMax "libpod-$id.scope" | sort | tr "\n" " "'
check "podman rm -f s1" pms rm -f -t 0 s1
check_output "the scope is gone with it" '^0$' sb sh -c 'systemctl list-units --no-legend "libpod-*.scope" | grep -c active'
sb systemctl stop corral-oci-podman-s1 >/dev/null 2>&1
check "podman pause" pm pause c1
check_output "podman ps shows it paused" 'Paused' pm ps -a --format '{{.Names}} {{.Status}}'
check "podman unpause" pm unpause c1
check_output "podman top (corral-oci ps) lists sleep" 'sleep' pm top c1
check "podman stop" pm stop -t 2 c1
check_output "podman ps -a shows it exited" 'Exited' pm ps -a --format '{{.Names}} {{.Status}}'
check "podman rm" pm rm c1
sb systemctl stop corral-oci-podman-c1 >/dev/null 2>&1
check_output "nothing left in podman ps -a" '^$' pm ps -aq
finish
