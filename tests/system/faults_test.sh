#!/usr/bin/env bash
# Fault injection (issue 13): kill -9 of corrald with 50 starts in flight, at three moments
# (just after the starts were asked for, before most reached go; while some run and some start;
# after all run), `systemctl restart dbus` under running containers, and corral-run killed with
# SIGKILL followed by a second run asking for the same port. After each fault the whole truth
# (tests/system/fault_lib.sh: ls agrees with the scopes and machined, nothing of a container that
# does not run is left), and corrald's ListContainers latency, polled all through the fault,
# must stay under 1 s (the worst is printed; CORRAL_LATENCY_REPORT=FILE collects them). In the
# throwaway systemd. Prints "N passed, N failed" last.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/system/lib.sh
. tests/system/fault_lib.sh
latency_report=${CORRAL_LATENCY_REPORT:-}

build_corral
echo "== booting a throwaway systemd with corral installed"
corral_sandbox "$(mktemp -d /tmp/corral-faults-XXXXXX)"

check "corralctl image build busybox" sb corralctl image build busybox
n=50
check "create $n containers" sb sh -c "for i in \$(seq $n); do corralctl create k\$i --image busybox -- sh -c 'exec sleep 1000' >/dev/null || exit 1; done"
corrald_pid() { sb systemctl show -p MainPID --value corrald; }
count() { sb sh -c "corralctl ls | awk 'NR>1 && \$2==\"$1\"' | wc -l"; }

# round WHEN: starts all $n containers at once (each `corralctl start` a process of one unit),
# kills corrald with SIGKILL at WHEN (before: 0.3 s after the starts were sent; during: once
# 10 run; after: once all run), waits for the new corrald and checks the truth. Every container
# that is stopped afterwards must start again; then all are stopped.
round() {
  local when=$1 before after
  echo "== kill -9 of corrald $when go, $n starts in flight"
  before=$(corrald_pid)
  latency_start
  tools/sandbox/sandbox.sh run "$sandbox_state" -- sh -c "
    for i in \$(seq $n); do corralctl start k\$i > /tmp/start-k\$i.out 2>&1 & done; wait" >/dev/null 2>&1 &
  local starts=$!
  case $when in
    before) sleep 0.3 ;;
    during) sb sh -c "for i in \$(seq 300); do [ \$(corralctl ls | awk 'NR>1 && \$2==\"running\"' | wc -l) -ge 10 ] && exit 0; sleep 0.1; done" ;;
    after) sb sh -c "for i in \$(seq 600); do [ \$(corralctl ls | awk 'NR>1 && \$2==\"running\"' | wc -l) -ge $n ] && exit 0; sleep 0.1; done" ;;
  esac
  local at_kill
  at_kill=$(sb sh -c "corralctl ls | awk 'NR>1 {print \$2}' | sort | uniq -c | tr '\n' ' '")
  check "kill -9 corrald ($before) $when go (states then: $at_kill)" sb kill -9 "$before"
  wait $starts
  check "corrald is back and settles (no container starting or stopping)" wait_settled 60
  after=$(corrald_pid)
  check_output "a new corrald ($after, not $before)" '^new$' sh -c "[ -n '$after' ] && [ '$after' != '$before' ] && echo new"
  check_latency "kill -9 of corrald $when go"
  local running stopped
  running=$(count running)
  stopped=$(count stopped)
  echo "    after the crash: $running running, $stopped stopped"
  check_output "every container is running or stopped ($running + $stopped = $n)" "^$n\$" echo $((running + stopped))
  check_output "the truth: ls agrees with the scopes and machined, nothing stray" '^ok$' fault_truth
  check_output "every recovered running container is a machine of machined" "^$running\$" \
    sb sh -c "machinectl list --no-legend | grep -c '^k'"
  check "every stopped container starts again" sb sh -c "
    for c in \$(corralctl ls | awk 'NR>1 && \$2==\"stopped\" {print \$1}'); do corralctl start \$c || exit 1; done"
  check_output "all $n run and are machines" "^$n $n\$" sb sh -c "
    echo \$(corralctl ls | awk 'NR>1 && \$2==\"running\"' | wc -l) \$(machinectl list --no-legend | grep -c '^k')"
  check "an exec works in k1 and k$n" sb sh -c "corralctl exec k1 -- true && corralctl exec k$n -- true"
  check "stop all" sb sh -c "for i in \$(seq $n); do corralctl stop k\$i >/dev/null 2>&1 & done; wait; corralctl ls | awk 'NR>1 && \$2!=\"stopped\" {exit 1}'"
  check_output "the truth after stopping all" '^ok$' fault_truth
}
round before
round during
round after

echo "== systemctl restart dbus under running containers"
check "start k1..k5" sb sh -c 'for i in 1 2 3 4 5; do corralctl start k$i || exit 1; done'
latency_start
check "systemctl restart dbus" sb systemctl restart dbus
check "corrald answers on the new bus" sb sh -c '
  for i in $(seq 100); do busctl call org.corral1 /org/corral1 org.corral1.Manager ListContainers >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1'
sleep 2
check_latency "systemctl restart dbus"
check_output "k1..k5 still run" '^5$' count running
check_output "the truth after the bus restart" '^ok$' fault_truth
check "stop k1..k5" sb sh -c 'for i in 1 2 3 4 5; do corralctl stop k$i || exit 1; done'

echo "== corral-run killed with SIGKILL, then a second run asking for the same port"
crun=/var/lib/corral/test-crun
check "a rootfs for corral-run" sb sh -c "rm -rf $crun && mkdir $crun && cp -a /var/lib/corral/images/busybox/rootfs/. $crun/"
sb corralctl start k1 >/dev/null
latency_start
tools/sandbox/sandbox.sh run "$sandbox_state" -- sh -c "corral-run --rootfs $crun -p 8097:80 -- sh -c 'echo up; exec sleep 1000' > /tmp/crun.out 2>&1 & echo \$! > /tmp/crun.pid; wait" >/dev/null 2>&1 &
bg=$!
check "corral-run is up" sb sh -c 'for i in $(seq 100); do grep -q up /tmp/crun.out 2>/dev/null && exit 0; sleep 0.1; done; cat /tmp/crun.out; exit 1'
crun_pid=$(sb cat /tmp/crun.pid)
check_output "its forward of 8097 is there" "8097 : " sb nft list map ip corral tcp_forwards
check "kill -9 corral-run ($crun_pid)" sb kill -9 "$crun_pid"
wait $bg 2>/dev/null
check_output "a second corral-run with -p 8097:80 works" '^second$' \
  sb timeout 20 corral-run --rootfs $crun -p 8097:80 -- echo second
check_latency "corral-run killed and run again"
check_output "nothing of corral-run is left in the leases" '^none$' \
  sb sh -c "grep -q '^run-' /var/lib/corral/network/leases && echo present || echo none"
check_output "no scope of corral-run is left" '^0$' sb sh -c "systemctl list-units --no-legend 'corral-run-*.scope' | grep -c ."
check_output "the truth (k1 runs)" '^ok$' fault_truth

echo "== cleanup"
sb sh -c "corralctl stop k1; for i in \$(seq $n); do corralctl rm k\$i; done; rm -rf $crun" >/dev/null 2>&1
check_output "the truth at the end" '^ok$' fault_truth
check_output "no container, lease, forward or scope is left" '^0 corral-leases 1 end 0 0 0$' sb sh -c "
  echo \$(corralctl ls | awk 'NR>1' | wc -l) \$(cat /var/lib/corral/network/leases) \$(nft list map ip corral tcp_forwards | grep -c elements) \$(systemctl list-units --no-legend 'corral-*.scope' | grep -c .)"
finish
