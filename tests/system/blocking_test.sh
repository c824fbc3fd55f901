#!/usr/bin/env bash
# A loop nothing can block (issue 13): while another process holds the leases lock, corrald
# answers ListContainers within 1 s and an rm or a start completes once the lock is released;
# a start that cannot finish is failed and cleaned at its deadline; a stop cancels a start;
# exec into a frozen container is a clear error at once; a supervisor that does not accept
# console sessions costs OpenConsole an error, not the loop; after `systemctl restart dbus`
# corrald is back on the bus within seconds, its containers found again. Each part ends with
# the truth (ls agrees with the scopes, nothing left of a container that does not run). In the
# throwaway systemd. Prints "N passed, N failed" last.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/system/lib.sh
. tests/system/fault_lib.sh

build_corral
echo "== booting a throwaway systemd with corral installed"
corral_sandbox "$(mktemp -d /tmp/corral-blocking-XXXXXX)"

check "corralctl image build busybox" sb corralctl image build busybox
lock=/var/lib/corral/network/leases.lock
leases=/var/lib/corral/network/leases
# ms CMD...: how long CMD took, in milliseconds (inside the sandbox's unit).
ms='t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 ))'
# field NAME: the value of NAME=... in $out; lt A B: prints ok when the number A < B.
field() { echo "$out" | sed -n "s/^$1=//p" | head -1; }
lt() { [ -n "$1" ] && [ "$1" -lt "$2" ] && echo ok; }
# The whole truth (tests/system/fault_lib.sh): ls against scopes, machined, mounts, state
# files, forwards, veths.
truth() { fault_truth; }

echo "== a held leases lock"
sb corralctl create b1 --image busybox -p 8095:80 -- sh -c 'exec sleep 1000' >/dev/null
check "start b1" sb corralctl start b1
check "stop b1" sb corralctl stop b1
sb corralctl create b2 --image busybox -- sh -c 'exec sleep 1000' >/dev/null
out=$(sb sh -c "
  flock $lock sleep 3 & holder=\$!
  sleep 0.5
  corralctl rm b1 > /tmp/rm.out 2>&1 & rm=\$!
  corralctl start b2 > /tmp/start.out 2>&1 & st=\$!
  sleep 0.5
  set -- corralctl ls; echo ls_ms=\$(sh -c '$ms' sh corralctl ls)
  corralctl ls | grep -q '^b1 ' && echo rm_waits
  busctl call org.corral1 /org/corral1 org.corral1.Manager ListContainers >/dev/null && echo bus_answers
  wait \$rm; echo rm_rc=\$?; wait \$st; echo start_rc=\$?; cat /tmp/rm.out /tmp/start.out; wait \$holder")
echo "$out" | sed 's/^/    /'
check_output "corralctl ls answers within 1 s while the lock is held ($(field ls_ms) ms)" '^ok$' lt "$(field ls_ms)" 1000
check_output "the rm waits for the lock (b1 still listed meanwhile)" '^rm_waits$' echo "$out"
check_output "ListContainers on the system bus answers too" '^bus_answers$' echo "$out"
check_output "the rm completes after the release" '^rm_rc=0$' echo "$out"
check_output "the start completes after the release" '^start_rc=0$' echo "$out"
check_output "b1 is gone, with its lease" '^none$' sb sh -c "corralctl ls | grep -q '^b1 ' || grep -q '^b1 ' $leases || echo none"
check_output "b2 runs" '^b2 +running' sb corralctl ls
check_output "the truth afterwards" '^ok$' truth

echo "== a stop cancels a start"
sb corralctl create b4 --image busybox -- sh -c 'exec sleep 1000' >/dev/null
out=$(sb sh -c "
  flock $lock sleep 4 & holder=\$!
  sleep 0.3
  corralctl start b4 > /tmp/start4.out 2>&1 & st=\$!
  sleep 0.5
  corralctl ls | grep -E '^b4 +starting' >/dev/null && echo was_starting
  echo stop_ms=\$(sh -c '$ms' sh corralctl stop b4)
  wait \$st; echo start_rc=\$?; cat /tmp/start4.out; kill \$holder")
echo "$out" | sed 's/^/    /'
check_output "b4 was starting (its supervisor waits for the lock)" '^was_starting$' echo "$out"
check_output "the stop returned within 2 s ($(field stop_ms) ms)" '^ok$' lt "$(field stop_ms)" 2000
check_output "the start says it was cancelled" 'cancelled by a stop' echo "$out"
check_output "b4 is stopped" '^b4 +stopped' sb corralctl ls
check "b4 starts later" sb corralctl start b4
check "and stops" sb corralctl stop b4
check_output "the truth afterwards" '^ok$' truth

echo "== a start has a deadline"
check "corrald with CORRAL_START_TIMEOUT=2" sb sh -c 'mkdir -p /run/systemd/system/corrald.service.d &&
  printf "[Service]\nEnvironment=CORRAL_START_TIMEOUT=2\n" > /run/systemd/system/corrald.service.d/timeout.conf &&
  systemctl daemon-reload && systemctl restart corrald'
out=$(sb sh -c "
  flock $lock sleep 4 & holder=\$!
  sleep 0.3
  t0=\$(date +%s%N); corralctl start b4 > /tmp/start-deadline.out 2>&1; t1=\$(date +%s%N)
  echo start_ms=\$(( (t1 - t0) / 1000000 ))
  for i in \$(seq 10); do corralctl ls | grep -Eq '^b4 +stopped' && { echo stopped_soon; break; }; sleep 0.1; done
  cat /tmp/start-deadline.out; wait \$holder")
echo "$out" | sed 's/^/    /'
check_output "a start held back past its deadline fails naming it" 'did not start within 2 s' echo "$out"
check_output "and fails at the deadline, within 4 s ($(field start_ms) ms)" '^ok$' lt "$(field start_ms)" 4000
check_output "b4 is stopped within 1 s of the error" '^stopped_soon$' echo "$out"
check_output "b4 is stopped afterwards" '^b4 +stopped' sb sh -c 'sleep 0.5; corralctl ls'
check_output "the truth afterwards" '^ok$' truth
check "corrald without the drop-in again" sb sh -c 'rm -rf /run/systemd/system/corrald.service.d && systemctl daemon-reload && systemctl restart corrald'
check_output "b2 was found again after the restarts" '^b2 +running' sb corralctl ls

echo "== exec into a frozen container"
freeze=/sys/fs/cgroup/unified/machine.slice/corral-b2.scope/cgroup.freeze
[ "$(sb sh -c "test -e $freeze && echo y")" = y ] || freeze=/sys/fs/cgroup/machine.slice/corral-b2.scope/cgroup.freeze
check "freeze b2's scope (cgroup.freeze)" sb sh -c "echo 1 > $freeze"
out=$(sb sh -c "echo exec_ms=\$(sh -c '$ms' sh corralctl exec b2 -- true); corralctl exec b2 -- true 2>&1;
  echo ls_ms=\$(sh -c '$ms' sh corralctl ls)")
echo "$out" | sed 's/^/    /'
check_output "the exec fails saying the container is frozen" 'b2 is frozen' echo "$out"
check_output "at once, under 1 s ($(field exec_ms) ms)" '^ok$' lt "$(field exec_ms)" 1000
check_output "and ls answers within 1 s ($(field ls_ms) ms)" '^ok$' lt "$(field ls_ms)" 1000
check "thaw b2" sb sh -c "echo 0 > $freeze"
check_output "an exec works again" '^thawed$' sb corralctl exec b2 -- echo thawed

echo "== a supervisor that does not accept console sessions"
sup=$(sb sed -n 's/^supervisor=//p' /run/corral/containers/b2/state)
check "SIGSTOP b2's supervisor ($sup)" sb kill -STOP "$sup"
out=$(sb sh -c "
  for i in 1 2 3 4 5 6 7; do busctl call org.corral1 /org/corral1 org.corral1.Manager OpenConsole s b2 > /tmp/con\$i.out 2>&1 & done
  sleep 0.3
  echo ls_ms=\$(sh -c '$ms' sh corralctl ls)
  t0=\$(date +%s%N); wait; t1=\$(date +%s%N); echo all_ms=\$(( (t1 - t0) / 1000000 ))
  cat /tmp/con*.out")
echo "$out" | sed 's/^/    /'
sb kill -CONT "$sup"
check_output "ls answers within 1 s meanwhile ($(field ls_ms) ms)" '^ok$' lt "$(field ls_ms)" 1000
check_output "every OpenConsole is answered within 3 s ($(field all_ms) ms)" '^ok$' lt "$(field all_ms)" 3000
errors=$(echo "$out" | grep -c 'did not hand over\|does not accept')
check_output "each with an error naming the supervisor ($errors of 7)" '^7$' echo "$errors"
check "b2 is still running and execs work" sb corralctl exec b2 -- true

echo "== systemctl restart dbus"
before=$(sb systemctl show -p MainPID --value corrald)
check "systemctl restart dbus" sb systemctl restart dbus
check "ListContainers on the system bus answers again within 10 s" sb sh -c '
  for i in $(seq 100); do busctl call org.corral1 /org/corral1 org.corral1.Manager ListContainers >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1'
check_output "by a new corrald (it exited on losing the bus)" '^new$' \
  sh -c "[ \"\$(tools/sandbox/sandbox.sh run '$sandbox_state' -- systemctl show -p MainPID --value corrald)\" != '$before' ] && echo new"
check_output "which found b2 running" '^b2 +running' sb corralctl ls
check_output "busctl start and stop work on the new connection" '^ok$' sb sh -c '
  busctl call org.corral1 /org/corral1 org.corral1.Manager StopContainer s b2 && corralctl ls | grep -Eq "^b2 +stopped" && echo ok'

echo "== cleanup"
sb sh -c 'for c in b2 b4; do corralctl stop $c; corralctl rm $c; done' >/dev/null 2>&1
check_output "the truth at the end" '^ok$' truth
check_output "no lease, forward or scope is left" '^corral-leases 1 end 0 0 0$' sb sh -c "
  echo \$(cat $leases) \$(nft list map ip corral tcp_forwards | grep -c elements) \$(systemctl list-units --no-legend 'corral-*.scope' | grep -c .)"
finish
