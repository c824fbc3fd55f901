#!/usr/bin/env bash
# corrald end to end against a real systemd, the real system bus and real machined, in a
# throwaway systemd (tools/sandbox/sandbox.sh) since PID 1 here is not systemd: busctl, systemctl,
# machinectl and corralctl as a user drives them. Prints "N passed, N failed" last.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/system/lib.sh

build_corral
echo "== booting a throwaway systemd with corral installed"
corral_sandbox "$(mktemp -d /tmp/corral-systest-XXXXXX)"
# The same as sb, as user nobody. setpriv keeps its capabilities until its own execve (the
# lookup of CMD's path would pass any directory mode), so CMD is exec'd by a shell that is
# nobody all through.
as_nobody() {
  timeout 60 tools/sandbox/sandbox.sh run "$sandbox_state" -- \
    setpriv --reuid=nobody --regid=nogroup --clear-groups sh -c 'exec "$@"' sh "$@"
}

check "corralctl image build busybox" sb corralctl image build busybox

echo "== D-Bus contract"
check_output "D-Bus activation starts corrald and introspection shows the Manager" \
  'CreateContainer.*ssa\{sv\}' sb busctl introspect org.corral1 /org/corral1 org.corral1.Manager
for member in StartContainer StopContainer KillContainer RemoveContainer ListContainers GetContainer OpenConsole Exec ContainerNew ContainerRemoved; do
  check_output "introspection lists $member" "\\.$member " sb busctl introspect org.corral1 /org/corral1 org.corral1.Manager
done

echo "== create and start through busctl"
check_output "CreateContainer web (bridge, port 8080->80, 64M, 100 tasks)" '^o "/org/corral1/container/web"' \
  sb busctl call org.corral1 /org/corral1 org.corral1.Manager CreateContainer 'ssa{sv}' web busybox 4 \
  Memory t 67108864 Tasks t 100 Ports 'a(sqq)' 1 tcp 8080 80 Hostname s webhost
check "StartContainer web" sb busctl call --timeout=30 org.corral1 /org/corral1 org.corral1.Manager StartContainer s web
check_output "ListContainers shows web running" '"web" "running" [1-9][0-9]* "/org/corral1/container/web"' \
  sb busctl call org.corral1 /org/corral1 org.corral1.Manager ListContainers
check_output "State property is running" 's "running"' \
  sb busctl get-property org.corral1 /org/corral1/container/web org.corral1.Container State
check_output "Addresses property has a bridge address" 'as 1 "10\.77\.0\.[0-9]+/16"' \
  sb busctl get-property org.corral1 /org/corral1/container/web org.corral1.Container Addresses

echo "== the scope"
check_output "corral-web.scope: Delegate, machine.slice, MemoryMax, TasksMax" \
  'Delegate=yes.*Slice=machine.slice.*MemoryMax=67108864.*TasksMax=100|Slice=machine.slice' \
  sb sh -c 'systemctl show corral-web.scope -p Delegate,Slice,MemoryMax,TasksMax | sort | tr "\n" " "; echo'
check_output "systemctl show: every property as asked" 'Delegate=yes MemoryMax=67108864 Slice=machine.slice TasksMax=100' \
  sb sh -c 'systemctl show corral-web.scope -p Delegate,Slice,MemoryMax,TasksMax | sort | tr "\n" " "'
leader=$(sb busctl get-property org.corral1 /org/corral1/container/web org.corral1.Container Leader | awk '{print $2}')
check_output "the container's init is in the scope's payload leaf" 'machine.slice/corral-web.scope/payload' \
  sb cat "/proc/$leader/cgroup"
check_output "machinectl list shows web" '^web +container +corral' sb machinectl list --no-legend
check_output "machinectl status web names the scope" 'corral-web.scope' sb machinectl status web

echo "== exec, console"
check_output "corralctl exec: both streams and the exit status" '^out err status=7 $' \
  sb sh -c '(corralctl exec web -- sh -c "echo out; sleep 0.1; echo err >&2; exit 7" 2>&1; echo "status=$?") | tr "\n" " "'
check_output "corralctl exec: stdout and stderr stay apart" '^err$' \
  sb sh -c 'corralctl exec web -- sh -c "echo out; echo err >&2" 2>&1 >/dev/null'
check_output "corralctl exec: stdin passes through" '^piped-in$' sb sh -c 'echo piped-in | corralctl exec web -- cat'
check_output "corralctl exec runs in the container (hostname, pid namespace)" '^webhost [0-9]+$' \
  sb corralctl exec web -- sh -c 'echo $(hostname) $(cat /proc/1/stat | cut -d" " -f1)'
check_output "corralctl exec -t gets a pty" '/dev/pts/[0-9]+' sb sh -c 'script -qec "corralctl exec -t web -- tty" /dev/null'
check_output "corralctl console shows the busybox shell and detaches on Ctrl-a q" 'hello-console' \
  sb sh -c '(sleep 0.5; printf "echo hello-console\r"; sleep 1; printf "\001q") | script -qec "corralctl console web" /dev/null'
check_output "the port forward reaches the container" 'served-by-web' \
  sb sh -c 'corralctl exec web -- sh -c "echo served-by-web | nc -l -p 80 -w 5" & sleep 0.5; busybox nc -w 2 10.77.0.1 8080 </dev/null; wait'
check_output "corralctl ls shows web" 'web +running' sb corralctl ls
# Where the start's time went, in order: corrald's part, the supervisor's breakdown, machined.
check_output "StartPhases: scope (the rootfs mounted meanwhile), overlay, network, clone, exec, machined, in order" \
  '^a\(st\) [0-9]+ "fork supervisor" [0-9]+ "scope" [0-9]+ ("idmapped image" [0-9]+ )?"overlay rootfs" [0-9]+ "wait for go" [0-9]+ "cgroup leaves" [0-9]+ .*"network prepare" [0-9]+ "prepare" [0-9]+ "clone" [0-9]+ ("id maps" [0-9]+ )?"payload cgroup" [0-9]+ "network attach" [0-9]+ "setup and exec" [0-9]+ "state file" [0-9]+ "supervisor report" [0-9]+ "machined registration" [0-9]+$' \
  sb busctl get-property org.corral1 /org/corral1/container/web org.corral1.Container StartPhases
check_output "corralctl info shows the start phases" '^StartPhases: fork supervisor [0-9.]+ ms, scope [0-9.]+ ms, .*machined registration [0-9.]+ ms$' \
  sb corralctl info web
check_output "killing corralctl exec ends the command inside too" '^none$' sb sh -c '
  corralctl exec web -- sleep 1000 & p=$!; sleep 0.5; kill -TERM $p; wait $p; sleep 0.3
  corralctl exec web -- sh -c "ps | grep -v grep | grep -q \"sleep 1000\" && echo alive || echo none"'

echo "== bad input changes nothing"
# gdbus, since it prints the D-Bus error's name (busctl prints only its message).
mgr() { sb gdbus call --system --dest org.corral1 --object-path /org/corral1 --method "org.corral1.Manager.$1" "${@:2}"; }
check_fails "invalid name" 'org.corral1.Error.InvalidName' mgr CreateContainer 'bad/name' busybox '{}'
check_fails "unknown container" 'org.corral1.Error.NoSuchContainer' mgr StartContainer nosuch
check_fails "wrong type in options" 'org.corral1.Error.InvalidArgument: option Memory' mgr CreateContainer x1 busybox "{'Memory': <'lots'>}"
check_fails "unknown option" 'org.corral1.Error.InvalidArgument: unknown option Colour' mgr CreateContainer x1 busybox "{'Colour': <'red'>}"
check_fails "a port out of range" 'org.corral1.Error.InvalidArgument' mgr CreateContainer x1 busybox "{'Ports': <[('tcp', uint16 0, uint16 80)]>}"
check_fails "overlapping forwards" 'org.corral1.Error.InvalidArgument' mgr CreateContainer x1 busybox "{'Ports': <[('tcp', uint16 81, uint16 80), ('tcp', uint16 81, uint16 82)]>}"
check_fails "missing image" 'org.corral1.Error.InvalidArgument: image /nonexistent' mgr CreateContainer x1 /nonexistent '{}'
check_fails "duplicate create" 'org.corral1.Error.ContainerExists' mgr CreateContainer web busybox '{}'
check_fails "remove while running" 'org.corral1.Error.AlreadyRunning' mgr RemoveContainer web
check_fails "start while running" 'org.corral1.Error.AlreadyRunning' mgr StartContainer web
check_fails "stop of an unknown container" 'org.corral1.Error.NoSuchContainer' mgr StopContainer nosuch
check_fails "a start that fails says why (a bind-mounted image gone missing)" 'mount the overlay rootfs' \
  sb sh -c 'mkdir -p /tmp/gone && cp -a /var/lib/corral/images/busybox/rootfs/. /tmp/gone/ &&
            corralctl create gone --image /tmp/gone >/dev/null && rm -rf /tmp/gone && corralctl start gone'
check_output "and leaves no run directory, scope or mount behind" '^stopped 0 0 0$' sb sh -c '
  echo $(busctl get-property org.corral1 /org/corral1/container/gone org.corral1.Container State | cut -d\" -f2) \
       $(ls /run/corral/containers | grep -c "^gone$") $(systemctl list-units --all --no-legend corral-gone.scope | grep -c .) \
       $(grep -c /run/corral/containers/gone /proc/self/mountinfo); corralctl rm gone >/dev/null'
check_fails "a signal that does not exist" 'org.corral1.Error.InvalidArgument' mgr KillContainer web 99
check_output "nothing was created by the bad calls" '^1$' \
  sb sh -c 'busctl call org.corral1 /org/corral1 org.corral1.Manager ListContainers | cut -d" " -f2; ls /var/lib/corral/containers | grep -c .'
check_output "a non-root caller can list" '"web" "running"' \
  as_nobody busctl call org.corral1 /org/corral1 org.corral1.Manager ListContainers
check_fails "a non-root caller cannot stop" 'AccessDenied' \
  as_nobody gdbus call --system --dest org.corral1 --object-path /org/corral1 --method org.corral1.Manager.StopContainer web
check_fails "a non-root caller cannot create" 'AccessDenied' \
  as_nobody gdbus call --system --dest org.corral1 --object-path /org/corral1 --method org.corral1.Manager.CreateContainer x2 busybox '{}'

check_output "corrald's private socket is root's alone" '^(600|700) root$' sb stat -c '%a %U' /run/corral/private
check_output "a non-root user can run corralctl ls (over the system bus)" 'web +running' as_nobody corralctl ls
check_fails "a non-root user cannot exec" 'permission denied' as_nobody corralctl exec web -- true

echo "== root-only state and properties"
check_output "state directories: /var/lib/corral, /run/corral and its containers/ 0711, containers, images 0700" \
  '^711 700 700 700 711 711 $' sb sh -c 'for d in /var/lib/corral /var/lib/corral/containers /var/lib/corral/images \
    /var/lib/corral/images/busybox /run/corral /run/corral/containers; do printf "%s " $(stat -c %a $d); done'
check_fails "nobody cannot reach a running container's rootfs" 'Permission denied' \
  as_nobody ls /run/corral/containers/web/rootfs/bin
# A command line may carry a secret; the Command property is root's (others read an empty list,
# so GetAll and corralctl ls/info keep working for them), and no signal carries it.
sb sh -c 'setpriv --reuid=nobody --regid=nogroup --clear-groups timeout 3 gdbus monitor --system --dest org.corral1 \
  >/tmp/corral-monitor.txt 2>&1 & sleep 1; corralctl create secret --image busybox --net none -- echo TOKEN-s3cr3t >/dev/null; wait'
check_output "root reads the Command property" 'as 2 "echo" "TOKEN-s3cr3t"' \
  sb busctl get-property org.corral1 /org/corral1/container/secret org.corral1.Container Command
check_output "and so does root's corralctl info (over the private socket)" '^Command: +echo.*TOKEN-s3cr3t' \
  sb sh -c 'corralctl info secret | grep "^Command:"'
check_output "a non-root caller reads it empty" '^as 0$' \
  as_nobody busctl get-property org.corral1 /org/corral1/container/secret org.corral1.Container Command
check_output "and in GetAll, which still works for it" '"Command" as 0 ' \
  as_nobody sh -c 'busctl call org.corral1 /org/corral1/container/secret org.freedesktop.DBus.Properties GetAll s org.corral1.Container'
check_output "a non-root user's corralctl info works and shows no command" '^Name: +secret .*Command: *(\[\])? *$' \
  as_nobody sh -c 'corralctl info secret | grep -E "^(Name|Command):" | tr -s "\n" " "; echo'
check_output "a non-root listener saw the new container's InterfacesAdded, without the command" '^[1-9][0-9]* 0$' \
  sb sh -c 'echo $(grep -c InterfacesAdded /tmp/corral-monitor.txt) $(grep -c TOKEN /tmp/corral-monitor.txt); rm -f /tmp/corral-monitor.txt'
sb corralctl rm secret >/dev/null
check_fails "a non-root caller cannot run CheckConfig (it describes the host's firewall)" 'org.corral1.Error.AccessDenied' \
  as_nobody gdbus call --system --dest org.corral1 --object-path /org/corral1 --method org.corral1.Manager.CheckConfig
check_fails "nor corralctl checkconfig" 'permission denied' as_nobody corralctl checkconfig
check "root can" sb corralctl checkconfig

echo "== a setuid binary in an imported image (moby CVE-2021-41091)"
sb sh -c 'd=$(mktemp -d) && chmod 0755 $d && mkdir $d/etc $d/bin && cp /usr/bin/id $d/bin/id && chmod 4755 $d/bin/id &&
  tar -C $d -cf /tmp/corral-suid.tar . && rm -rf $d && corralctl image import suid /tmp/corral-suid.tar >/dev/null; rm -f /tmp/corral-suid.tar'
suid=/var/lib/corral/images/suid/rootfs/bin/id
check_output "the image keeps its setuid binary" '^4755 root$' sb stat -c '%a %U' $suid
check_fails "user nobody cannot run it from the store" 'Permission denied' as_nobody $suid -u
check_fails "nor list the store (corralctl images says why)" "the image store is root's" as_nobody corralctl images
# What an older corral left (0755 everywhere): the attack works there, so the check above means
# something; an upgrade with install.sh shuts it again.
sb chmod 0755 /var/lib/corral /var/lib/corral/images /var/lib/corral/images/suid
check_output "(control) with an older corral's modes nobody gets euid 0 from it" '^0$' as_nobody $suid -u
check "install.sh again (an upgrade)" sb env CORRAL_BIN_DIR="$bin" "$root/tools/install.sh"
check_output "the upgrade made the store root's again" '^711 700 700 $' sb sh -c \
  'for d in /var/lib/corral /var/lib/corral/images /var/lib/corral/images/suid; do printf "%s " $(stat -c %a $d); done'
check_fails "and nobody cannot run the setuid binary any more" 'Permission denied' as_nobody $suid -u
sb rm -rf /var/lib/corral/images/suid

range_before=$(sb corralctl info web | awk '/^UIDRange:/ {print $2}')
echo "== corrald restarts; the container does not"
check "systemctl restart corrald" sb systemctl restart corrald
check_output "after a restart, web is still running with the same leader" "\"web\" \"running\" $leader " \
  sb busctl call org.corral1 /org/corral1 org.corral1.Manager ListContainers
check "kill -9 corrald" sb sh -c 'kill -9 $(systemctl show -p MainPID --value corrald)'
check_output "after kill -9, the next call finds web running" "\"web\" \"running\" $leader " \
  sb sh -c 'sleep 1; busctl call org.corral1 /org/corral1 org.corral1.Manager ListContainers'
check_output "exec still works after the restarts" '^alive$' sb corralctl exec web -- echo alive
check_output "after the restarts, web keeps its uid range" "^UIDRange: +$range_before\$" sb sh -c 'corralctl info web | grep "^UIDRange:"'


echo "== user namespaces"
range=$(sb corralctl info web | awk '/^UIDRange:/ {print $2}')
first=${range%-*}
check_output "web has a range of 65536 host uids of its own (corralctl info)" '^[0-9]+ 65536$' \
  sh -c "echo $first \$(( ${range#*-} - $first + 1 ))"
check_output "corralctl info: web is not privileged" '^Privileged: +false$' sb corralctl info web
check_output "checkconfig finds no user namespace problem (the pool loads, the image store can be idmapped)" '^0$' \
  sb sh -c 'corralctl checkconfig | grep -c "user namespace"'
check_output "web's leader runs as the first uid and gid of its range, seen from the host" "^$first $first\$" \
  sb awk '/^Uid:/ {u = $2} /^Gid:/ {g = $2} END {print u, g}' "/proc/$leader/status"
check_output "web's leader is in a user namespace that is not the host's" '^own$' \
  sb sh -c "[ \$(readlink /proc/$leader/ns/user) != \$(readlink /proc/self/ns/user) ] && echo own"
check_output "inside, root maps to the range (uid_map)" "^ *0 +$first +65536\$" sb corralctl exec web -- cat /proc/self/uid_map
check_output "exec runs as root of the container's user namespace, with its capabilities" '^0 0 [0-9a-f]*[1-9a-f][0-9a-f]*$' \
  sb corralctl exec web -- sh -c 'echo $(id -u) $(id -g) $(awk "/^CapEff:/ {print \$2}" /proc/self/status)'
check_output "the range is recorded in the pool under /var/lib/corral" "^$first ctr:web\$" sb cat /var/lib/corral/idmap/allocations
check_output "the payload cgroup is delegated to the container's root" "^$first $first $first $first\$" sb sh -c "
  d=\$(findmnt -n -t cgroup2 -o TARGET | head -1)\$(awk -F: '\$1 == 0 {print \$3}' /proc/$leader/cgroup)
  echo \$(stat -c %u \$d \$d/cgroup.procs \$d/cgroup.threads \$d/cgroup.subtree_control)"
check_output "the upper layer belongs to the range, the image stays root's" "^$first 0\$" \
  sb sh -c 'echo $(stat -c %u /var/lib/corral/containers/web/upper /var/lib/corral/images/busybox/rootfs/bin/busybox)'
sb sh -c 'corralctl create other --image busybox --net none -- sleep 1000 && corralctl start other' >/dev/null
check_output "a second container gets a disjoint range" "^[0-9]+-[0-9]+\$" sb sh -c "
  r=\$(corralctl info other | awk '/^UIDRange:/ {print \$2}'); o=\${r%-*}
  [ \$(( o >= $first + 65536 || o + 65536 <= $first )) = 1 ] && echo \$r"
# The image decides nothing: a boot container from an image whose /sbin/init looks like
# systemd holds the boot capabilities (CAP_SYS_ADMIN, bit 21) inside its own user namespace
# only; a command container from it has the defaults.
# (In the image store: /tmp here is the sandbox's overlay, which cannot be idmapped.)
f=/var/lib/corral/images/fakesd
sb sh -c "mkdir -p $f && cp -a /var/lib/corral/images/busybox/rootfs $f/ && mkdir -p $f/rootfs/lib/systemd &&
  : > $f/rootfs/lib/systemd/systemd && corralctl create booted --image fakesd --net none &&
  corralctl create cmd --image fakesd --net none -- sleep 1000 && corralctl start booted && corralctl start cmd" >/dev/null
# caps_of NAME [child]: the leader's effective CAP_SYS_ADMIN, host uid and user namespace;
# with "child", of the leader's first child (the command under corral's tiny init).
caps_of() { sb sh -c "p=\$(busctl get-property org.corral1 /org/corral1/container/$1 org.corral1.Container Leader | cut -d' ' -f2)
  [ -n '${2:-}' ] && p=\$(cut -d' ' -f1 /proc/\$p/task/\$p/children)
  c=\$(awk '/^CapEff:/ {print \$2}' /proc/\$p/status); u=\$(awk '/^Uid:/ {print \$2}' /proc/\$p/status)
  [ \$(readlink /proc/\$p/ns/user) = \$(readlink /proc/self/ns/user) ] && ns=host || ns=own
  echo sysadmin=\$(( 0x\$c >> 21 & 1 )) uid=\$u userns=\$ns"; }
check_output "boot container: CAP_SYS_ADMIN, as a non-root host uid, in its own user namespace" '^sysadmin=1 uid=[1-9][0-9]* userns=own$' caps_of booted
check_output "command container from the same image: no CAP_SYS_ADMIN, own user namespace" '^sysadmin=0 uid=[1-9][0-9]* userns=own$' caps_of cmd child
sb sh -c 'corralctl create priv --image busybox --net none --privileged -- sleep 1000 && corralctl start priv' >/dev/null
check_output "--privileged: shown in info, no range" 'Privileged: +true UIDRange: +none' \
  sb sh -c 'corralctl info priv | grep -E "^(Privileged|UIDRange):" | tr "\n" " "'
check_output "--privileged: the command runs as host root in the host's user namespace" '^sysadmin=0 uid=0 userns=host$' caps_of priv child
sb sh -c "for c in other booted cmd priv; do corralctl stop \$c; corralctl rm \$c; done; rm -rf $f" >/dev/null
check_output "rm frees the ranges (only web's is left)" "^$first ctr:web\$" sb cat /var/lib/corral/idmap/allocations
# A container from before user namespaces (its config names no range and has no format/end
# frame; its upper layer written as host root) gets a range at its next start, and its upper layer is shifted once.
sb sh -c 'corralctl create legacy --image busybox --net none --privileged -- sleep 1000 && corralctl start legacy &&
  corralctl exec legacy -- sh -c "touch /by-root && touch /by-user && chown 1000:1000 /by-user" && corralctl stop legacy &&
  sed -i "/^privileged=/d; /^format=/d; /^end=/d" /var/lib/corral/containers/legacy/config && systemctl restart corrald' >/dev/null
check "the old container starts" sb corralctl start legacy
check_output "it got a range, its upper layer is shifted on disk and root's and uid 1000's inside" \
  '^[0-9]+-[0-9]+ ok 0:0 1000:1000$' sb sh -c '
  r=$(corralctl info legacy | awk "/^UIDRange:/ {print \$2}"); b=${r%-*}; u=/var/lib/corral/containers/legacy/upper
  [ "$(stat -c %u:%g $u $u/by-root $u/by-user | tr "\n" " ")" = "$b:$b $b:$b $((b + 1000)):$((b + 1000)) " ] && s=ok || s=bad
  echo $r $s $(corralctl exec legacy -- stat -c %u:%g /by-root /by-user)'
sb sh -c 'corralctl stop legacy; corralctl rm legacy' >/dev/null

echo "== stop, remove"
check "StopContainer web" sb busctl call --timeout=30 org.corral1 /org/corral1 org.corral1.Manager StopContainer s web
check_output "web is stopped" 's "stopped"' sb busctl get-property org.corral1 /org/corral1/container/web org.corral1.Container State
check_output "the scope is gone" '^(inactive|failed)$' sb sh -c 'systemctl is-active corral-web.scope; true'
check "RemoveContainer web" sb busctl call org.corral1 /org/corral1 org.corral1.Manager RemoveContainer s web
check_output "and its uid range is free again" '^free$' sb sh -c '! grep -q "ctr:web" /var/lib/corral/idmap/allocations && echo free'

echo "== stop and start again at once"
# The emptied scope of the last run is still loaded for a moment after a stop; a start right
# away must not fail on it ("Unit corral-again.scope was already loaded").
sb corralctl create again --image busybox --net none -- sh -c 'exec sleep 1000' >/dev/null
check "five stop + start pairs back to back" sb sh -c 'corralctl start again && for i in 1 2 3 4 5; do
  corralctl stop again && corralctl start again || exit 1; done'
check_output "and it runs" 'running' sb corralctl ls
sb sh -c 'corralctl stop again; corralctl rm again'
# A scope of the container's name with processes in it is not a leftover: it stays, and the
# start says why.
sb sh -c 'systemd-run --quiet --scope --slice=machine.slice --unit=corral-ghost.scope sleep 1000 >/dev/null 2>&1 &
  for i in $(seq 50); do systemctl -q is-active corral-ghost.scope && break; sleep 0.1; done'
sb corralctl create ghost --image busybox --net none -- sleep 1000 >/dev/null
check_fails "start refuses to replace a scope of its name that has processes" 'corral-ghost.scope exists and has processes' \
  sb corralctl start ghost
check_output "and that scope still runs, ghost stays stopped" '^active stopped$' \
  sb sh -c 'echo $(systemctl is-active corral-ghost.scope) $(corralctl info ghost --json | grep -o "\"State\": \"[a-z]*\"" | cut -d\" -f4)'
sb sh -c 'systemctl stop corral-ghost.scope; corralctl rm ghost'

echo "== out of memory"
# A pure cgroup v2 sandbox on a hybrid host (unified_test.sh) has no memory controller to
# enforce MemoryMax with: the check cannot run there, and says so instead of passing.
if sb grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null || sb test -d /sys/fs/cgroup/memory; then
  sb busctl -- call org.corral1 /org/corral1 org.corral1.Manager CreateContainer 'ssa{sv}' hog busybox 2 Memory t 33554432 Command as 3 sh -c 'exec tail /dev/zero' >/dev/null
  check "start a 32M container that allocates without end" sb busctl call --timeout=30 org.corral1 /org/corral1 org.corral1.Manager StartContainer s hog
  check_output "it is OOM-killed and its state says so (stopped, exit 137)" 's "stopped" i 137' \
    sb sh -c 'for i in $(seq 100); do s=$(busctl get-property org.corral1 /org/corral1/container/hog org.corral1.Container State); [ "$s" = "s \"stopped\"" ] && break; sleep 0.1; done; echo "$s $(busctl get-property org.corral1 /org/corral1/container/hog org.corral1.Container ExitStatus)"'
  sb busctl call org.corral1 /org/corral1 org.corral1.Manager RemoveContainer s hog >/dev/null
else
  echo "skip - OOM kill: this sandbox's cgroup2 has no memory controller"
fi

echo "== corral@.service"
sb corralctl create svc --image busybox >/dev/null
check "systemctl start corral@svc" sb systemctl start corral@svc
check_output "corral@svc is active and the container runs" 'active running' \
  sb sh -c 'echo $(systemctl is-active corral@svc) $(busctl get-property org.corral1 /org/corral1/container/svc org.corral1.Container State | cut -d\" -f2)'
check "systemctl stop corral@svc" sb systemctl stop corral@svc
check_output "the container stopped with the unit" 'stopped' \
  sb busctl get-property org.corral1 /org/corral1/container/svc org.corral1.Container State
sb corralctl rm svc >/dev/null
sb corralctl create failing --image busybox -- sh -c 'sleep 0.5; exit 3' >/dev/null
sb systemctl start corral@failing >/dev/null 2>&1
check_output "a container that fails fails its unit" '^failed$' \
  sb sh -c 'for i in $(seq 50); do s=$(systemctl is-active corral@failing); [ "$s" = failed ] && break; sleep 0.1; done; echo $s'
sb systemctl reset-failed corral@failing >/dev/null 2>&1
sb corralctl rm failing >/dev/null

echo "== nothing left"
check_output "no container, scope, veth, mount or cgroup of corral left" '^0 0 0 0 0$' sb sh -c '
  echo $(busctl call org.corral1 /org/corral1 org.corral1.Manager ListContainers | cut -d" " -f2) \
       $(systemctl list-units --all --no-legend "corral-*.scope" | grep -c .) \
       $(ip -o link show type veth | grep -c .) \
       $(grep -c /run/corral /proc/self/mountinfo) \
       $(find /sys/fs/cgroup -name "corral-*.scope" -type d | grep -c .)'

finish
