#!/usr/bin/env bash
# Nothing outlives its container on the bridge network (issue 13): after an unclean end
# (`systemctl stop corral-X.scope` kills the supervisor with the rest of the scope) and `rm`,
# the port forward is gone from `table ip corral` and another container may take the port;
# corrald's start frees leases and forwards of names it does not know; error texts with
# non-ASCII names and hostnames are answered at once. In the throwaway systemd, whose network
# namespace is its own. Prints "N passed, N failed" last.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/system/lib.sh

build_corral
echo "== booting a throwaway systemd with corral installed"
corral_sandbox "$(mktemp -d /tmp/corral-reclaim-XXXXXX)"

check "corralctl image build busybox" sb corralctl image build busybox

leases=/var/lib/corral/network/leases
# address NAME: the container's bridge address, without the prefix.
address() {
  sb busctl get-property org.corral1 "/org/corral1/container/$1" org.corral1.Container Addresses |
    sed -n 's|^as 1 "\([0-9.]*\)/[0-9]*"$|\1|p'
}
# wait_stopped NAME: until corrald has seen the end (at most 10 s).
wait_stopped() {
  sb sh -c "for i in \$(seq 100); do corralctl ls | grep -Eq '^$1 +stopped' && exit 0; sleep 0.1; done; exit 1"
}
forwards() { sb nft list map ip corral tcp_forwards; }

echo "== an unclean end, then rm: the forward goes with the lease"
sb corralctl create x1 --image busybox -p 8080:80 -- sh -c 'exec sleep 1000' >/dev/null
check "start x1 (-p 8080:80)" sb corralctl start x1
a1=$(address x1)
check_output "the map forwards 8080 to x1 ($a1)" "8080 : $a1 \. 80" forwards
check "systemctl stop corral-x1.scope (supervisor and container killed together)" sb systemctl stop corral-x1.scope
check "corrald sees x1 stopped" wait_stopped x1
check_output "x1 keeps its address (a stopped container does) without its forward" "^x1 $a1 [^ ]+ -$" sb cat $leases
# absent "what" PATTERN: prints "none" when the forward maps have no match for the fixed PATTERN.
absent() { sb sh -c "nft list map ip corral tcp_forwards | grep -qF -- '$1' && echo present || echo none"; }
check_output "the map has no element for $a1 any more" '^none$' absent " : $a1 . "
check "x1 is removed" sb corralctl rm x1
check_output "and its lease is gone" '^none$' sb sh -c "grep -q '^x1 ' $leases && echo present || echo none"
sb corralctl create x2 --image busybox -p 8080:80 -- sh -c 'exec sleep 1000' >/dev/null
check "another container takes -p 8080:80" sb corralctl start x2
a2=$(address x2)
check_output "the map forwards 8080 to x2 ($a2) only" "elements = \{ 8080 : $a2 \. 80 \}" forwards
check_output "the forward reaches x2" 'served-by-x2' \
  sb sh -c 'corralctl exec x2 -- sh -c "echo served-by-x2 | nc -l -p 80 -w 5" & sleep 0.5; busybox nc -w 2 10.77.0.1 8080 </dev/null; wait'

echo "== a second round: x2 ends uncleanly, is removed, its address goes to one that asked for no port"
check "systemctl stop corral-x2.scope" sb systemctl stop corral-x2.scope
check "corrald sees x2 stopped" wait_stopped x2
check "x2 is removed" sb corralctl rm x2
sb corralctl create x0 --image busybox -- sh -c 'exec sleep 1000' >/dev/null
check "start x0 (no ports)" sb corralctl start x0
check_output "x0 is given x2's freed address $a2" "^$a2\$" address x0
check_output "and no element sends 8080 to it" '^none$' absent " : $a2 . "
sb corralctl create x3 --image busybox -p 8080:80 -- sh -c 'exec sleep 1000' >/dev/null
check "x3 takes -p 8080:80" sb corralctl start x3
a3=$(address x3)
check_output "the map forwards 8080 to x3 ($a3) only" "elements = \{ 8080 : $a3 \. 80 \}" forwards
check_output "no veth is left on the bridge but x0's and x3's" '^2$' \
  sb sh -c 'for i in $(seq 30); do [ "$(ip -o link show master corral0 | grep -c " ve-")" -le 2 ] && break; sleep 0.1; done
    ip -o link show master corral0 | grep -c " ve-"'

echo "== corrald's start frees what belongs to no container it knows"
# A lease and a forward of a name nobody knows (a container of an earlier install, a crash).
sb sh -c "n=\$(grep -vc '^corral-leases \|^end ' $leases)
  { echo 'corral-leases 1'; grep -v '^corral-leases \|^end ' $leases; echo 'stranger 10.77.0.50 ve-stranger tcp:9090:80'
    echo \"end \$((n + 1))\"; } > $leases.new && mv $leases.new $leases
  nft add element ip corral tcp_forwards '{ 9090 : 10.77.0.50 . 80 }'"
check_output "the stranger's lease is there" '^stranger ' sb cat $leases
check "systemctl restart corrald" sb systemctl restart corrald
check "corrald answers again" sb corralctl ls
check_output "the stranger's lease is freed" '^none$' sb sh -c "grep -q '^stranger ' $leases && echo present || echo none"
check_output "and its forward" '^none$' absent "9090 :"
check_output "x3's forward stays (x3 runs)" "8080 : $a3 \. 80" forwards
check_output "the journal says what was freed" 'reclaimed at start: freed the lease of stranger' \
  sb journalctl -u corrald --no-pager -o cat

echo "== a broken leases file: allocation refused, nothing handed out twice"
sb cp $leases /tmp/leases.saved
sb sh -c ": > $leases"
sb corralctl create x4 --image busybox -- sh -c 'exec sleep 1000' >/dev/null
check_fails "a start with an emptied leases file fails naming the file" "$leases: leases file is empty" \
  sb corralctl start x4
sb sh -c "cp /tmp/leases.saved $leases"
check "with the file restored, x4 starts" sb corralctl start x4
a4=$(address x4)
check_output "and gets an address of its own ($a4; x0 has $(address x0), x3 $a3)" '^ok$' \
  sh -c "[ -n '$a4' ] && [ '$a4' != '$(address x0)' ] && [ '$a4' != '$a3' ] && echo ok"

echo "== error texts that can always be sent"
# gdbus prints the D-Bus error's name; without a valid UTF-8 text sd-bus sends no reply at all.
check_fails "CreateContainer café answers InvalidName at once" 'org.corral1.Error.InvalidName' \
  timeout 10 tools/sandbox/sandbox.sh run "$sandbox_state" -- gdbus call --system --timeout 5 --dest org.corral1 \
  --object-path /org/corral1 --method org.corral1.Manager.CreateContainer 'café' busybox '{}'
check_fails "corralctl create xé is refused quickly" 'invalid container name "x\\xc3\\xa9": it contains' \
  timeout 10 tools/sandbox/sandbox.sh run "$sandbox_state" -- corralctl create 'xé' --image busybox
check_fails "CreateContainer with Hostname hé answers InvalidArgument at once" \
  'org.corral1.Error.InvalidArgument: .*invalid hostname "h\\xc3\\xa9": it contains' \
  timeout 10 tools/sandbox/sandbox.sh run "$sandbox_state" -- gdbus call --system --timeout 5 --dest org.corral1 \
  --object-path /org/corral1 --method org.corral1.Manager.CreateContainer h1 busybox "{'Hostname': <'hé'>}"

echo "== a deaf corrald cannot hang corralctl"
corrald_pid=$(sb systemctl show -p MainPID --value corrald)
sb kill -STOP "$corrald_pid"
check_fails "corralctl ls against a stopped corrald gives up (CORRALCTL_TIMEOUT=2)" 'did not answer in time' \
  sb env CORRALCTL_TIMEOUT=2 timeout 20 corralctl ls
sb kill -CONT "$corrald_pid"
check "and corrald answers again once it runs" sb corralctl ls

echo "== cleanup"
sb sh -c 'for c in x0 x3 x4; do corralctl stop $c; corralctl rm $c; done' >/dev/null 2>&1
# A stopped container's veth goes with its network namespace, in the kernel's own time (rm does
# not wait for it): give that a moment.
check_output "no lease, forward or veth is left" '^corral-leases 1 end 0 0 0$' sb sh -c "
  for i in \$(seq 30); do ip -o link show master corral0 | grep -q ' ve-' || break; sleep 0.1; done
  echo \$(cat $leases) \$(nft list map ip corral tcp_forwards | grep -c elements) \$(ip -o link show master corral0 | grep -c ' ve-')"
finish
