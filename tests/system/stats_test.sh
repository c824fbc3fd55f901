#!/usr/bin/env bash
# corralctl stats and top, end to end in a throwaway systemd (tools/sandbox/sandbox.sh), on
# the host's hybrid layout (CORRAL_SANDBOX_LAYOUT=unified: pure cgroup2, see
# stats_unified_test.sh): a container under --memory 64M that fills 20 MiB of its /dev/shm
# shows that much more memory and the limit; its pids match the processes started; its CPU
# time grows by about the wall time while a loop spins; a TCP stream of a known size between
# two containers on the bridge shows on both veths' counters; top lists the processes with
# both pids; errors for a stopped and an unknown container; a non-root user may read stats;
# --watch redraws and ends cleanly on Ctrl-C. Prints "N passed, N failed" last.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/system/lib.sh

build_corral
echo "== booting a throwaway systemd with corral installed (layout: ${CORRAL_SANDBOX_LAYOUT:-host})"
corral_sandbox "$(mktemp -d /tmp/corral-statstest-XXXXXX)"

# One key of `corralctl stats --json NAME` (a number), or "" when absent.
stat() { sb corralctl stats --json "$1" | grep -o "\"$2\": [0-9]*" | grep -o '[0-9]*$'; }

check "corralctl image build busybox" sb corralctl image build busybox
# The init (tiny init, pid 1), its shell and two sleeps: four processes.
check "create s1 --memory 64M --pids 50" sb corralctl create s1 --image busybox --net none --memory 64M --pids 50 -- \
  sh -c 'sleep 1000 & sleep 1000 & wait'
check "start s1" sb corralctl start s1
sleep 0.5

echo "== memory"
layout=$(sb corralctl stats --json s1 | grep -o '"cgroup_layout": "[a-z]*"' | grep -o '[a-z]*"$' | tr -d '"')
echo "# cgroup layout: $layout"
# A unified sandbox on a hybrid host has no memory or pids controller (the host binds them to
# v1; tools/sandbox/sandbox.sh): there the figures are absent and read as 0, which is checked.
controllers=$(sb sh -c 'cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null || cat /sys/fs/cgroup/unified/cgroup.controllers')
accounted=yes
[ "$layout" = unified ] && ! echo "$controllers" | grep -qw memory && accounted=no
if [ "$accounted" = yes ]; then
  before=$(stat s1 memory_current)
  check "GetStats answers memory_current ($before)" test -n "$before"
  check "and 20 MiB are written into the container's /dev/shm" sb corralctl exec s1 -- sh -c 'head -c 20m /dev/zero >/dev/shm/fill'
  after=$(stat s1 memory_current)
  echo "# memory_current before $before, after $after"
  check "memory_current is above 20 MiB ($after)" test "${after:-0}" -gt 20971520
  # The 20 MiB within 10 % (the shell and head came and went; the pages stay, as shmem).
  check "and grew by 20 MiB within 10 % ($((${after:-0} - ${before:-0})))" \
    test $((${after:-0} - ${before:-0})) -ge 18874368 -a $((${after:-0} - ${before:-0})) -le 23068672
  check_output "memory_limit is the --memory 64M" '"memory_limit": 67108864[,}]' sb corralctl stats --json s1
  peak=$(stat s1 memory_peak)
  check "memory_peak ($peak) is at least memory_current" test "${peak:-0}" -ge "${after:-1}"
  check_output "pids_limit is the --pids 50" '"pids_limit": 50[,}]' sb corralctl stats --json s1
  check_output "the table shows usage / limit and MEM %" '^s1 +(--|[0-9.]+%) +2[0-9.]+MiB / 64.0MiB +3[0-9.]+%' sb corralctl stats s1
else
  echo "# this cgroup2 hierarchy has no memory or pids controller ($controllers): only their absence is checked"
  check_output "memory_current, memory_limit and pids_current read as 0 without the controllers" \
    '"memory_current": 0,.*"memory_limit": 0,.*"pids_current": 0,' sb corralctl stats --json s1
fi

echo "== top and pids"
top=$(sb corralctl top s1)
echo "$top" | sed 's/^/    /'
check_output "top has the columns" '^PID +HOST PID +UID +TIME +RSS +COMMAND' echo "$top"
check_output "top lists the init as pid 1 inside, with its host pid" '^1 +[0-9]{2,} +0 ' echo "$top"
check_output "top lists the two sleeps with their command lines" '^[0-9]+ +[0-9]+ +0 +[0-9:]+ +[0-9.]+[KM]iB +sleep 1000$' echo "$top"
check "exactly two sleeps" test "$(echo "$top" | grep -c 'sleep 1000$')" -eq 2
listed=$(echo "$top" | tail -n +2 | wc -l)
check "top lists the four processes started (init, sh, 2 sleeps): $listed" test "$listed" -eq 4
# Every host pid top shows is a process of the container's scope on the host.
check "each host pid is in corral-s1.scope" sh -c "
  for pid in \$(echo '$top' | tail -n +2 | awk '{print \$2}'); do
    tools/sandbox/sandbox.sh run '$sandbox_state' -- grep -q 'corral-s1.scope' /proc/\$pid/cgroup || exit 1
  done"
pids=$(stat s1 pids_current)
# On a hybrid host the v1 pids controller has no payload leaf: the scope's count includes
# the supervisor.
expected=4
[ "$layout" = hybrid ] && expected=5
[ "$accounted" = no ] && expected=0
check "pids_current is $expected on $layout ($pids)" test "${pids:-0}" -eq "$expected"
check_output "a non-root caller gets the short names, not the command lines" '^[0-9]+ +[0-9]+ +0 .*\[sleep\]$' \
  sb runuser -u nobody -- corralctl top s1

echo "== CPU"
spinner=$(sb corralctl exec s1 -- sh -c '(while :; do :; done) </dev/null >/dev/null 2>&1 & echo $!')
t0=$(stat s1 cpu_usage_usec)
sleep 3
t1=$(stat s1 cpu_usage_usec)
echo "# cpu_usage_usec $t0 -> $t1 over 3 s (spinner pid $spinner inside)"
# Two cores shared with other work: at least half a CPU.
check "cpu_usage_usec grew by at least 1.5 s of CPU in 3 s while a loop spun" test $((${t1:-0} - ${t0:-0})) -ge 1500000
check_output "the table's CPU % (two samples) shows the loop" '^s1 +([4-9][0-9]|1[0-9][0-9])\.[0-9]+%' sb corralctl stats s1
check "the spinner stops" sb corralctl exec s1 -- kill "$spinner"
sleep 0.5
t2=$(stat s1 cpu_usage_usec)
sleep 1
t3=$(stat s1 cpu_usage_usec)
check "and then the CPU time stays still ($((${t3:-0} - ${t2:-0})) us in 1 s)" test $((${t3:-0} - ${t2:-0})) -lt 200000

echo "== network"
check "create n1 and n2 on the bridge" sb sh -c 'corralctl create n1 --image busybox -- sleep 1000 &&
  corralctl create n2 --image busybox -- sh -c "nc -l -p 7000 >/dev/null; exec sleep 1000"'
check "start them" sb sh -c 'corralctl start n1 && corralctl start n2'
n2_address=$(sb corralctl info n2 | awk '/^Addresses:/ {print $2}' | cut -d/ -f1)
tx0=$(stat n1 net_tx_bytes); rx0=$(stat n2 net_rx_bytes); pk0=$(stat n2 net_rx_packets)
check "n1 sends 1 MB to n2 over TCP ($n2_address:7000)" sb corralctl exec n1 -- sh -c "head -c 1000000 /dev/zero | nc $n2_address 7000"
sleep 0.5
tx1=$(stat n1 net_tx_bytes); rx1=$(stat n2 net_rx_bytes); pk1=$(stat n2 net_rx_packets)
echo "# n1 net_tx_bytes $tx0 -> $tx1, n2 net_rx_bytes $rx0 -> $rx1, n2 net_rx_packets $pk0 -> $pk1"
check "n1's net_tx_bytes grew by the 1 MB and its headers" test $((${tx1:-0} - ${tx0:-0})) -ge 1000000 -a $((${tx1:-0} - ${tx0:-0})) -le 1200000
check "n2's net_rx_bytes grew by as much" test $((${rx1:-0} - ${rx0:-0})) -ge 1000000 -a $((${rx1:-0} - ${rx0:-0})) -le 1200000
check "n2's net_rx_packets grew" test $((${pk1:-0} - ${pk0:-0})) -ge 20
check_output "n1's NET I/O in the table" '^n1 .* [0-9.]+[kM]?B / 1\.[0-9]+MB ' sb corralctl stats n1
check_output "a container off the bridge counts no traffic" '"net_rx_bytes": 0[,}]' sb corralctl stats --json s1

echo "== every running container, --watch, other users"
all=$(sb corralctl stats --json)
check_output "stats --json without a name lists the three running containers" '"name": "n1".*' echo "$all"
check "three objects" test "$(echo "$all" | grep -c '"name"')" -eq 3
check_output "a non-root user may read stats (the bus policy lets GetStats through)" '"cpu_usage_usec": [1-9]' \
  sb runuser -u nobody -- corralctl stats --json s1
# Ctrl-C ends --watch: redrawn in place (cursor home) more than once, the cursor shown again, exit 0.
watch_out=$(sb script -qec "timeout --preserve-status -s INT 3.5 corralctl stats --watch s1 n1; echo exit=\$?" /dev/null)
check "--watch redrew the table at least twice in 3.5 s" test "$(echo "$watch_out" | grep -c 'MEM USAGE')" -ge 2
check_output "--watch redraws in place (cursor home, lines cleared)" $'\033\\[H' echo "$watch_out"
check_output "Ctrl-C gives the cursor back and exits 0" $'\033\\[\\?25h.*exit=0' sh -c "echo \"\$1\" | tr -d '\\r\\n'" _ "$watch_out"

echo "== errors"
check_fails "stats of an unknown container" 'no container named nosuch' sb corralctl stats nosuch
check_fails "stats of a stopped container" 'is stopped' sb sh -c 'corralctl create st1 --image busybox --net none -- true && corralctl stats st1'
check_fails "top of a stopped container" 'is stopped' sb corralctl top st1
check_fails "a bad option" 'unknown option' sb corralctl stats --bogus
check_fails "a bad name" 'name' sb corralctl top 'bad/name'

sb sh -c 'for c in s1 n1 n2; do corralctl stop $c; done; for c in s1 n1 n2 st1; do corralctl rm $c; done' >/dev/null
check_output "nothing is left" '^NAME' sb corralctl ls
finish
