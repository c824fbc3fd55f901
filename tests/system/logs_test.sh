#!/usr/bin/env bash
# Container output in the journal, end to end in a throwaway systemd (tools/sandbox/sandbox.sh):
# what a container prints on its console is read back by `corralctl logs` and by `journalctl
# CONTAINER_NAME=`, with its fields (the scope's unit, SYSLOG_IDENTIFIER, PRIORITY from "<N>"),
# long lines cut; -n, --since, --json; -f follows a new line; the log spans a restart of the
# container and of corrald; a 20 MB flood neither blocks `corralctl exec` nor the lines after
# it, and leaves one suppression notice; bad input is refused. Prints "N passed, N failed" last.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/system/lib.sh

build_corral
echo "== booting a throwaway systemd with corral installed"
corral_sandbox "$(mktemp -d /tmp/corral-logstest-XXXXXX)"

# The messages of container $1 (corralctl logs, plus extra args).
logs() { local n=$1; shift; sb corralctl logs "$n" "$@"; }

check "corralctl image build busybox" sb corralctl image build busybox
# Prints two lines, one with a priority prefix, one of 10000 bytes, then one more line each
# time /tmp/go appears inside.
check "create l1" sb corralctl create l1 --image busybox --net none -- sh -c '
  echo "hello from l1"; echo "<3>something failed"; head -c 10000 /dev/zero | tr "\0" x; echo
  n=0; while :; do if [ -e /tmp/go ]; then rm /tmp/go; n=$((n+1)); echo "poke $n"; fi; sleep 0.1; done'
check "start l1" sb corralctl start l1
sleep 1

echo "== read back"
check_output "corralctl logs shows the first line" '^hello from l1$' logs l1
check_output "the priority prefix is taken off" '^something failed$' logs l1
check_output "--json carries priority 3 for the <3> line" '"priority": 3, .*"message": "something failed"' logs l1 --json
check_output "--json: unit corral-l1.scope" '"unit": "corral-l1.scope"' logs l1 --json
check_output "journalctl CONTAINER_NAME=l1 shows the same line" 'hello from l1' sb journalctl --no-pager CONTAINER_NAME=l1
entry=$(sb journalctl --no-pager -o export CONTAINER_NAME=l1 MESSAGE='hello from l1')
check_output "the entry's _SYSTEMD_UNIT is the container's scope (the supervisor sent it)" '^_SYSTEMD_UNIT=corral-l1.scope$' echo "$entry"
check_output "CORRAL_UNIT=corral-l1.scope" '^CORRAL_UNIT=corral-l1.scope$' echo "$entry"
check_output "SYSLOG_IDENTIFIER=l1" '^SYSLOG_IDENTIFIER=l1$' echo "$entry"
check_output "PRIORITY=6 for a plain line" '^PRIORITY=6$' echo "$entry"
check_output "PRIORITY=3 for the <3> line" '^PRIORITY=3$' sb journalctl --no-pager -o export CONTAINER_NAME=l1 MESSAGE='something failed'
long=$(logs l1 | awk '/^x+$/ {print length($0)}' | tr '\n' ' ')
check "the 10000-byte line is cut at 8192 and its rest follows ($long)" test "$long" = "8192 1808 "
check_output "-t prefixes the time" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{6}[+-][0-9]{2}:[0-9]{2} hello from l1$' logs l1 -t
check_output "-n 1 gives only the last line" '^xxxxxxxx' sh -c "tools/sandbox/sandbox.sh run '$sandbox_state' -- corralctl logs l1 -n 1 | wc -l | grep -qx 1 && tools/sandbox/sandbox.sh run '$sandbox_state' -- corralctl logs l1 -n 1"
check "--since a future time shows nothing" test -z "$(logs l1 --since @4000000000)"
check_output "--since '5 min ago' shows the lines" '^hello from l1$' logs l1 --since '5 min ago'

echo "== -f follows"
followed=$(sb sh -c 'timeout 6 corralctl logs l1 -f -n 0 > /tmp/follow.out & sleep 1.5
  corralctl exec l1 -- touch /tmp/go; wait; cat /tmp/follow.out')
check_output "-f printed the line written after it started" '^poke 1$' echo "$followed"
check "and only that line (-n 0)" test "$(echo "$followed" | wc -l)" -eq 1

echo "== across restarts"
check "restart l1 (stop, start)" sb sh -c 'corralctl stop l1 --timeout 2; corralctl start l1'
sleep 1
check "both runs' first lines are in the log" test "$(logs l1 | grep -c '^hello from l1$')" -eq 2
check "systemctl restart corrald" sb systemctl restart corrald
check "a line written after corrald's restart (the supervisor kept running)" sb corralctl exec l1 -- touch /tmp/go
sleep 1
check_output "is logged and read back" '^poke 1$' logs l1 -n 1

echo "== a flood"
# 20 MB of short lines, then a pause longer than the rate limit's 5 s window, then one line.
check "create f1" sb corralctl create f1 --image busybox --net none -- sh -c \
  'yes "flood line of forty bytes.............." | head -c 20000000; sleep 6; echo after-the-flood; exec sleep 1000'
started=$(date +%s%N)
check "start f1" sb corralctl start f1
check "corralctl exec answers during the flood" timeout 10 tools/sandbox/sandbox.sh run "$sandbox_state" -- corralctl exec f1 -- echo alive
echo "# exec during the flood: $((($(date +%s%N) - started) / 1000000)) ms after the start"
sleep 9
flood=$(logs f1)
check_output "the line after the flood is logged" '^after-the-flood$' echo "$flood"
check_output "one suppression notice counts what was left out" '^corral: [0-9]+ lines of f1.s output suppressed' echo "$flood"
lines=$(echo "$flood" | grep -c '^flood line')
echo "$flood" | grep "^corral:" | sed "s/^/# /"
echo "# flood lines in the journal: $lines of 500000"
# At most the budget (1000 lines per 5 s window; fewer when journald's queue was full: those are counted as dropped).
check "the flood was cut to the budget: $lines" test "$lines" -ge 100 -a "$lines" -le 5000
check "the console ring buffer still works (console shows output)" sb sh -c 'corralctl info f1 | grep -q running'

echo "== bad input"
check_fails "logs of an unknown container" 'no container named nosuch' sb corralctl logs nosuch
check_fails "--since that is not a time" 'is not a time' sb corralctl logs l1 --since 'whenever'
check_fails "-n that is not a number" 'not a number' sb corralctl logs l1 -n -3
check_fails "an unknown option" 'unknown option' sb corralctl logs l1 --bogus
check_fails "no name" 'which container' sb corralctl logs

sb sh -c 'for c in l1 f1; do corralctl stop $c --timeout 2; corralctl rm $c; done' >/dev/null
check_output "nothing is left" '^NAME' sb corralctl ls
finish
