#!/usr/bin/env bash
# corralctl exec through corrald's exec socket (dbus/exec_wire.h), in the throwaway systemd:
# root's corralctl takes it and runs no D-Bus client; streams, exit status, errors and -t are
# as through the Exec method; without the socket corralctl falls back to the method; only root
# gets in (mode 0600 and the peer's uid); garbage, silence and a caller that dies hold nothing.
# Prints "N passed, N failed" last.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/system/lib.sh

build_corral
echo "== booting a throwaway systemd with corral installed"
corral_sandbox "$(mktemp -d /tmp/corral-execsock-XXXXXX)"
check "corralctl image build busybox" sb corralctl image build busybox
sb corralctl create e1 --image busybox --net none -- sh -c 'exec sleep 100000' >/dev/null
check "start e1" sb corralctl start e1

echo "== the socket"
check_output "/run/corral/exec is a socket of root's, mode 0600" '^srwx------ root root$' \
  sb stat -c '%A %U %G' /run/corral/exec
check_output "corralctl exec connects to it and runs no D-Bus client" '^socket yes dbus 0$' sb sh -c \
  'out=$(strace -f -e trace=connect,execve corralctl exec e1 -- true 2>&1); echo socket $(echo "$out" | grep -q "/run/corral/exec" && echo yes || echo no) dbus $(echo "$out" | grep -c "corralctl-dbus")'

echo "== what the Exec method does"
check_output "stdout, stderr and the exit status" '^out err rc=7$' sb sh -c \
  'o=$(corralctl exec e1 -- sh -c "echo out; echo err >&2; exit 7" 2>&1); echo $o rc=$?'
check_output "stdin reaches the command" '^piped$' sb sh -c 'echo piped | corralctl exec e1 -- cat'
check_output "--env, --user and --cwd" '^V=1 uid=1000 /tmp$' sb sh -c \
  'corralctl exec --env V=1 --user 1000 --cwd /tmp e1 -- sh -c "echo V=\$V uid=\$(id -u) \$(pwd)"'
check_output "a signal death is 128+N" '^rc=137$' sb sh -c 'corralctl exec e1 -- sh -c "kill -9 \$\$"; echo rc=$?'
check_fails "an unknown container is named" 'no container named nosuch' sb corralctl exec nosuch -- true
check_fails "a missing command says so" 'command not found in the container' sb corralctl exec e1 -- /no/such
check_fails "a bad environment entry is refused" 'is not KEY=VALUE' sb corralctl exec --env novalue e1 -- true
check_fails "a bad user is refused" 'is not UID\[:GID\]' sb corralctl exec --user x:y:z e1 -- true
sb corralctl create e2 --image busybox --net none -- true >/dev/null
check_fails "a stopped container is not running" 'container e2 is not running' sb corralctl exec e2 -- true
check_output "-t gives a pty of the container's devpts" '^/dev/pts/[0-9]+' \
  sb script -qec "corralctl exec -t e1 -- tty" /dev/null

echo "== only root"
check_fails "nobody cannot connect (the mode)" 'Permission denied' sb setpriv --reuid=65534 --regid=65534 --clear-groups \
  python3 -c 'import socket; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect("/run/corral/exec")'
check_output "nobody on a socket opened up is refused by its uid (AccessDenied)" 'org\.corral1\.Error\.AccessDenied' sb sh -c \
  'chmod 0666 /run/corral/exec; setpriv --reuid=65534 --regid=65534 --clear-groups python3 -c "import socket; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(\"/run/corral/exec\"); print(s.recv(4096))"; chmod 0600 /run/corral/exec'
check_fails "nobody's corralctl exec goes to the method and is refused there" 'permission denied' \
  sb setpriv --reuid=65534 --regid=65534 --clear-groups corralctl exec e1 -- true

echo "== nothing holds corrald"
check_output "a garbage request gets InvalidArgument" 'org\.corral1\.Error\.InvalidArgument' sb python3 -c \
  'import socket; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect("/run/corral/exec"); s.send(b"junk"); print(s.recv(4096))'
check_output "a client that connects and says nothing holds nobody" '^e1 +running' sb sh -c \
  'python3 -c "import socket,time; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(\"/run/corral/exec\"); time.sleep(3)" & sleep 0.5; timeout 2 corralctl ls; wait'
check_output "a caller killed mid-exec takes its command with it" '^running gone$' sb sh -c \
  'corralctl exec e1 -- sleep 4242 & c=$!; sleep 1; ps -eo args | grep -q "^sleep 4242\$" && echo -n "running "; kill -9 $c; for i in $(seq 20); do ps -eo args | grep -q "^sleep 4242\$" || { echo gone; exit; }; sleep 0.1; done; echo still there'

echo "== without the socket"
check_output "corralctl exec falls back to the Exec method" '^hi dbus [1-9]' sb sh -c \
  'mv /run/corral/exec /run/corral/exec.off; out=$(strace -f -e trace=execve corralctl exec e1 -- echo hi 2>/tmp/st); echo $out dbus $(grep -c corralctl-dbus /tmp/st); mv /run/corral/exec.off /run/corral/exec'

echo "== cleanup"
sb sh -c 'corralctl stop e1; corralctl rm e1; corralctl rm e2' >/dev/null 2>&1
check_output "nothing is left" '^0 0$' sb sh -c "echo \$(corralctl ls | awk 'NR>1' | wc -l) \$(systemctl list-units --no-legend 'corral-*.scope' | grep -c .)"
finish
