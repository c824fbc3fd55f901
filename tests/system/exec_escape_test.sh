#!/usr/bin/env bash
# `corralctl exec` attacked from inside a container, against corrald in a throwaway systemd
# (tools/sandbox/sandbox.sh): the command gets corralctl's pipes and ptys, never the caller's
# files or terminal; -t's pty comes from the container's devpts whatever its /dev/ptmx points
# to; and an exec held back by a write lease on its binary neither stalls corrald nor shows
# anything of it through /proc. Prints "N passed, N failed" last.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/system/lib.sh

build_corral //tests:attach_probe
probe=$bin/tests/attach_probe
echo "== booting a throwaway systemd with corral installed"
corral_sandbox "$(mktemp -d /tmp/corral-exectest-XXXXXX)"

check "corralctl image build busybox" sb corralctl image build busybox
check "create and start web" sb sh -c 'corralctl create web --image busybox --net none -- sh -c "exec sleep 1000" >/dev/null && corralctl start web'
# The probe (static) into the container through exec's stdin, and a copy only the held-back
# exec runs (a binary in use cannot take a write lease).
check "copy the probe into web" sb sh -c "corralctl exec web -- sh -c 'cat > /bin/attach_probe && chmod 755 /bin/attach_probe && cp /bin/attach_probe /bin/lease-target' < $probe"

echo "== stdio: corralctl's pipes, never the caller's files"
check_output "stdin is a pipe, not the caller's file" '^pipe:' sb sh -c 'corralctl exec web -- readlink /proc/self/fd/0 < /etc/hostname'
check_output "stdout is a pipe, not the caller's file" '^pipe:' \
  sb sh -c 'f=$(mktemp); corralctl exec web -- readlink /proc/self/fd/1 > "$f"; cat "$f"; rm -f "$f"'
check_output "the command holds fds 0-2 only" '^fds 0 1 2$' sb corralctl exec web -- attach_probe fds
check_output "stdin's EOF and the exit status pass through" '^ *3 status=5 $' \
  sb sh -c '(printf "a\nb\nc\n" | corralctl exec web -- sh -c "wc -l; exit 5"; echo "status=$?") | tr "\n" " "'
check_output "a large output arrives whole" '^1048576$' sb sh -c 'corralctl exec web -- head -c 1048576 /dev/zero | wc -c'
check_output "the command is in the container's payload cgroup" '^0::/$' sb corralctl exec web -- cat /proc/self/cgroup

# A process the command leaves behind keeps writing to the pipe (and the reader is slow, as a
# terminal is): corralctl must still see the command's end and return, not relay forever.
check_output "a descendant flooding stdout does not hold corralctl after the command's exit" '^status=0$' \
  sb bash -c 'timeout 20 corralctl exec web -- sh -c "yes flood & exit 0" | { sleep 1; while read -r l; do :; done; }; echo "status=${PIPESTATUS[0]}"'
echo "== terminals"
# In script's pty: our terminal, then the command's. A new pty, not ours (TIOCSTI or reading
# later would reach the caller's shell).
# (A NUL byte, or its echo `^@` when the terminal is back in cooked mode, sometimes comes
# before the command's line: script(1) writing an EOF character into the pty when its own
# stdin ends, racing the commands. Dropped with the carriage returns, as it does not change
# which pty the line names.)
ttys=$(sb script -qec "$probe ttyid; corralctl exec web -- attach_probe ttyid" /dev/null | tr -d '\r\000' | sed 's/^\^@//')
caller_tty=$(echo "$ttys" | sed -n 1p)
command_tty=$(echo "$ttys" | sed -n 2p)
if [[ "$caller_tty" == tty\ * && "$command_tty" == tty\ * && "$caller_tty" != "$command_tty" ]]; then
  ok "with a terminal stdin the command gets a pty of its own ($command_tty, the caller is on $caller_tty)"
else
  not_ok "with a terminal stdin the command gets a pty of its own"
  echo "$ttys" | sed 's/^/    /'
fi
check_output "with a terminal: the exit status passes through" 'status=6' \
  sb sh -c 'script -qec "corralctl exec web -- sh -c \"exit 6\"" /dev/null; echo status=$?'
check_output "-t: a pty of the container's own devpts" '^/dev/pts/[0-9]+' sb sh -c 'script -qec "corralctl exec -t web -- tty" /dev/null'
check "the container points its /dev/ptmx at a host path" sb corralctl exec web -- sh -c 'rm -f /dev/ptmx && ln -s /etc/hostname /dev/ptmx'
check_output "-t is unaffected: nothing follows the container's /dev/ptmx from the host" '^/dev/pts/[0-9]+' \
  sb sh -c 'script -qec "corralctl exec -t web -- tty" /dev/null'
check "restore /dev/ptmx" sb corralctl exec web -- ln -sf pts/ptmx /dev/ptmx

echo "== an exec held back by a write lease on its binary"
held=$(sb sh -c '
  f=$(mktemp)
  corralctl exec web -- attach_probe lease /bin/lease-target 2000 > "$f" &
  for i in $(seq 100); do grep -q leased "$f" && break; sleep 0.05; done
  corralctl exec web -- /bin/lease-target fds > "$f.held" &
  sleep 0.4
  start=$(date +%s%N)
  corralctl ls > /dev/null && echo "ls answered in $(( ($(date +%s%N) - start) / 1000000 )) ms"
  corralctl exec web -- attach_probe scan | grep -E " (corrald|corral-superv) " | sed "s/^/held-back: /"
  wait
  echo "held exec: $(cat "$f.held")"
  rm -f "$f" "$f.held"' 2>&1)
check_output "corrald answers ListContainers meanwhile" '^ls answered in [0-9]{1,3} ms$' echo "$held"
# Before its execve the process is a fork of the supervisor (which starts execs: dbus/supervisor/exec.h)
# or, for a container corrald adopted after a restart, of corrald.
check_output "the held-back process is visible in the container" '^held-back: [0-9]+ (corrald|corral-superv) ' echo "$held"
check_output "its fds, root and cwd are not reachable from the container" \
  '^held-back: [0-9]+ (corrald|corral-superv) fd=E[A-Z]+ root=E[A-Z]+ cwd=E[A-Z]+$' echo "$held"
check_output "once the lease is gone the exec runs, with fds 0-2 only" '^held exec: fds 0 1 2$' echo "$held"

echo "== an exec into a frozen payload cgroup"
# A container that may write its own cgroup.freeze (a boot container is real root with a
# writable cgroup2 until it has a user namespace) freezes its payload cgroup: a process born
# there stops before its first instruction, with whatever fds it was born with, for as long as
# the container likes; with CAP_SYS_PTRACE (boot) it then opens /proc/PID/fd/N. None of them
# may be a directory of the host (the payload cgroup's, whose ".." leads to the host's /: runc
# CVE-2024-21626). Here the test freezes it from outside, as the container would from inside.
leader=$(sb busctl get-property org.corral1 /org/corral1/container/web org.corral1.Container Leader | awk '{print $2}')
payload=$(sb sh -c 'c=$(sed -n "s/^0:://p" /proc/'"$leader"'/cgroup); for r in /sys/fs/cgroup/unified /sys/fs/cgroup; do
  [ -e "$r$c/cgroup.freeze" ] && { echo "$r$c"; break; }; done')
if [ -n "$payload" ]; then
  frozen=$(sb sh -c "
    echo 1 > $payload/cgroup.freeze
    corralctl exec web -- /bin/true & sleep 1
    for p in \$(cat $payload/cgroup.procs); do
      # Only what the container can see: processes of its PID namespace.
      [ \"\$(readlink /proc/\$p/ns/pid)\" = \"\$(readlink /proc/$leader/ns/pid)\" ] || { echo \"pid \$p: not in the container's PID namespace\"; continue; }
      # The command, born frozen before its execve: still a fork of the supervisor (or corrald).
      case \$(cat /proc/\$p/comm) in corral-superv|corrald) echo \"pid \$p: caught before its execve\" ;; esac
      for f in /proc/\$p/fd/*; do [ -d \"\$f\" ] && echo \"pid \$p holds directory \$(readlink \$f)\"; done
    done
    echo 0 > $payload/cgroup.freeze; wait; echo exec=\$?" 2>&1)
  check_output "the exec was caught by the freeze" 'not in the container|caught before|holds directory' echo "$frozen"
  if echo "$frozen" | grep -q 'holds directory'; then
    not_ok "no process of the container's PID namespace in the frozen payload holds a directory"
    echo "$frozen" | sed 's/^/    /'
  else
    ok "no process of the container's PID namespace in the frozen payload holds a directory"
  fi
  check_output "once thawed, the exec goes on" '^exec=0$' echo "$frozen"
else
  echo "skip - no cgroup.freeze for the payload cgroup here"
fi

echo "== cgroup v1"
# Only meaningful where the leader sits in other v1 cgroups than corrald (a hybrid systemd, as the
# sandbox is on this host: its scopes get v1 memory and pids cgroups); skipped elsewhere.
leader=$(sb busctl get-property org.corral1 /org/corral1/container/web org.corral1.Container Leader | awk '{print $2}')
v1_leader=$(sb grep -E '^[0-9]+:[^:]*(memory|pids)[^:]*:' "/proc/$leader/cgroup")
corrald=$(sb systemctl show -p MainPID --value corrald.service)
v1_ours=$(sb grep -E '^[0-9]+:[^:]*(memory|pids)[^:]*:' "/proc/$corrald/cgroup")
if [ -n "$v1_leader" ] && [ "$v1_leader" != "$v1_ours" ]; then
  echo "# v1: the leader is in $(echo $v1_leader), corrald in $(echo $v1_ours)"
  check_output "exec'd processes share the leader's v1 memory and pids cgroups" '^same$' sb sh -c "
    corralctl exec web -- sleep 3.14159 & sleep 0.5
    p=\$(pgrep -x -f 'sleep 3.14159' | head -1)
    b=\$(grep -E '^[0-9]+:[^:]*(memory|pids)[^:]*:' /proc/\$p/cgroup)
    wait; [ \"\$b\" = '$v1_leader' ] && echo same"
else
  echo "skip - the leader shares corrald's v1 memory/pids cgroups here (tests/attach_test covers v1 on a hybrid host)"
fi

echo "== cgroup v1 freezer"
# A container that is host root (privileged) can freeze its leader's v1 freezer cgroup (SIGKILL
# waits there): the helper, in the host's PID namespace, must not join it and stop frozen. The
# leader is put in a freezer cgroup of its own (as such a container would), frozen; an exec
# still runs, and in the leader's memory, pids and devices cgroups but not that freezer one.
freezer=/sys/fs/cgroup/freezer
if sb test -w "$freezer/cgroup.procs"; then
  sb sh -c "mkdir -p $freezer/corral-frozen && echo $leader > $freezer/corral-frozen/cgroup.procs && echo FROZEN > $freezer/corral-frozen/freezer.state"
  v1_leader=$(sb grep -E '^[0-9]+:(memory|pids|devices):' "/proc/$leader/cgroup" | sort)
  check_output "an exec runs while the leader's v1 freezer cgroup is frozen, in its memory/pids/devices cgroups, not that freezer one" \
    '^started same-v1 not-frozen exec=0$' sb sh -c "
    timeout 20 corralctl exec web -- sleep 2.71828 &
    for i in \$(seq 50); do p=\$(pgrep -x -f 'sleep 2.71828' | head -1); [ -n \"\$p\" ] && break; sleep 0.1; done
    [ -n \"\$p\" ] && printf 'started '
    c=\$(cat /proc/\$p/cgroup 2>/dev/null)
    [ \"\$(echo \"\$c\" | grep -E '^[0-9]+:(memory|pids|devices):' | sort)\" = '$v1_leader' ] && printf 'same-v1 '
    echo \"\$c\" | grep -q ':freezer:/corral-frozen' || printf 'not-frozen '
    wait \$!; echo exec=\$?"
  echo "# v1: the leader is in $(echo $v1_leader)"
  sb sh -c "echo THAWED > $freezer/corral-frozen/freezer.state; echo $leader > $freezer/cgroup.procs; rmdir $freezer/corral-frozen"
else
  echo "skip - no writable cgroup v1 freezer hierarchy here"
fi

echo "== cleanup"
check "stop and remove web" sb sh -c 'corralctl stop web && corralctl rm web'
finish
