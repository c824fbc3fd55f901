#!/usr/bin/env bash
# No container without its supervisor (issue 13): kill -9 of a container's supervisor kills the
# container (its init is bound with PR_SET_PDEATHSIG), corrald reports it stopped, stops its
# scope, frees its forward and mounts, and the next container takes the port; `rm` is refused
# while the scope has processes. corral-run killed with SIGKILL takes its container along, and a
# second run asking for the same -p works. Each part ends by checking the truth: `corralctl
# ls` agrees with the scopes, nothing is left that belongs to no living container. In the
# throwaway systemd. Prints "N passed, N failed" last.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/system/lib.sh

build_corral
echo "== booting a throwaway systemd with corral installed"
corral_sandbox "$(mktemp -d /tmp/corral-supervision-XXXXXX)"

check "corralctl image build busybox" sb corralctl image build busybox
leases=/var/lib/corral/network/leases
forwards() { sb nft list map ip corral tcp_forwards; }
absent() { sb sh -c "nft list map ip corral tcp_forwards | grep -qF -- '$1' && echo present || echo none"; }
address() {
  sb busctl get-property org.corral1 "/org/corral1/container/$1" org.corral1.Container Addresses |
    sed -n 's|^as 1 "\([0-9.]*\)/[0-9]*"$|\1|p'
}
wait_stopped() {
  sb sh -c "for i in \$(seq 100); do corralctl ls | grep -Eq '^$1 +stopped' && exit 0; sleep 0.1; done; exit 1"
}
# truth: every running container of `corralctl ls` has a populated scope and every populated
# corral-*.scope is a running container; no mount under /run/corral or /var/lib/corral of a
# container that is not running; prints "ok" or what disagrees.
truth() {
  sb sh -c '
    bad=""
    running=$(corralctl ls | awk "NR>1 && \$2==\"running\" {print \$1}" | sort)
    scopes=$(for f in /sys/fs/cgroup/unified/machine.slice/corral-*.scope/cgroup.events /sys/fs/cgroup/machine.slice/corral-*.scope/cgroup.events; do
        [ -e "$f" ] && grep -q "populated 1" "$f" && basename $(dirname "$f") .scope | sed "s/^corral-//"; done | grep -v "^run-" | sort -u)
    [ "$running" = "$scopes" ] || bad="$bad ls=[$running] scopes=[$scopes]"
    for m in $(awk "{print \$5}" /proc/self/mountinfo | grep -E "^/run/corral/containers/|^/var/lib/corral/containers/"); do
      c=$(echo "$m" | cut -d/ -f5)
      echo "$running" | grep -qx "$c" || bad="$bad mount=$m"
    done
    for d in /run/corral/containers/*/state; do
      [ -e "$d" ] || continue
      c=$(basename $(dirname "$d")); echo "$running" | grep -qx "$c" || bad="$bad state=$d"
    done
    echo "${bad:-ok}"'
}

echo "== kill -9 of the supervisor"
sb corralctl create s1 --image busybox -p 8090:80 -- sh -c 'exec sleep 1000' >/dev/null
check "start s1 (-p 8090:80)" sb corralctl start s1
a1=$(address s1)
leader=$(sb corralctl ls | awk '$1=="s1" {print $3}')
supervisor=$(sb sed -n 's/^supervisor=//p' /run/corral/containers/s1/state)
check_output "the map forwards 8090 to s1 ($a1)" "8090 : $a1 \. 80" forwards
check_output "the supervisor ($supervisor) and the leader ($leader) are known" '^ok$' \
  sh -c "[ -n '$supervisor' ] && [ -n '$leader' ] && [ '$leader' != 0 ] && echo ok"
check "kill -9 of s1's supervisor" sb kill -9 "$supervisor"
check "corrald reports s1 stopped" wait_stopped s1
check_output "the container's init ($leader) is gone with its supervisor" '^gone$' \
  sb sh -c "for i in \$(seq 50); do kill -0 $leader 2>/dev/null || { echo gone; exit; }; sleep 0.1; done; echo alive"
check_output "the scope corral-s1.scope is gone or empty" '^empty$' \
  sb sh -c "for i in \$(seq 50); do systemctl -q is-active corral-s1.scope || { echo empty; exit; }; sleep 0.1; done; systemctl status corral-s1.scope"
check_output "s1's forward is freed" '^none$' absent " : $a1 . "
check_output "s1 keeps its address, without a forward" "^s1 $a1 [^ ]+ -$" sb cat $leases
sb corralctl create s2 --image busybox -p 8090:80 -- sh -c 'exec sleep 1000' >/dev/null
check "the next container takes -p 8090:80" sb corralctl start s2
a2=$(address s2)
check_output "the map forwards 8090 to s2 ($a2) only" "elements = \{ 8090 : $a2 \. 80 \}" forwards
check_output "ls agrees with the scopes, no stray mount or state file" '^ok$' truth
check "s2 stops" sb corralctl stop s2
check "s1 starts again" sb corralctl start s1
check_output "on its kept address $a1" "^$a1\$" address s1
check "and stops" sb corralctl stop s1

echo "== rm is refused while the scope has processes"
# A process of s1's scope that outlives its supervisor (what an escape from the PID
# namespace's end would be): made here by a transient scope of that name with a sleep in it.
check "a scope corral-s3.scope with a process but no supervisor" \
  sb sh -c 'corralctl create s3 --image busybox -- sleep 1000 >/dev/null && systemd-run --scope --unit=corral-s3 --slice=machine.slice sleep 1000 >/dev/null 2>&1 &
    for i in $(seq 50); do systemctl -q is-active corral-s3.scope && exit 0; sleep 0.1; done; exit 1'
check_fails "rm s3 is refused" 'still has processes' sb corralctl rm s3
check "systemctl stop corral-s3.scope" sb systemctl stop corral-s3.scope
check "then rm s3 succeeds" sb sh -c 'for i in $(seq 30); do corralctl rm s3 2>/dev/null && exit 0; sleep 0.1; done; corralctl rm s3'

echo "== corral-run killed with SIGKILL"
crun=/var/lib/corral/test-crun
check "a rootfs for corral-run" sb sh -c "rm -rf $crun && mkdir $crun && cp -a /var/lib/corral/images/busybox/rootfs/. $crun/"
# Started in the background in a unit of its own; its pid goes to a file.
sb sh -c "corral-run --rootfs $crun -p 8091:80 -- sh -c 'echo up; exec sleep 1000' > /tmp/crun.out 2>&1 & echo \$! > /tmp/crun.pid; wait" &
bg=$!
check "corral-run is up" sb sh -c 'for i in $(seq 100); do grep -q up /tmp/crun.out 2>/dev/null && exit 0; sleep 0.1; done; cat /tmp/crun.out; exit 1'
crun_pid=$(sb cat /tmp/crun.pid)
crun_child=$(sb sh -c "cat /proc/$crun_pid/task/$crun_pid/children" | awk '{print $1}')
check_output "its forward of 8091 is there" "8091 : " forwards
check "kill -9 corral-run ($crun_pid)" sb kill -9 "$crun_pid"
wait $bg 2>/dev/null
check_output "its container ($crun_child) died with it" '^gone$' \
  sb sh -c "for i in \$(seq 50); do kill -0 $crun_child 2>/dev/null || { echo gone; exit; }; sleep 0.1; done; echo alive"
check_output "a second corral-run with -p 8091:80 works" '^second$' \
  sb timeout 20 corral-run --rootfs $crun -p 8091:80 -- echo second
check_output "and nothing of corral-run is left in the leases" '^none$' \
  sb sh -c "grep -q '^run-' $leases && echo present || echo none"
check_output "nor in the forwards" '^none$' absent "8091 :"

echo "== cleanup"
sb sh -c 'for c in s1 s2; do corralctl stop $c; corralctl rm $c; done' >/dev/null 2>&1
sb rm -rf $crun
check_output "ls agrees with the scopes at the end" '^ok$' truth
check_output "no lease, forward or veth is left" '^corral-leases 1 end 0 0 0$' sb sh -c "
  for i in \$(seq 30); do ip -o link show master corral0 | grep -q ' ve-' || break; sleep 0.1; done
  echo \$(cat $leases) \$(nft list map ip corral tcp_forwards | grep -c elements) \$(ip -o link show master corral0 | grep -c ' ve-')"
check_output "no scope of corral is left" '^0$' sb sh -c "systemctl list-units --no-legend 'corral-*.scope' | grep -c ."
finish
