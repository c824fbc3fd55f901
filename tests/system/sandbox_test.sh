#!/usr/bin/env bash
# The throwaway systemd itself (tools/sandbox/sandbox.sh): it boots, runs commands as units
# with their exit status, and leaves nothing on the host when stopped.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/system/lib.sh

sandbox=tools/sandbox/sandbox.sh
state=$(mktemp -d /tmp/corral-sandbox-test-XXXXXX)
trap '$sandbox stop "$state" >/dev/null 2>&1 || true' EXIT
mounts_before=$(wc -l < /proc/self/mountinfo)

check "the sandbox boots" $sandbox start "$state"
pid1=$(cat "$state/pid1" 2>/dev/null || echo 0)
check_output "systemd runs as its PID 1" '^(running|degraded)$' timeout 30 $sandbox run "$state" -- systemctl is-system-running
check_output "the system bus answers" 'org.freedesktop.systemd1' timeout 30 $sandbox run "$state" -- busctl list --no-pager
check_output "a command's output and exit status come through" '^hello 3 $' \
  sh -c "(timeout 30 $sandbox run '$state' -- sh -c 'echo hello; exit 3'; echo \$?) | tr '\n' ' '" 
check_output "commands run as units of the sandbox's systemd" '^0::/system.slice/run-' \
  timeout 30 $sandbox run "$state" -- grep '^0::' /proc/self/cgroup
check_output "machined activates" 'No machines|MACHINE' timeout 30 $sandbox run "$state" -- machinectl list
check_output "it has its own network namespace (only lo)" '^lo$' timeout 30 $sandbox run "$state" -- ls /sys/class/net
# Opened for writing and closed again, never written: a regression must fail this check, not
# change a sysctl (EROFS on the read-only bind).
check_output "the host's kernel sysctls are read-only in it, its own network's are not" '^ro rw$' \
  timeout 30 $sandbox run "$state" -- python3 -c '
import os
def mode(path):
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        return "rw"
    except OSError:
        return "ro"
print(mode("/proc/sys/kernel/hostname"), mode("/proc/sys/net/ipv4/ip_forward"))'
check_output "the host's PID 1 is not in it" '^1 systemd$' timeout 30 $sandbox run "$state" -- sh -c 'echo 1 $(cat /proc/1/comm)'

subtree=$(tr '\n' ' ' < "$state/cgroups" 2>/dev/null)
check "stop" $sandbox stop "$state"
check_output "its PID 1 is gone" '^gone$' sh -c "kill -0 $pid1 2>/dev/null && echo alive || echo gone"
check_output "no cgroup of it is left in any hierarchy" '^0$' sh -c "for d in $subtree; do [ -e \$d ] && echo \$d; done | grep -c ."
check_output "no mount of it is left on the host" "^$mounts_before\$" sh -c 'wc -l < /proc/self/mountinfo'
check_output "stop again is harmless" '^ok$' sh -c "$sandbox stop '$state' && echo ok"

finish
