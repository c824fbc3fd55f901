#!/usr/bin/env bash
# The restart policy, end to end in a throwaway systemd (tools/sandbox/sandbox.sh):
# `--restart on-failure:3` restarts a failing container exactly 3 times (4 runs, counted in its
# journal) and no more; `always` restarts a container that exits 0 until the user's stop, and
# never after it (in the back-off or not); `on-failure` does not restart a clean exit nor a
# container the user killed; the policy shows in info and outlives corrald's restart; a bad
# policy is refused and creates nothing; a restart waiting for its back-off when corrald is
# killed or restarted is done by the next corrald, with its count. Prints "N passed, N failed" last.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/system/lib.sh

build_corral
echo "== booting a throwaway systemd with corral installed"
corral_sandbox "$(mktemp -d /tmp/corral-restarttest-XXXXXX)"

prop() { sb corralctl info "$1" | awk -v k="$2:" '$1 == k {print $2}'; }
runs() { sb corralctl logs "$1" | grep -c "^run of $1$"; }
# wait_for SECONDS CMD...: until CMD succeeds, at most SECONDS.
wait_for() {
  local deadline=$(($(date +%s) + $1)); shift
  until "$@" >/dev/null 2>&1; do [ "$(date +%s)" -ge "$deadline" ] && return 1; sleep 0.3; done
}

check "corralctl image build busybox" sb corralctl image build busybox
check "corralctl events runs in the background" sb systemd-run --unit=corral-events-watch --quiet \
  sh -c 'exec corralctl events >/tmp/events.out 2>&1'
sleep 1

echo "== on-failure:3"
check "create r1 --restart on-failure:3 (exits 3 at once)" sb corralctl create r1 --image busybox --net none \
  --restart on-failure:3 -- sh -c 'echo "run of r1"; exit 3'
check "info shows Restart on-failure:3" test "$(prop r1 Restart)" = on-failure:3
check "start r1" sb corralctl start r1
check "RestartCount reaches 3" wait_for 20 sh -c "test \"\$(tools/sandbox/sandbox.sh run '$sandbox_state' -- corralctl info r1 | awk '\$1 == \"RestartCount:\" {print \$2}')\" = 3"
check "and r1 ends stopped" wait_for 10 sh -c "tools/sandbox/sandbox.sh run '$sandbox_state' -- corralctl info r1 | grep -q '^State: *stopped'"
sleep 4  # longer than the next back-off (800 ms) would be
check "after 4 more seconds it is still stopped" test "$(prop r1 State)" = stopped
check "RestartCount is still 3" test "$(prop r1 RestartCount)" = 3
check "exactly 4 runs are in its journal ($(runs r1))" test "$(runs r1)" -eq 4
check "ExitStatus is 3" test "$(prop r1 ExitStatus)" = 3
check_output "corrald's journal says why, with CORRAL_EVENT=restart" 'r1 exited with status 3: restart 3 \(on-failure:3\)' \
  sb journalctl --no-pager CORRAL_EVENT=restart CORRAL_CONTAINER=r1

echo "== always, until the user's stop"
check "create r2 --restart always (exits 0 after 0.5 s)" sb corralctl create r2 --image busybox --net none \
  --restart always -- sh -c 'echo "run of r2"; sleep 0.5; exit 0'
check "start r2" sb corralctl start r2
check "it is restarted after clean exits (RestartCount >= 2)" wait_for 20 sh -c "test \"\$(tools/sandbox/sandbox.sh run '$sandbox_state' -- corralctl info r2 | awk '\$1 == \"RestartCount:\" {print \$2}')\" -ge 2"
check "corralctl stop r2 (running or in its back-off)" sb corralctl stop r2 --timeout 2
count=$(prop r2 RestartCount); before=$(runs r2)
sleep 5
check "5 s after the stop it is stopped" test "$(prop r2 State)" = stopped
check "not restarted: RestartCount still $count" test "$(prop r2 RestartCount)" = "$count"
check "and no new run in its journal ($before)" test "$(runs r2)" -eq "$before"
check "the user's start runs it again (RestartCount back to 0)" sb corralctl start r2
check "RestartCount is 0 after the user's start" test "$(prop r2 RestartCount)" = 0
check "stop r2 again" sb corralctl stop r2 --timeout 2

echo "== on-failure: a clean exit, the user's kill"
check "create r3 --restart on-failure (exits 0)" sb corralctl create r3 --image busybox --net none \
  --restart on-failure -- sh -c 'echo "run of r3"; exit 0'
check "start r3" sb corralctl start r3
sleep 3
check "a clean exit is not restarted (RestartCount 0)" test "$(prop r3 RestartCount)" = 0
check "one run ($(runs r3))" test "$(runs r3)" -eq 1
check "create r4 --restart on-failure (runs until killed)" sb corralctl create r4 --image busybox --net none \
  --restart on-failure -- sleep 100000
check "start r4" sb corralctl start r4
check "corralctl kill r4 KILL" sb corralctl kill r4 KILL
check "r4 stops" wait_for 10 sh -c "tools/sandbox/sandbox.sh run '$sandbox_state' -- corralctl info r4 | grep -q '^State: *stopped'"
sleep 2
check "what the user killed is not restarted (RestartCount 0, exit $(prop r4 ExitStatus))" test "$(prop r4 RestartCount)" = 0 -a "$(prop r4 State)" = stopped
check "systemctl restart corrald" sb systemctl restart corrald
check "the policy outlives corrald's restart" test "$(prop r1 Restart)" = on-failure:3

echo "== the restart count outlives corrald's restart"
check "create r5 --restart on-failure:2 (fails after 3 s)" sb corralctl create r5 --image busybox --net none \
  --restart on-failure:2 -- sh -c 'echo "run of r5"; sleep 3; exit 1'
check "start r5" sb corralctl start r5
check "it is restarted once (RestartCount 1, running)" wait_for 20 sh -c "tools/sandbox/sandbox.sh run '$sandbox_state' -- corralctl info r5 | awk '\$1 == \"RestartCount:\" {c=\$2} \$1 == \"State:\" {s=\$2} END {exit !(c == 1 && s == \"running\")}'"
check "systemctl restart corrald during its second run" sb systemctl restart corrald
check "the new corrald knows RestartCount 1" test "$(prop r5 RestartCount)" = 1
check "r5 ends stopped after its last restart" wait_for 30 sh -c "test \"\$(tools/sandbox/sandbox.sh run '$sandbox_state' -- corralctl info r5 | awk '\$1 == \"RestartCount:\" {print \$2}')\" = 2 -a \"\$(tools/sandbox/sandbox.sh run '$sandbox_state' -- corralctl info r5 | awk '\$1 == \"State:\" {print \$2}')\" = stopped"
sleep 5
check "2 restarts in all: 3 runs, not more (got $(runs r5))" test "$(runs r5)" -eq 3 -a "$(prop r5 RestartCount)" = 2

echo "== a restart waiting for its back-off outlives corrald (kill -9, systemctl restart)"
# r6 fails at once, every time: its back-off doubles (100 ms before restart 1, ... 6.4 s before
# restart 7, 12.8 s before restart 8), long enough to end corrald in the middle of one.
count_is() { sb corralctl info "$1" | awk -v c="$2" '$1 == "RestartCount:" {n=$2} $1 == "State:" {s=$2} END {exit !(n == c && s == "stopped")}'; }
check "create r6 --restart always (exits 1 at once)" sb corralctl create r6 --image busybox --net none \
  --restart always -- sh -c 'echo "run of r6"; exit 1'
check "start r6" sb corralctl start r6
check "it reaches RestartCount 7, stopped in the 6.4 s back-off before that restart" wait_for 30 count_is r6 7
check_output "its pending restart is on disk with its due time" '^[0-9]+$' sb cat /var/lib/corral/containers/r6/restart-pending
before=$(runs r6); pid=$(sb systemctl show -p MainPID --value corrald)
check "kill -9 corrald ($pid) during the back-off" sb kill -9 "$pid"
check "corrald is back" wait_for 20 sb sh -c "[ \"\$(systemctl show -p MainPID --value corrald)\" != '$pid' ] && corralctl ls"
check "the new corrald knows RestartCount 7 (got $(prop r6 RestartCount))" test "$(prop r6 RestartCount)" = 7
check "and starts r6 when the restart is due (run $((before + 1)) in its journal)" wait_for 20 sh -c "test \$(tools/sandbox/sandbox.sh run '$sandbox_state' -- corralctl logs r6 | grep -c '^run of r6\$') -gt $before"
check "which fails again: restart 8 waits 12.8 s" wait_for 20 count_is r6 8
before=$(runs r6)
check "systemctl restart corrald during that back-off" sb systemctl restart corrald
check "RestartCount 8 after it (got $(prop r6 RestartCount))" test "$(prop r6 RestartCount)" = 8
check "r6 is started again when due" wait_for 30 sh -c "test \$(tools/sandbox/sandbox.sh run '$sandbox_state' -- corralctl logs r6 | grep -c '^run of r6\$') -gt $before"
check "and waits 25.6 s for restart 9" wait_for 20 count_is r6 9
check "corralctl stop r6 in its back-off" sb corralctl stop r6
check "nothing pending on disk after the stop" sb test ! -e /var/lib/corral/containers/r6/restart-pending
before=$(runs r6)
check "systemctl restart corrald after the stop" sb systemctl restart corrald
sleep 3
check "what the user stopped stays stopped ($(runs r6) runs, $before before)" test "$(runs r6)" -eq "$before" -a "$(prop r6 State)" = stopped

echo "== bad input"
check_fails "--restart sometimes" 'restart policy "sometimes"' sb corralctl create bad1 --image busybox --restart sometimes -- true
check_fails "--restart on-failure:0" 'restart policy "on-failure:0"' sb corralctl create bad2 --image busybox --restart on-failure:0 -- true
check_fails "--restart on-failure:-1" 'restart policy' sb corralctl create bad3 --image busybox --restart on-failure:-1 -- true
check_fails "Restart of the wrong type on the bus" 'must be of type s' sb busctl call org.corral1 /org/corral1 org.corral1.Manager CreateContainer 'ssa{sv}' bad4 busybox 1 Restart b true
check "none of them was created" sh -c "! tools/sandbox/sandbox.sh run '$sandbox_state' -- corralctl ls | grep -q '^bad'"

sleep 1
check "stop the watcher" sb systemctl stop corral-events-watch
events=$(sb cat /tmp/events.out)
check "the events show 3 restarts of r1" test "$(echo "$events" | grep -c ' r1 restart count=')" -eq 3
check_output "in order: started, stopped exit_status=3, restart" ' r1 started .* r1 stopped exit_status=3 oom_killed=false .* r1 restart count=1 .* r1 restart count=3 ' \
  sh -c "echo \"\$1\" | awk '{print}' ORS=' '" _ "$events"
check "no restart events for r3 and r4" test "$(echo "$events" | grep -cE ' r[34] restart')" -eq 0

sb sh -c 'for c in r1 r2 r3 r4 r5 r6; do corralctl rm $c; done' >/dev/null
check_output "nothing is left" '^NAME' sb corralctl ls
finish
