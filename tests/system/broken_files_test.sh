#!/usr/bin/env bash
# Broken files and reconciliation at corrald's start (issue 13): an empty, a torn and an
# unparsable config keep their containers listed as `broken` (with the error) so `rm` clears
# them; a garbage or missing state file does not make a running container "stopped" (the scope
# is the truth); a restarted corrald frees the mounts, run directories, scopes and machined
# registrations of containers that do not run, and says so in the journal. Ends with the truth.
# In the throwaway systemd. Prints "N passed, N failed" last.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/system/lib.sh
. tests/system/fault_lib.sh

build_corral
echo "== booting a throwaway systemd with corral installed"
corral_sandbox "$(mktemp -d /tmp/corral-broken-XXXXXX)"

check "corralctl image build busybox" sb corralctl image build busybox
lib=/var/lib/corral/containers
run=/run/corral/containers
# The whole truth (tests/system/fault_lib.sh), and no run directory of a container ls does
# not know (the broken ones are removed).
truth() {
  local whole rundirs
  whole=$(fault_truth)
  rundirs=$(sb sh -c 'for d in /run/corral/containers/*; do
      [ -e "$d" ] || continue; c=$(basename "$d")
      corralctl ls | awk "NR>1 {print \$1}" | grep -qx "$c" || echo "rundir=$d"
    done')
  if [ "$whole" = ok ] && [ -z "$rundirs" ]; then echo ok; else echo "$whole" $rundirs; fi
}

echo "== broken configs"
for c in e1 t1 g1; do sb corralctl create $c --image busybox -- sleep 1000 >/dev/null; done
check "empty e1's config, cut t1's mid-line, garbage in g1's" sb sh -c "
  : > $lib/e1/config
  head -c \$((\$(wc -c < $lib/t1/config) / 2)) $lib/t1/config > /tmp/t && cat /tmp/t > $lib/t1/config
  printf 'this is not a config\n' > $lib/g1/config
  systemctl restart corrald"
check_output "e1, t1, g1 are listed as broken" '^3$' sb sh -c "corralctl ls | grep -cE '^(e1|t1|g1) +broken'"
check_output "the Problem property says t1's config is torn" 'torn' \
  sb busctl get-property org.corral1 /org/corral1/container/t1 org.corral1.Container Problem
check_output "and that e1's is empty" 'empty' \
  sb busctl get-property org.corral1 /org/corral1/container/e1 org.corral1.Container Problem
check_fails "a broken container does not start" 'is broken' sb corralctl start t1
check_fails "its name stays taken" 'exists' sb corralctl create t1 --image busybox -- true
check "rm clears each" sb sh -c 'corralctl rm e1 && corralctl rm t1 && corralctl rm g1'
check_output "gone, with their directories" '^ok$' sb sh -c "corralctl ls | grep -qE '^(e1|t1|g1) ' || ls $lib | grep -qE '^(e1|t1|g1)$' || echo ok"
check "the name can be used again" sb corralctl create t1 --image busybox -- sleep 1000

echo "== a garbage state file does not stop a running container"
sb corralctl create r1 --image busybox -- sh -c 'exec sleep 1000' >/dev/null
check "start r1" sb corralctl start r1
leader=$(sb corralctl ls | awk '$1=="r1" {print $3}')
check "garbage in r1's state file, then corrald restarts" sb sh -c "printf '\\001garbage\\n' > $run/r1/state && systemctl restart corrald"
check_output "r1 is still running, leader $leader" "^r1 +running +$leader " sb corralctl ls
check_output "and exec works" '^inside$' sb corralctl exec r1 -- echo inside
check "its state file gone entirely, corrald restarts again" sb sh -c "rm $run/r1/state && systemctl restart corrald"
check_output "r1 is still running" "^r1 +running +$leader " sb corralctl ls
check "r1 stops" sb corralctl stop r1
check_output "the truth afterwards" '^ok$' truth

echo "== reconciliation at corrald's start"
check "strays: a mount under $run/ghost, a run dir, a scope corral-ghost2.scope" sb sh -c "
  mkdir -p $run/ghost/rootfs $run/ghost3 && mount -t tmpfs ghost $run/ghost/rootfs && touch $run/ghost3/state
  systemd-run --quiet --scope --unit=corral-ghost2 --slice=machine.slice sleep 1000 >/dev/null 2>&1 &
  for i in \$(seq 50); do systemctl -q is-active corral-ghost2.scope && exit 0; sleep 0.1; done; exit 1"
# A machine registered by corral for a container that does not exist (as a crash leaves them).
check "a stray machine registration ghost4" sb sh -c '
  systemd-run --quiet --scope --unit=ghost4-holder sleep 1000 >/dev/null 2>&1 &
  for i in $(seq 50); do p=$(systemctl show -p MainPID --value ghost4-holder.scope 2>/dev/null); [ -n "$p" ] && [ "$p" != 0 ] && break
    p=$(cat /sys/fs/cgroup/unified/system.slice/ghost4-holder.scope/cgroup.procs /sys/fs/cgroup/system.slice/ghost4-holder.scope/cgroup.procs 2>/dev/null | head -1)
    [ -n "$p" ] && break; sleep 0.1; done
  busctl call org.freedesktop.machine1 /org/freedesktop/machine1 org.freedesktop.machine1.Manager RegisterMachine sayssus ghost4 0 corral container "$p" / &&
  machinectl list --no-legend | grep -q ghost4'
check "systemctl restart corrald" sb systemctl restart corrald
check "corrald answers" sb corralctl ls
journal() { sb journalctl -u corrald --no-pager -o cat; }
check_output "the mount is gone" '^none$' sb sh -c "grep -q ' $run/ghost/rootfs ' /proc/self/mountinfo && echo present || echo none"
check_output "the run dirs are gone" '^none$' sb sh -c "ls $run | grep -q ghost && echo present || echo none"
check_output "the scope is stopped" '^stopped$' sb sh -c 'for i in $(seq 50); do systemctl -q is-active corral-ghost2.scope || { echo stopped; exit; }; sleep 0.1; done'
check_output "the machine is unregistered" '^none$' sb sh -c 'for i in $(seq 30); do machinectl list --no-legend | grep -q ghost4 || { echo none; exit; }; sleep 0.1; done'
check_output "the journal says what was freed" 'unmounted /run/corral/containers/ghost/rootfs' journal
check_output "(the scope)" 'killed and stopped corral-ghost2.scope' journal
check_output "(the machine)" 'unregistered machine ghost4' journal
sb systemctl stop ghost4-holder.scope >/dev/null 2>&1

echo "== cleanup"
sb sh -c 'for c in r1 t1; do corralctl rm $c; done' >/dev/null 2>&1
check_output "the truth at the end" '^ok$' truth
check_output "no scope of corral is left" '^0$' sb sh -c "systemctl list-units --no-legend 'corral-*.scope' | grep -c ."
finish
