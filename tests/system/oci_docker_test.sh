#!/usr/bin/env bash
# corral-oci under Docker, in a throwaway systemd (tools/sandbox/sandbox.sh): Debian's docker.io
# with daemon.json `runtimes: {corral: {path: /usr/local/bin/corral-oci}}` runs, execs into, logs,
# stops and removes a busybox image loaded offline (`docker import` of a rootfs tarball), with
# --network none and with the default bridge (its netns is set up by docker's prestart hook).
# Skips (one "ok - skipped" line) when dockerd is not installed. Prints "N passed, N failed" last.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/system/lib.sh

if ! command -v dockerd >/dev/null || ! [ -x /usr/bin/docker ]; then
  ok "skipped: docker is not installed (apt-get install docker.io)"
  finish
  exit
fi
build_corral
work=$(mktemp -d /tmp/corral-dockertest-XXXXXX)
extra_cleanup="rm -rf $work"
busybox_tarball "$work"
echo "== booting a throwaway systemd with corral installed"
corral_sandbox "$work/sandbox" "$work"

# Docker's storage on a tmpfs (the sandbox root is an overlay), vfs driver; corral-oci as a
# runtime of its own name. Everything docker makes (bridge, iptables rules, sysctls) is in the
# sandbox's network namespace.
sb sh -c 'mkdir -p /var/lib/ctest /etc/docker && mount -t tmpfs ctest /var/lib/ctest &&
  echo "{\"runtimes\": {\"corral\": {\"path\": \"/usr/local/bin/corral-oci\"}}, \"storage-driver\": \"vfs\",
    \"data-root\": \"/var/lib/ctest/docker\", \"exec-root\": \"/run/ctest-docker\"}" > /etc/docker/daemon.json' >/dev/null
check "dockerd starts (systemctl start docker)" sb systemctl start docker
dk() { sb /usr/bin/docker "$@"; }
check_output "docker info lists the corral runtime" 'corral' dk info --format '{{json .Runtimes}}'
check "docker import of the busybox tarball" dk import "$work/busybox.tar" corral-busybox:latest
check_output "docker run --runtime corral --network none: output comes back" '^hello-from-corral-oci$' \
  dk run --rm --runtime corral --network none corral-busybox:latest echo hello-from-corral-oci
check_output "docker run: the exit status propagates" '^status=7$' \
  sb sh -c '/usr/bin/docker run --rm --runtime corral --network none corral-busybox:latest sh -c "exit 7"; echo status=$?'
check_output "docker run (default bridge): eth0 has docker's 172.17 address (prestart hook)" 'inet 172\.17\.' \
  dk run --rm --runtime corral corral-busybox:latest ip -4 addr show eth0
check "docker run -d" dk run -d --runtime corral --name c1 corral-busybox:latest sh -c 'echo started-c1; exec sleep 1000'
sleep 1
check_output "docker ps shows it running" 'c1 Up' dk ps --format '{{.Names}} {{.Status}}'
check_output "the bridge reaches it: ping from the sandbox to its address" '1 packets received|1 received' \
  sb sh -c '/bin/busybox ping -c1 -W2 "$(/usr/bin/docker inspect -f "{{.NetworkSettings.IPAddress}}" c1)"'
check_output "docker exec runs inside it" '^uid=0' dk exec c1 id
check_output "docker exec sees the container's processes only (pid namespace)" '^ *1 +[0-9a-z]* *sleep' dk exec c1 ps -o pid,user,args
check_output "docker logs has its output" 'started-c1' dk logs c1
check_output "the container's init is in docker's cgroup" '/docker/[0-9a-f]{64}' \
  sb sh -c 'cat /proc/$(/usr/bin/docker inspect -f "{{.State.Pid}}" c1)/cgroup'
check "docker pause" dk pause c1
check_output "docker ps shows it paused" 'Paused' dk ps --format '{{.Names}} {{.Status}}'
check "docker unpause" dk unpause c1
check_output "docker top (corral-oci ps) lists sleep" 'sleep' dk top c1
check "docker stop" dk stop -t 2 c1
check_output "docker ps -a shows it exited" 'Exited' dk ps -a --format '{{.Names}} {{.Status}}'
check "docker rm" dk rm c1
check_output "nothing left in docker ps -a" '^$' dk ps -aq
check_output "nothing left in corral-oci's state" '^$' sb sh -c 'ls /run/ctest-docker/runtime-corral/moby 2>/dev/null; ls /run/docker/runtime-corral/moby 2>/dev/null; true'
sb systemctl stop docker docker.socket >/dev/null 2>&1
finish
