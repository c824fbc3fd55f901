#!/usr/bin/env bash
# A user's data through corrald, end to end in a throwaway systemd (tools/sandbox/sandbox.sh):
# --bind (owner and mode inside with and without idmap, read-only, kept by corral@NAME),
# --tmpfs, named volumes (kept across containers, shared owners, --size enforced, no loop
# device left, rm refused while used), corralctl cp both ways (running and stopped, through
# planted symlinks that must stay inside), commit and export -> image import -> run, clone (own
# uid range, own address, files moved to its range), the D-Bus
# options, and bad input refused with nothing
# created; afterwards no mount of the sources is left. Prints "N passed, N failed" last.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/system/lib.sh

build_corral
echo "== booting a throwaway systemd with corral installed"
corral_sandbox "$(mktemp -d /tmp/corral-storagetest-XXXXXX)"

check "corralctl image build busybox" sb corralctl image build busybox
# Sources on a tmpfs of the sandbox (/run): its overlay root cannot be idmapped.
src=/run/storage-test
check "host data: ro/f (root's, 0640), rw/u (uid 1234, 0600)" sb sh -c "rm -rf $src && mkdir -p $src/ro $src/rw &&
  echo host-ro > $src/ro/f && chmod 0640 $src/ro/f && echo u > $src/rw/u && chown 1234:1234 $src/rw/u && chmod 600 $src/rw/u"

echo "== an unprivileged container with binds and a tmpfs"
check "create st1 with --bind ...:ro, --bind ...:rw,idmap, --tmpfs" sb corralctl create st1 --image busybox --net none \
  --bind $src/ro:/data:ro --bind $src/rw:/srv/rw:rw,idmap --tmpfs /scratch:size=1M,mode=0700 -- sleep 1000
check_output "the config keeps them" "^bind=$src/ro:/data:ro bind=$src/rw:/srv/rw:rw,idmap tmpfs=/scratch:mode=0700,size=1048576 \$" \
  sb sh -c "grep -E '^(bind|tmpfs)=' /var/lib/corral/containers/st1/config | tr '\n' ' '"
check_output "corralctl info shows the binds" "Binds: +$src/ro:/data:ro" sb corralctl info st1
check "start st1" sb corralctl start st1
check_output "without idmap, host root's file shows as nobody, mode kept" '^65534:65534 640$' \
  sb corralctl exec st1 -- stat -c '%u:%g %a' /data/f
check_output "and root inside cannot read it (others' permissions)" 'Permission denied' sb corralctl exec st1 -- cat /data/f
check_output "ro: a write fails with EROFS" 'Read-only file system' sb corralctl exec st1 -- sh -c 'echo x > /data/new'
check_output "ro in mountinfo" '^/data ro,' sb corralctl exec st1 -- sh -c "grep ' /data ' /proc/self/mountinfo | cut -d' ' -f5,6"
check_output "with idmap, host uid 1234 shows as 1234 inside" '^1234:1234 600$' sb corralctl exec st1 -- stat -c '%u:%g %a' /srv/rw/u
check "root inside writes through the idmapped bind" sb corralctl exec st1 -- sh -c 'echo from-ctr > /srv/rw/new'
check_output "and it lands on the host owned by host root (uid 0 inside = 0 on disk)" '^0:0 from-ctr$' \
  sb sh -c "echo \$(stat -c %u:%g $src/rw/new) \$(cat $src/rw/new)"
check_output "the tmpfs is root's inside, mode 0700, nosuid,nodev, 1M" '^0:0 700 .*nosuid,nodev.*size=1024k' \
  sb corralctl exec st1 -- sh -c "echo \$(stat -c '%u:%g %a' /scratch) \$(grep ' /scratch ' /proc/self/mountinfo)"
check_output "and full past its size (ENOSPC)" 'No space left on device' \
  sb corralctl exec st1 -- dd if=/dev/zero of=/scratch/big bs=1024 count=2048
check "stop st1" sb corralctl stop st1

echo "== systemctl start corral@st1 keeps them"
check "systemctl start corral@st1" sb systemctl start corral@st1
check_output "the binds are there again" '^host-ro-visible 1234$' \
  sb corralctl exec st1 -- sh -c 'test -e /data/f && printf host-ro-visible; echo " $(stat -c %u /srv/rw/u)"'
check_output "and the tmpfs, fresh" '^0:0 700 absent$' \
  sb corralctl exec st1 -- sh -c "echo \$(stat -c '%u:%g %a' /scratch) \$(test -e /scratch/big && echo present || echo absent)"
check "systemctl stop corral@st1" sb systemctl stop corral@st1

echo "== a privileged container"
check "create st2 --privileged with a bind" sb corralctl create st2 --image busybox --net none --privileged \
  --bind $src/rw:/rw -- sleep 1000
check "start st2" sb corralctl start st2
check_output "host ids are as on the host" '^1234:1234 600$' sb corralctl exec st2 -- stat -c '%u:%g %a' /rw/u
sb corralctl stop st2 >/dev/null

echo "== D-Bus options"
mgr() { sb gdbus call --system --dest org.corral1 --object-path /org/corral1 --method "org.corral1.Manager.$1" "${@:2}"; }
check "CreateContainer with Binds, IdmappedBinds and Tmpfs" \
  mgr CreateContainer st3 busybox "{'Binds': <[('$src/ro', '/a', true)]>, 'IdmappedBinds': <[('$src/rw', '/b', false)]>, 'Tmpfs': <[('/t', 'size=64k')]>, 'Command': <['sleep', '1000']>, 'Network': <'none'>}"
check_output "stored normalized" "^bind=$src/ro:/a:ro bind=$src/rw:/b:rw,idmap tmpfs=/t:mode=1777,size=65536 \$" \
  sb sh -c "grep -E '^(bind|tmpfs)=' /var/lib/corral/containers/st3/config | tr '\n' ' '"
check "start st3" sb corralctl start st3
check_output "all three inside" '^ro 1234 1777$' \
  sb corralctl exec st3 -- sh -c "echo \$(grep -q ' /a ro,' /proc/self/mountinfo && echo ro) \$(stat -c %u /b/u) \$(stat -c %a /t)"
sb corralctl stop st3 >/dev/null

echo "== bad input changes nothing"
check_fails "a missing source" "$src/nope.*No such file" sb corralctl create bad1 --image busybox --bind $src/nope:/x -- true
check_fails "a target escaping through .." "contains '\.\.'" sb corralctl create bad2 --image busybox --bind $src/ro:/a/../../x -- true
check_fails "idmap on a privileged container" 'idmap needs a user namespace' \
  sb corralctl create bad3 --image busybox --privileged --bind $src/ro:/x:idmap -- true
check_fails "a source inside corral's state" "inside corral's own state" \
  sb corralctl create bad4 --image busybox --bind /var/lib/corral/containers:/x -- true
check_fails "a bad tmpfs size" 'invalid size' sb corralctl create bad5 --image busybox --tmpfs /t:size=lots -- true
check_fails "D-Bus Binds of the wrong type" 'org.corral1.Error.InvalidArgument: option Binds must be of type a\(ssb\)' \
  mgr CreateContainer bad6 busybox "{'Binds': <['$src/ro']>, 'Command': <['true']>}"
check_fails "D-Bus Binds with a relative source" 'org.corral1.Error.InvalidArgument: Binds: .*must be absolute' \
  mgr CreateContainer bad7 busybox "{'Binds': <[('ro', '/x', false)]>, 'Command': <['true']>}"
check_output "none of them was created" '^0$' sb sh -c 'ls /var/lib/corral/containers | grep -c "^bad"'

echo "== named volumes"
check "volume create shared (a directory)" sb corralctl volume create shared
check "volume create small --size 8M (an ext4 image)" sb corralctl volume create small --size 8M
check_output "volume ls: both, sizes, no users" '^shared +- +[0-9.]+[BK] +-$' sb corralctl volume ls
check_output "volume ls --json" '"name":"small","size_bytes":8388608,"used_bytes":[0-9]+,"used_by":\[\]' sb corralctl volume ls --json
check "create v1 (unprivileged) with both volumes" sb corralctl create v1 --image busybox --net none \
  --volume shared:/shared --volume small:/small -- sleep 1000
check_output "volume ls names v1 as their user" '^shared +- +\S+ +v1$' sb corralctl volume ls
check "start v1" sb corralctl start v1
check_output "the volumes are root's inside" '^0:0 0:0$' sb corralctl exec v1 -- sh -c "echo \$(stat -c %u:%g /shared) \$(stat -c %u:%g /small)"
check "v1 writes to both, a file owned by uid 7 inside" sb corralctl exec v1 -- sh -c 'echo one > /shared/f && chown 7:7 /shared/f && echo small > /small/f'
check_output "the sized one is full past 8M (ENOSPC)" 'No space left on device' \
  sb corralctl exec v1 -- dd if=/dev/zero of=/small/big bs=1M count=16
check "and frees it again" sb corralctl exec v1 -- rm /small/big
check_output "on disk the file keeps the id seen inside (7), not v1's host range" '^7:7$' \
  sb stat -c %u:%g /var/lib/corral/volumes/shared/data/f
check_output "the sized volume has a loop device while v1 runs" '^/dev/loop[0-9]+$' sb sh -c '
  for f in /sys/block/loop*/loop/backing_file; do grep -q "^/var/lib/corral/volumes/small/disk.ext4$" $f && echo /dev/$(basename $(dirname $(dirname $f))); done'
check_fails "volume rm of a used volume is refused" 'VolumeInUse|used by container v1' sb corralctl volume rm shared
check "stop v1, rm v1" sb sh -c 'corralctl stop v1 && corralctl rm v1'
check_output "no loop device left for the sized volume" '^0$' sb sh -c '
  n=0; for f in /sys/block/loop*/loop/backing_file; do [ -e "$f" ] && grep -q "volumes/small" $f && n=$((n+1)); done; echo $n'
check "create v2 --privileged with both volumes" sb corralctl create v2 --image busybox --net none --privileged \
  --volume shared:/data:ro --volume small:/s -- sleep 1000
check "start v2" sb corralctl start v2
check_output "v2 sees what v1 wrote, same owner, read-only" '^one 7:7 small RO$' \
  sb corralctl exec v2 -- sh -c "echo \$(cat /data/f) \$(stat -c %u:%g /data/f) \$(cat /s/f) \$( (echo x > /data/x) 2>/dev/null || echo RO)"
check "stop v2, rm v2" sb sh -c 'corralctl stop v2 && corralctl rm v2'
check_fails "a bad volume name" 'is not a name' sb corralctl volume create ../x
check_fails "a bad size" 'invalid size' sb corralctl volume create big --size lots
check_fails "a size below the minimum" 'below the 8M minimum' sb corralctl volume create tiny --size 1M
check_fails "create with a volume that does not exist" 'no volume nope' sb corralctl create bad8 --image busybox --volume nope:/x -- true
check_fails "create with a bad volume spec" 'is not a name' sb corralctl create bad9 --image busybox --volume 'a b:/x' -- true
check_output "none of them was made" '^0 shared small$' sb sh -c "echo \$(ls /var/lib/corral/containers | grep -c '^bad') \$(ls /var/lib/corral/volumes | tr '\n' ' ')"
check "volume rm shared small (unused now)" sb sh -c 'corralctl volume rm shared && corralctl volume rm small'
check_output "the store is empty" '^$' sb ls -A /var/lib/corral/volumes

echo "== corralctl cp"
# The planted links aim at a decoy (/srv/cp-decoy/secret exists on the sandbox's side too), never
# at a real file of the host's: a regression would change the decoy, which is checked.
check "the host's decoy" sb sh -c 'mkdir -p /srv/cp-decoy && echo host-decoy > /srv/cp-decoy/secret'
check "create and start c1 (unprivileged)" sb sh -c 'corralctl create c1 --image busybox --net none -- sleep 1000 && corralctl start c1'
check "inside, plant /etc/passwd -> ../../../../srv/cp-decoy/secret and /abs -> /srv/cp-decoy/secret" \
  sb corralctl exec c1 -- sh -c 'mkdir -p /srv/cp-decoy && echo container-secret > /srv/cp-decoy/secret &&
    rm -f /etc/passwd && ln -s ../../../../srv/cp-decoy/secret /etc/passwd && ln -s /srv/cp-decoy/secret /abs'
check_output "cp out through the relative link reads the container's file" '^container-secret$' \
  sb sh -c "corralctl cp c1:/etc/passwd $src/out1 && cat $src/out1"
check_output "cp out through the absolute link too" '^container-secret$' sb sh -c "corralctl cp c1:/abs $src/out2 && cat $src/out2"
check "cp in through both links" sb sh -c "echo from-host > $src/in.txt && corralctl cp $src/in.txt c1:/abs && corralctl cp $src/in.txt c1:/etc/passwd"
check_output "lands in the container's file" '^from-host$' sb corralctl exec c1 -- cat /srv/cp-decoy/secret
check_output "the host's decoy is untouched" '^host-decoy$' sb cat /srv/cp-decoy/secret
check "a directory in: tree/f owned by 1234, mode 0640" sb sh -c "mkdir -p $src/tree/sub && echo t > $src/tree/f &&
  chown 1234:1234 $src/tree/f && chmod 0640 $src/tree/f && corralctl cp $src/tree c1:/root"
check_output "inside: the owner (1234) and mode (640) kept" '^1234:1234 640 t$' \
  sb corralctl exec c1 -- sh -c 'echo $(stat -c "%u:%g %a" /root/tree/f) $(cat /root/tree/f)'
check_output "and back out: the same owner and mode on the host" '^1234:1234 640$' \
  sb sh -c "corralctl cp c1:/root/tree $src/back && stat -c '%u:%g %a' $src/back/f"
check "stop c1" sb corralctl stop c1
check "cp into the stopped c1" sb sh -c "echo stopped > $src/s.txt && corralctl cp $src/s.txt c1:/root/s.txt"
check_output "cp out of the stopped c1 through its planted link" '^from-host$' \
  sb sh -c "corralctl cp c1:/etc/passwd $src/out3 && cat $src/out3"
check_output "no overlay of the copy is left mounted, nor its scratch directory" '^0 0$' \
  sb sh -c 'echo $(grep -c corralctl-cp /proc/self/mountinfo) $(ls -d /run/corralctl-cp.* 2>/dev/null | grep -c .)'
check "start c1 again" sb corralctl start c1
check_output "the copied file is there, owned by root inside" '^0:0 stopped$' \
  sb corralctl exec c1 -- sh -c 'echo $(stat -c %u:%g /root/s.txt) $(cat /root/s.txt)'
check_fails "cp of a missing host file" "nope.*No such file" sb corralctl cp $src/nope c1:/root/
check_fails "cp of a missing container file" "nope.*No such file" sb corralctl cp c1:/nope $src/x
check_fails "cp with .. in the container path" "'\.\.' in the container path" sb corralctl cp $src/s.txt c1:/root/../../x
check_fails "cp with no container side" 'one side must be NAME:/PATH' sb corralctl cp $src/s.txt $src/t.txt
check_output "nothing was made by them" '^0$' sb sh -c "ls $src | grep -c -e '^x\$' -e '^t.txt\$'"
check_output "the host's decoy is still untouched" '^host-decoy$' sb cat /srv/cp-decoy/secret

echo "== progress of cp on a terminal (tools/ctl/copy_progress.h)"
check "a 100 MB file on the host" sb sh -c "head -c 100000000 /dev/zero > $src/big"
out=$(sb script -qec "corralctl cp $src/big c1:/root/big" /dev/null)
check_output "a status line: phase, files, bytes, time" "copying $src/big  [0-9]+ files?(  [0-9.]+ MB)?  0:[0-9]{2}" echo "$out"
check_output "and the file arrived whole" '^100000000$' sb corralctl exec c1 -- stat -c %s /root/big
quiet=$(sb script -qec "corralctl cp --quiet c1:/root/big $src/big.out" /dev/null)
check "--quiet: no status line" sh -c "! echo \"\$1\" | grep -q copying" _ "$quiet"
piped=$(sb sh -c "corralctl cp c1:/root/big $src/big.out2 2>&1 | cat")
check "stderr no terminal: no status line" sh -c "! echo \"\$1\" | grep -q copying" _ "$piped"
check "both copies out are whole" sb sh -c "cmp $src/big $src/big.out && cmp $src/big $src/big.out2"
check "rm the big file again" sb sh -c "corralctl exec c1 -- rm /root/big && rm $src/big $src/big.out $src/big.out2"

echo "== commit and export"
check_fails "commit of a running container is refused" 'is running: stop it first' sb corralctl commit c1 c1img
check "stop c1" sb corralctl stop c1
check "commit c1 as image c1img" sb corralctl commit c1 c1img
check_output "the image holds c1's files with the ids inside, its planted link a link" '^0:0 stopped symbolic link$' \
  sb sh -c 'r=/var/lib/corral/images/c1img/rootfs; echo $(stat -c %u:%g $r/root/s.txt) $(cat $r/root/s.txt) $(stat -c %F $r/etc/passwd)'
check_output "and the image's own files as the image had them" '^0:0 755$' sb stat -c '%u:%g %a' /var/lib/corral/images/c1img/rootfs/bin
check "export c1 to a tarball" sb corralctl export c1 $src/c1.tar
check_output "no scratch tree of the export is left" '^0$' sb sh -c "ls -a $src | grep -c export"
check "image import it" sb corralctl image import c1tar $src/c1.tar
check "create and start r1 from the imported image" sb sh -c 'corralctl create r1 --image c1tar --net none -- sleep 1000 && corralctl start r1'
check_output "r1 has c1's file, root's inside" '^0:0 stopped$' sb corralctl exec r1 -- sh -c 'echo $(stat -c %u:%g /root/s.txt) $(cat /root/s.txt)'
out=$(sb script -qec "corralctl export c1 $src/c1.tar.zst" /dev/null)
check_output "export to .tar.zst shows its phases on a terminal" 'exporting c1: (copying|archiving)' echo "$out"
check_output "it is zstd" 'Zstandard compressed data' sb file $src/c1.tar.zst
check "image import of the .tar.zst" sb corralctl image import c1zst $src/c1.tar.zst
check "create and start r2 from it" sb sh -c 'corralctl create r2 --image c1zst --net none -- sleep 1000 && corralctl start r2'
check_output "r2 has c1's file, root's inside" '^0:0 stopped$' sb corralctl exec r2 -- sh -c 'echo $(stat -c %u:%g /root/s.txt) $(cat /root/s.txt)'
check_fails "export to a file in a missing directory fails clearly" "$src/no-dir/c1.tar" sb corralctl export c1 $src/no-dir/c1.tar
check_fails "image import of a file that is not there" 'nope.tar.zst' sb corralctl image import c1none $src/nope.tar.zst
check_fails "image import of a tarball without a root file system" 'holds no root file system' \
  sb sh -c "mkdir -p $src/notroot && echo x > $src/notroot/f && tar -C $src/notroot -c . | zstd -q > $src/notroot.tar.zst && corralctl image import c1bad $src/notroot.tar.zst"
check "no image was made by them" sb sh -c '! ls /var/lib/corral/images | grep -qE "^c1(none|bad)$"'

echo "== clone"
check "clone c1 c2 (stopped)" sb corralctl clone c1 c2
check_output "c2 has a uid range of its own" '^different$' sb sh -c '
  a=$(corralctl info c1 | grep UIDRange); b=$(corralctl info c2 | grep UIDRange); [ -n "$a" ] && [ "$a" != "$b" ] && echo different'
check "start c2" sb corralctl start c2
check_output "c2 has c1's files, root's inside (owners moved to its range)" '^0:0 stopped$' \
  sb corralctl exec c2 -- sh -c 'echo $(stat -c %u:%g /root/s.txt) $(cat /root/s.txt)'
check_output "and on disk its upper layer is in c2's range" '^moved$' sb sh -c '
  base=$(corralctl info c2 | sed -n "s/^ *UIDRange: *\([0-9]*\)-.*/\1/p"); [ "$(stat -c %u /var/lib/corral/containers/c2/upper/root/s.txt)" = "$base" ] && echo moved'
check_fails "clone of a running container is refused" 'is running: stop it first' sb corralctl clone c2 c3
check_fails "clone to an existing name is refused" 'exists' sb corralctl clone c1 c2
check "a bridged n1, started once, then stopped" sb sh -c 'corralctl create n1 --image busybox -- sleep 1000 && corralctl start n1 && corralctl stop n1'
check "clone n1 n2, start both" sb sh -c 'corralctl clone n1 n2 && corralctl start n1 && corralctl start n2'
check_output "n2 has an address of its own" '^different$' sb sh -c '
  a=$(corralctl info n1 | grep Addresses); b=$(corralctl info n2 | grep Addresses); [ -n "$a" ] && [ "$a" != "$b" ] && echo different'
sb sh -c 'for c in n1 n2 c2; do corralctl stop $c; corralctl rm $c; done' >/dev/null 2>&1
check_output "the host's decoy is untouched after all of it" '^host-decoy$' sb cat /srv/cp-decoy/secret
sb sh -c 'corralctl stop r1; corralctl rm r1; corralctl stop r2; corralctl rm r2; corralctl rm c1; rm -rf /srv/cp-decoy /var/lib/corral/images/c1img /var/lib/corral/images/c1tar /var/lib/corral/images/c1zst' >/dev/null 2>&1

echo "== removal leaves the data and no mount"
check "rm st1 st2 st3" sb sh -c 'corralctl rm st1 && corralctl rm st2 && corralctl rm st3'
check_output "the host data is still there" '^host-ro from-ctr$' sb sh -c "echo \$(cat $src/ro/f) \$(cat $src/rw/new)"
check_output "no mount of the sources or of a container's rootfs left" '^0$' \
  sb sh -c "grep -c -e '$src' -e /var/lib/corral/containers /proc/self/mountinfo"
check_output "no container or scope of corral left" '^0 0$' sb sh -c '
  echo $(busctl call org.corral1 /org/corral1 org.corral1.Manager ListContainers | cut -d" " -f2) \
       $(systemctl list-units --all --no-legend "corral-*.scope" | grep -c .)'
sb rm -rf $src

finish
