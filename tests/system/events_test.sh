#!/usr/bin/env bash
# Live limits and events, end to end in a throwaway systemd (tools/sandbox/sandbox.sh): `corralctl
# set --memory 32M` on a running container puts the limit in force (the scope's cgroup says so)
# and an allocation of 64 MiB inside is then OOM-killed, which shows as OOMKilled/OOMKills and an
# `oom` event; limits set on a stopped container apply at its next start and outlive corrald's
# restart; bad input changes nothing; `corralctl events` shows created, started, limits, oom,
# stopped (with its exit status) and removed in order. Where the scope's cgroups have no memory,
# pids or cpu controller (events_unified_test.sh on this hybrid host) every such limit is
# refused by name, create warns, and info shows it as not enforced; the OOM kill is skipped.
# Prints "N passed, N failed" last.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/system/lib.sh

build_corral
echo "== booting a throwaway systemd with corral installed"
corral_sandbox "$(mktemp -d /tmp/corral-eventstest-XXXXXX)"

prop() { sb corralctl info "$1" | awk -v k="$2:" '$1 == k {print $2}'; }
stat() { sb corralctl stats --json "$1" | grep -o "\"$2\": [0-9]*" | grep -o '[0-9]*$'; }

check "corralctl image build busybox" sb corralctl image build busybox
# The watcher: its own unit, so it outlives each `sb` call; SIGTERM ends it.
check "corralctl events runs in the background" sb systemd-run --unit=corral-events-watch --quiet \
  sh -c 'exec corralctl events >/tmp/events.out 2>/tmp/events.err'
check "and a second one with --json" sb systemd-run --unit=corral-events-json --quiet \
  sh -c 'exec corralctl events --json >/tmp/events.json 2>&1'
sleep 1

# A pure cgroup v2 systemd on a hybrid host (events_unified_test.sh) has no memory, pids or cpu
# controller in its cgroup2 (the host binds them to v1: tools/sandbox/sandbox.sh): systemd
# would take MemoryMax= and enforce nothing. There corral says so instead of accepting the
# limit silently, which is what is checked; the OOM kill cannot happen and is skipped.
has_controller() { sb sh -c "grep -qw $1 /sys/fs/cgroup/cgroup.controllers 2>/dev/null || test -d /sys/fs/cgroup/$1"; }
enforced=yes
has_controller memory && has_controller pids && has_controller cpu || enforced=no
echo "# cgroup2 controllers: \"$(sb cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null)\"; limits enforced: $enforced"

echo "== set on a running container"
create_out=$(sb corralctl create m1 --image busybox --net none --memory 128M -- sleep 100000 2>&1); rc=$?
echo "$create_out" | sed 's/^/    /'
check "create m1 --memory 128M" test "$rc" -eq 0
check "start m1" sb corralctl start m1
layout=$(sb corralctl stats --json m1 | grep -o '"cgroup_layout": "[a-z]*"' | grep -o '[a-z]*"$' | tr -d '"')
echo "# cgroup layout: $layout"
if [ "$enforced" = yes ]; then
  check "create said nothing about unenforced limits" test -z "$(echo "$create_out" | grep -i warning)"
  check "info has no UnenforcedLimits" test -z "$(prop m1 UnenforcedLimits)"
  check "the limit in force is 128M ($(stat m1 memory_limit))" test "$(stat m1 memory_limit)" = 134217728
  check "a 64 MiB allocation succeeds under 128M" sb corralctl exec m1 -- dd if=/dev/zero of=/dev/null bs=64M count=1
  check "corralctl set m1 --memory 32M" sb corralctl set m1 --memory 32M
  check "info shows Memory 33554432" test "$(prop m1 Memory)" = 33554432
  check "and the scope's cgroup has it in force ($(stat m1 memory_limit))" test "$(stat m1 memory_limit)" = 33554432
  check "nothing was OOM-killed yet" test "$(prop m1 OOMKilled)" = false
  out=$(sb corralctl exec m1 -- dd if=/dev/zero of=/dev/null bs=64M count=1 2>&1); rc=$?
  echo "# exec dd bs=64M under 32M: exit $rc"
  check "now the same 64 MiB allocation is killed (exit $rc, 137 = SIGKILL)" test "$rc" -eq 137
  sleep 1
  check "OOMKilled is true" test "$(prop m1 OOMKilled)" = true
  check "OOMKills is at least 1 ($(prop m1 OOMKills))" test "$(prop m1 OOMKills)" -ge 1
  check "the container itself still runs" test "$(prop m1 State)" = running
  check_output "the journal has corrald's oom message with CORRAL_EVENT=oom" 'OOM killer killed a process of container m1' \
    sb journalctl --no-pager CORRAL_EVENT=oom CORRAL_CONTAINER=m1
  check "set --pids 20 --cpu-quota 50% --cpu-weight 200" sb corralctl set m1 --pids 20 --cpu-quota 50% --cpu-weight 200
  check "pids_limit in force is 20 ($(stat m1 pids_limit))" test "$(stat m1 pids_limit)" = 20
  check_output "info shows CPUQuota 50 and CPUWeight 200" 'CPUQuota: +50' sb corralctl info m1
  check "CPUWeight 200" test "$(prop m1 CPUWeight)" = 200
  check_output "systemd has the scope's CPUQuotaPerSecUSec=500ms" '^CPUQuotaPerSecUSec=500ms$' \
    sb systemctl show -p CPUQuotaPerSecUSec corral-m1.scope
  memory_now=33554432 tasks_now=20
else
  echo "skip - OOM kill after set --memory 32M: this sandbox's cgroup2 has no memory controller"
  check_output "create warned that Memory is not enforced" 'warning: container m1: .*cannot enforce a limit \(Memory: no memory controller\).*not in force' echo "$create_out"
  check_output "info shows it as not enforced" '^UnenforcedLimits: Memory: no memory controller$' sb corralctl info m1
  check_output "and so does the bus" 'as 1 "Memory: no memory controller"' \
    sb busctl get-property org.corral1 /org/corral1/container/m1 org.corral1.Container UnenforcedLimits
  check_output "the journal says it at create and start" 'm1 starts with limits this host cannot enforce \(Memory: no memory controller' \
    sb journalctl --no-pager CORRAL_CONTAINER=m1
  check_fails "corralctl set m1 --memory 32M is refused, naming the controller" \
    'cannot enforce Memory: this host.s cgroups have no memory controller \(cgroup2 at /sys/fs/cgroup offers "".*nothing was changed' \
    sb corralctl set m1 --memory 32M
  check_fails "SetLimits on the bus the same" 'org.corral1.Error.Failed|no memory controller' \
    sb busctl call org.corral1 /org/corral1 org.corral1.Manager SetLimits 'sa{sv}' m1 1 Memory t 33554432
  check_fails "set --pids 20: no pids controller" 'cannot enforce Tasks: .*no pids controller' sb corralctl set m1 --pids 20
  check_fails "set --cpu-weight 200: no cpu controller" 'cannot enforce CPUWeight: .*no cpu controller' sb corralctl set m1 --cpu-weight 200
  check_fails "set --cpu-quota 50%: no cpu controller" 'cannot enforce CPUQuota: .*no cpu controller' sb corralctl set m1 --cpu-quota 50%
  check "nothing changed: Memory is still 134217728" test "$(prop m1 Memory)" = 134217728
  check_output "nor its config" '^memory=134217728$' sb cat /var/lib/corral/containers/m1/config
  check "no OOM kill was counted" test "$(prop m1 OOMKilled)" = false
  memory_now=134217728 tasks_now=0
fi

echo "== bad input changes nothing"
check_fails "an unknown container" 'no container named nosuch' sb corralctl set nosuch --memory 32M
check_fails "a negative memory" 'invalid size' sb corralctl set m1 --memory -5M
check_fails "a malformed memory" 'invalid size' sb corralctl set m1 --memory 12Q
check_fails "too little memory" 'at least 4M' sb corralctl set m1 --memory 1M
check_fails "a negative pids" 'not a number' sb corralctl set m1 --pids -1
check_fails "a CPU weight out of range" 'not a number from 1 to 10000' sb corralctl set m1 --cpu-weight 20000
check_fails "a malformed quota" 'not a number' sb corralctl set m1 --cpu-quota 5x%
check_fails "nothing to set" 'nothing to set' sb corralctl set m1
# Through the bus, below corralctl's own checks.
check_fails "SetLimits with Memory below 4 MiB" 'at least 4 MiB' sb busctl call org.corral1 /org/corral1 org.corral1.Manager SetLimits 'sa{sv}' m1 1 Memory t 1000
check_fails "SetLimits with an unknown key" 'unknown limit Swap' sb busctl call org.corral1 /org/corral1 org.corral1.Manager SetLimits 'sa{sv}' m1 1 Swap t 1
check_fails "SetLimits with a wrong type" 'must be of type t' sb busctl call org.corral1 /org/corral1 org.corral1.Manager SetLimits 'sa{sv}' m1 1 Memory s 32M
check_fails "SetLimits by a non-root user" 'Access denied|AccessDenied|permission denied' sb runuser -u nobody -- busctl call org.corral1 /org/corral1 org.corral1.Manager SetLimits 'sa{sv}' m1 1 Memory t 67108864
check "after all that Memory is still $memory_now" test "$(prop m1 Memory)" = "$memory_now"
[ "$enforced" = yes ] && check "and in force ($(stat m1 memory_limit))" test "$(stat m1 memory_limit)" = 33554432
check "and pids still $tasks_now" test "$(prop m1 Tasks)" = "$tasks_now"

echo "== a stopped container"
check "stop m1" sb corralctl stop m1 --timeout 2
if [ "$enforced" = yes ]; then
  check "set m1 --memory 48M while stopped" sb corralctl set m1 --memory 48M
  check "info shows 50331648" test "$(prop m1 Memory)" = 50331648
  check_output "the config file has it" '^memory=50331648$' sb cat /var/lib/corral/containers/m1/config
  check "systemctl restart corrald" sb systemctl restart corrald
  check "corrald read it back" test "$(prop m1 Memory)" = 50331648
  check "start m1" sb corralctl start m1
  check "the next start has 48M in force ($(stat m1 memory_limit))" test "$(stat m1 memory_limit)" = 50331648
else
  check_fails "set m1 --memory 48M while stopped is refused too" 'cannot enforce Memory: .*no memory controller' \
    sb corralctl set m1 --memory 48M
  check "systemctl restart corrald" sb systemctl restart corrald
  check "corrald read back the unchanged 134217728" test "$(prop m1 Memory)" = 134217728
  check_output "and still says it is not enforced" '^UnenforcedLimits: Memory: no memory controller$' sb corralctl info m1
  check "start m1" sb corralctl start m1
fi
check "OOMKilled starts false again" test "$(prop m1 OOMKilled)" = false
check "StartedAt is set" test "$(prop m1 StartedAt)" -gt 0
check "stop m1" sb corralctl stop m1 --timeout 2
check "FinishedAt ($(prop m1 FinishedAt)) is after StartedAt ($(prop m1 StartedAt))" test "$(prop m1 FinishedAt)" -gt "$(prop m1 StartedAt)"
check "rm m1" sb corralctl rm m1
sleep 1
check "stop the watchers" sb systemctl stop corral-events-watch corral-events-json

echo "== events"
events=$(sb cat /tmp/events.out)
echo "$events" | sed 's/^/    /'
kinds=$(echo "$events" | awk '$2 == "m1" {print $3}' | tr '\n' ' ')
echo "# m1: $kinds"
if [ "$enforced" = yes ]; then
  check_output "created, starting, started, limits, oom in order" '^created starting started limits oom limits stopping stopped' echo "$kinds"
  check_output "then the limits of the stopped container, a new start, the stop, removed" \
    'stopped limits starting started stopping stopped removed $' echo "$kinds"
  check_output "the oom event counts the kills" ' m1 oom kills=[1-9]' echo "$events"
  check_output "the stopped event has the exit status" ' m1 stopped exit_status=[0-9]+ oom_killed=true' echo "$events"
  check_output "the limits event has the new memory" ' m1 limits memory=33554432$' echo "$events"
  oom_killed=true
else
  # Every set was refused: no limits event, and no oom.
  check_output "created, started, stopped, started again, stopped, removed: no limits, no oom" \
    '^created starting started stopping stopped starting started stopping stopped removed $' echo "$kinds"
  check_output "the stopped event has the exit status" ' m1 stopped exit_status=[0-9]+ oom_killed=false' echo "$events"
  oom_killed=false
fi
check_output "events lines start with a time" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+[+-][0-9:]{5} m1 created$' echo "$events"
check "the watcher said nothing on stderr" test -z "$(sb cat /tmp/events.err)"
json=$(sb cat /tmp/events.json)
[ "$enforced" = yes ] && check_output "--json: one object per event" '^\{"time": "[^"]+", "time_usec": [0-9]+, "container": "m1", "event": "oom", "kills": [0-9]+\}$' echo "$json"
check_output "--json: created as an object of its own" '^\{"time": "[^"]+", "time_usec": [0-9]+, "container": "m1", "event": "created"\}$' echo "$json"
check_output "--json: stopped with a number and a boolean" '"event": "stopped", "exit_status": [0-9]+, "oom_killed": (true|false)\}' echo "$json"
check_fails "events with a bad option" 'unknown option' sb corralctl events --bogus

echo "== events --since: what came before, from corrald's journal"
since=$(sb sh -c 'timeout 3 corralctl events --since "1 hour ago" 2>&1; true')
since_kinds=$(echo "$since" | awk '$2 == "m1" {print $3}' | tr '\n' ' ')
echo "# m1 replayed: $since_kinds"
check "the replay has m1's events as the live watcher saw them, in order" test -n "$kinds" -a "$since_kinds" = "$kinds"
check_output "with their details" " m1 stopped exit_status=[0-9]+ oom_killed=$oom_killed" echo "$since"
if [ "$enforced" = yes ]; then
  check_output "--json too" '"container": "m1", "event": "oom", "kills": [0-9]+\}$' \
    sb sh -c 'timeout 3 corralctl events --json --since "1 hour ago"; true'
else
  check_output "--json too" '"container": "m1", "event": "stopped", "exit_status": [0-9]+, "oom_killed": false\}$' \
    sb sh -c 'timeout 3 corralctl events --json --since "1 hour ago"; true'
fi
check_output "--since now replays nothing of m1" '^$' sb sh -c 'timeout 2 corralctl events --since now | grep " m1 "; true'
check_fails "--since that is not a time" '"soonish" is not a time' sb corralctl events --since soonish
check_fails "--since without a time" 'needs a time' sb corralctl events --since

check_output "nothing is left" '^NAME' sb corralctl ls
finish
