#!/usr/bin/env bash
# corral end to end on a fresh machine: build, start the service (in a throwaway systemd when
# PID 1 is not systemd), create a busybox container with NAT networking, exec in it, and show
# it in `corralctl ls`, `systemctl` and `machinectl`; then corral-run, the daemon-less runner.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '\033[2m$ %s\033[0m\n' "$*"; }

step "installing dependencies (Debian packages)"
tools/deps.sh

step "building corral (Bazel, offline)"
bazel build -c opt //dbus:corrald //tools:corralctl //tools:corral-run //tools:corral-oci 2>&1 | tail -1
bin=$(readlink -f bazel-bin)

# `sb CMD...` runs CMD where corrald runs: on this host when it boots with systemd, else inside
# a throwaway systemd of its own (tools/sandbox/sandbox.sh), which goes away at the end.
if [ -d /run/systemd/system ] && [ "$(cat /proc/1/comm)" = systemd ]; then
  sb() { show "$*"; "$@"; }
  step "installing corral (systemd is PID 1 here)"
  CORRAL_BIN_DIR=$bin tools/install.sh
else
  state=$(mktemp -d /tmp/corral-demo-XXXXXX)
  trap 'step "tearing the throwaway systemd down"; tools/sandbox/sandbox.sh stop "$state"' EXIT
  step "PID 1 is $(cat /proc/1/comm), not systemd: a throwaway systemd for the demo, corral installed in it"
  . tools/sandbox/corral_sandbox.sh
  corral_sandbox_up "$state" "$bin"
  sb() { show "$*"; tools/sandbox/sandbox.sh run "$state" -- "$@"; }
fi

step "the busybox image"
sb corralctl image build busybox
sb corralctl images

step "a container on the NAT'd bridge, port 8080 forwarded to its port 80"
sb corralctl create web --image busybox -p 8080:80 --memory 64M
sb corralctl start web
sb corralctl ls
sb corralctl info web

step "exec in it: its own hostname, PID namespace, eth0 with a leased address, the route out"
sb corralctl exec web -- sh -c 'echo "hostname: $(hostname)"; echo "processes:"; ps; ip -4 addr show eth0; ip route; cat /etc/resolv.conf'
sb corralctl exec web -- ping -c 1 -W 1 10.77.0.1
echo "exit status comes through:"
sb sh -c 'corralctl exec web -- sh -c "exit 7"; echo "corralctl exec exited $?"'

step "systemd sees it: a delegated scope in machine.slice, registered with machined"
sb systemctl status --no-pager --lines=0 corral-web.scope
sb systemctl show corral-web.scope -p Delegate -p Slice -p MemoryMax
sb machinectl list
sb busctl call org.corral1 /org/corral1 org.corral1.Manager ListContainers

step "the port forward: the host's 8080 reaches the container's 80"
sb sh -c 'corralctl exec web -- sh -c "echo hello from web | nc -l -p 80 -w 5" & sleep 0.5; busybox nc -w 2 10.77.0.1 8080 </dev/null; wait'

step "stop and remove"
sb corralctl stop web
sb corralctl rm web
sb corralctl ls

step "corral-run: one container in the foreground, no daemon (like lxc-execute)"
# The image store is root's alone (0700); an unprivileged container's root resolves its rootfs
# from the host's side, so corral-run gets a copy in a directory others may pass through.
rootfs=/var/lib/corral/demo-rootfs
sb sh -c "rm -rf $rootfs && cp -a /var/lib/corral/images/busybox/rootfs $rootfs"
sb corral-run --rootfs "$rootfs" --net none --name demo --hostname demo-box -- /bin/sh -c '
  echo "hostname: $(hostname); its processes (the shell is PID 1):"; ps
  echo "root inside is an unprivileged host uid (uid_map: $(cat /proc/self/uid_map | tr -s " "))"
  grep -E "^(CapBnd|NoNewPrivs|Seccomp):" /proc/self/status
  echo "network: $(ls /sys/class/net | tr "\n" " ")(loopback only with --net none)"'
sb sh -c "corral-run --rootfs $rootfs --net none -- sh -c 'exit 7'; echo \"exit status: \$?\""
sb corral-run --rootfs "$rootfs" --net none --print-phases -- /bin/true
sb rm -rf "$rootfs"

echo
echo "demo done"
