#!/usr/bin/env bash
# Many containers started at once against a real systemd and dbus-daemon, in a throwaway
# systemd: systemd watches the client of every job it has queued with a match rule on its own
# bus connection, and dbus-daemon allows 512 (max_match_rules_per_connection); past that systemd
# loses its bus. corrald keeps at most 64 scope jobs at systemd, and when systemd's connection
# is reset anyway, no start is left hanging. Prints "N passed, N failed" last.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/system/lib.sh

build_corral
echo "== booting a throwaway systemd with corral installed"
corral_sandbox "$(mktemp -d /tmp/corral-systest-XXXXXX)"
sb corralctl image build busybox >/dev/null

# dbus-daemon's figures for the connection that owns NAME: "UNIQUE MATCHRULES PEAKMATCHRULES".
bus_stats() {
  sb sh -c 'o=$(busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetNameOwner s '"$1"' | cut -d\" -f2)
    s=$(busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.Debug.Stats GetConnectionStats s $o)
    echo $o $(echo "$s" | sed "s/.*\"MatchRules\" u \([0-9]*\) \"PeakMatchRules\" u \([0-9]*\).*/\1 \2/")'
}
# Starts containers scale-1..scale-$1 with one StartContainer each, all sent at once.
start_all() {
  sb sh -c 'for i in $(seq '"$1"'); do busctl call --timeout=120 org.corral1 /org/corral1 org.corral1.Manager StartContainer s scale-$i >/dev/null 2>&1 & done; wait; true'
}
# "RUNNING STARTING STOPPED" counts.
states() {
  sb sh -c 'l=$(busctl call org.corral1 /org/corral1 org.corral1.Manager ListContainers)
    for s in running starting stopped; do echo "$l" | grep -o "\"$s\"" | wc -l; done | tr "\n" " " | sed "s/ $//"'
}
stop_all() {
  sb sh -c 'for i in $(seq '"$1"'); do busctl call --timeout=60 org.corral1 /org/corral1 org.corral1.Manager StopContainer s scale-$i >/dev/null 2>&1 & done; wait; true'
}

count=150
sb sh -c 'for i in $(seq '"$count"'); do corralctl create scale-$i --image busybox --net none -- sleep 100000 >/dev/null; done'

echo "== $count starts at once"
read -r owner base _ < <(bus_stats org.freedesktop.systemd1)
start_all $count
check_output "all $count are running" "^$count 0 0$" states
read -r owner_after _ peak < <(bus_stats org.freedesktop.systemd1)
check_output "systemd kept its bus connection" "^$owner\$" echo "$owner_after"
# Without the bound, systemd queues a job (and a match rule) for nearly every start at once.
check "systemd's match rules stayed within corrald's 64 jobs of its usual $base (peak $peak)" test "$peak" -le $((base + 64 + 4))

echo "== stats of $count running containers"
# `corralctl stats --json` (ListContainers and one GetStats each) against a shell loop that
# only cats each container's memory, CPU and pids files (one cat per container), medians of 3.
timed_ms() { sb sh -c 'for r in 1 2 3; do s=$(date +%s%N); '"$1"' >/dev/null; e=$(date +%s%N); echo $(((e - s) / 1000000)); done' | sort -n | sed -n 2p; }
cat_loop='for i in $(seq '"$count"'); do u=$(ls -d /sys/fs/cgroup/unified 2>/dev/null || echo /sys/fs/cgroup)/machine.slice/corral-scale-$i.scope;
  if [ -d /sys/fs/cgroup/memory ]; then cat /sys/fs/cgroup/memory/machine.slice/corral-scale-$i.scope/memory.usage_in_bytes $u/payload/cpu.stat /sys/fs/cgroup/pids/machine.slice/corral-scale-$i.scope/pids.current;
  else cat $u/payload/cpu.stat $u/cgroup.procs $u/cgroup.events; fi; done'
stats_ms=$(timed_ms 'corralctl stats --json')
cat_ms=$(timed_ms "$cat_loop")
echo "# stats --json of $count: ${stats_ms} ms; the cat loop: ${cat_ms} ms (medians of 3)"
check_output "stats --json lists all $count" "^$count\$" sb sh -c 'corralctl stats --json | grep -o "\"pids_current\"" | wc -l'
check "stats --json of $count containers within 3x the cat loop (${stats_ms} ms vs ${cat_ms} ms)" test "${stats_ms:-999999}" -le $((3 * ${cat_ms:-0}))
stop_all $count
check_output "all stopped" "^0 0 $count$" states

echo "== systemd loses its bus while starts are in flight"
# systemd re-executing drops its bus connection and comes back under a new name, as it does
# when dbus-daemon refuses it a match rule (max_match_rules_per_connection, what 1,000 starts
# at once did before corrald bounded its jobs); replies and JobRemoved signals of that moment
# are lost. Done from inside one unit, so no client of systemd's outside it is cut off.
sb sh -c 'for i in $(seq '"$count"'); do busctl call --timeout=120 org.corral1 /org/corral1 org.corral1.Manager StartContainer s scale-$i >/dev/null 2>&1 & done
  sleep 0.2; systemctl daemon-reexec; wait; true' >/dev/null 2>&1
sb sh -c 'for i in $(seq 100); do busctl call org.corral1 /org/corral1 org.corral1.Manager ListContainers | grep -q "\"starting\"" || break; sleep 0.2; done'
read -r owner_reset _ < <(bus_stats org.freedesktop.systemd1)
check "systemd's connection was reset (it was $owner, now $owner_reset)" test "$owner_reset" != "$owner"
check_output "no start is left hanging: each is running or stopped" ' 0 ' states
check_output "corrald settled the jobs it lost" 'systemd is on the bus again' sb journalctl -u corrald --no-pager
stop_all $count
check_output "all stopped again" "^0 0 $count$" states
# systemd collects the emptied scopes on its own time; start again once it has (a scope of
# the same name still stopping would take the new start's processes with it).
sb sh -c 'for i in $(seq 150); do [ -z "$(systemctl list-units --all --no-legend "corral-*.scope")" ] && break; sleep 0.2; done'
# A lost JobRemoved that kept its place in flight would leave fewer places each time.
start_all $count
check_output "afterwards all $count start again" "^$count 0 0$" states
stop_all $count

sb sh -c 'for i in $(seq '"$count"'); do corralctl rm scale-$i >/dev/null; done'
check_output "no container, scope or cgroup of corral left" '^0 0 0$' sb sh -c '
  echo $(busctl call org.corral1 /org/corral1 org.corral1.Manager ListContainers | cut -d" " -f2) \
       $(systemctl list-units --all --no-legend "corral-*.scope" | grep -c .) \
       $(find /sys/fs/cgroup -name "corral-*.scope" -type d | grep -c .)'

finish
