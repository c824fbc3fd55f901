#!/usr/bin/env bash
# corral end to end, as far as it goes today: build, make the busybox image, run containers
# with corral-run and show what is isolated. Grows with the D-Bus service (issue 4).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "installing dependencies (Debian packages)"
tools/deps.sh

step "building corral (Bazel, offline)"
bazel build -c opt //tools:corral-run //tools:corralctl 2>&1 | tail -1
run=bazel-bin/tools/corral-run
ctl=bazel-bin/tools/corralctl

step "corralctl image build busybox"
$ctl image build busybox
$ctl images
rootfs=/var/lib/corral/images/busybox/rootfs

step "a container: PID 1, its own hostname, namespaces, capabilities, seccomp"
$run --rootfs "$rootfs" --net none --name demo --hostname demo-box -- /bin/sh -c '
  echo "pid inside:     $$"
  echo "hostname:       $(hostname)"
  grep -E "^(CapBnd|NoNewPrivs|Seccomp):" /proc/self/status | sed "s/^/status        /"
  for ns in pid mnt uts ipc net cgroup; do printf "ns %-6s inside %s\n" $ns "$(readlink /proc/self/ns/$ns)"; done
  echo "root holds:     $(ls / | tr "\n" " ")"
  echo "network:        $(ls /sys/class/net | tr "\n" " ")(loopback only with --net none)"
  echo "/proc/keys:     $(wc -c < /proc/keys) bytes (masked)"
  echo "/proc/sys:      $(grep " /proc/sys " /proc/self/mountinfo | grep -o "ro,[a-z,]*" | head -1)"'
for ns in pid mnt uts ipc net cgroup; do printf "ns %-6s host   %s\n" $ns "$(readlink /proc/self/ns/$ns)"; done

step "exit statuses come through: exit 7, a missing command (127), a killed command (137)"
set +e
$run --rootfs "$rootfs" --net none -- sh -c 'exit 7'; echo "exit status: $?"
$run --rootfs "$rootfs" --net none -- no-such-command; echo "exit status: $?"
$run --rootfs "$rootfs" --net none --init -- sh -c 'kill -9 $$'; echo "exit status: $?"
set -e

step "bad input is one clear line and changes nothing"
$run --net none --rootfs /nonexistent -- true || true
$run --rootfs "$rootfs" --net none --hostname 'bad_name!' -- true || true

step "per-phase start timings of one container"
$run --rootfs "$rootfs" --net none --print-phases -- /bin/true

echo
echo "demo done: nothing is left running or mounted (grep corral /proc/self/mountinfo: $(grep -c corral /proc/self/mountinfo || true) lines)"
