#!/usr/bin/env bash
# ENOSPC on /var/lib/corral (issue 13): a small tmpfs is mounted over the sandbox's
# /var/lib/corral (inside the throwaway systemd, its contents copied in) and filled to the last
# page; then create, start, stop and image build each fail with an error that says the disk is
# full (or, for stop, the container still ends stopped) and leave nothing half-made: no
# container directory, no config, no scope, lease, forward, mount or staging tree, the old image
# intact. After the space is freed everything works again. corrald's ListContainers latency is
# polled through each fault (under 1 s; the worst is printed). Prints "N passed, N failed" last.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/system/lib.sh
. tests/system/fault_lib.sh
latency_report=${CORRAL_LATENCY_REPORT:-}

build_corral
echo "== booting a throwaway systemd with corral installed"
corral_sandbox "$(mktemp -d /tmp/corral-enospc-XXXXXX)"
lib=/var/lib/corral
leases=$lib/network/leases

check "corralctl image build busybox" sb corralctl image build busybox
sb corralctl create e0 --image busybox -p 8096:80 -- sh -c 'exec sleep 1000' >/dev/null
check "e0 starts and stops on the big disk (the network state exists)" sb sh -c 'corralctl start e0 && corralctl stop e0'
check "a 64 MiB tmpfs over $lib, its contents copied in" sb sh -c "
  systemctl stop corrald && mkdir -p /tmp/small && mount -t tmpfs -o size=64m,mode=0711 small /tmp/small &&
  cp -a $lib/. /tmp/small/ && mount --move /tmp/small $lib && systemctl start corrald && corralctl ls >/dev/null"
check_output "$lib is the small tmpfs" 'small' sb sh -c "awk '\$5 == \"$lib\" {print \$0}' /proc/self/mountinfo | tail -1"

# fill: takes every free page of $lib (filler files, removed by unfill).
fill() {
  sb sh -c "dd if=/dev/zero of=$lib/filler1 bs=1M 2>/dev/null; dd if=/dev/zero of=$lib/filler2 bs=4k 2>/dev/null;
    dd if=/dev/zero of=$lib/filler3 bs=512 2>/dev/null; df -k $lib | awk 'NR==2 {print \$4}'"
}
unfill() { sb rm -f $lib/filler1 $lib/filler2 $lib/filler3; }
# listing: every file and directory under $lib but the fillers (what "nothing changed" compares).
listing() { sb sh -c "cd $lib && find . -path ./images -prune -o -print | grep -v '^./filler' | sort"; }
full_error='No space left on device|ENOSPC|no space'

echo "== create on a full disk"
before=$(listing)
latency_start
check_output "the disk is full (free KiB)" '^0$' fill
check_fails "create e1 fails saying the disk is full" "$full_error" sb corralctl create e1 --image busybox -- sleep 1000
check_latency "create on a full disk"
check_output "e1 is not listed" '^none$' sb sh -c "corralctl ls | grep -q '^e1 ' && echo listed || echo none"
check_output "and nothing of e1 is on disk ($lib/containers/e1)" '^none$' sb sh -c "[ -e $lib/containers/e1 ] && ls -la $lib/containers/e1 || echo none"
check_output "nothing under $lib changed" '^same$' sh -c "[ \"\$(tools/sandbox/sandbox.sh run '$sandbox_state' -- sh -c \"cd $lib && find . -path ./images -prune -o -print | grep -v '^./filler' | sort\")\" = '$before' ] && echo same"
unfill
check "with space again, create e1 works" sb corralctl create e1 --image busybox -p 8098:80 -- sh -c 'exec sleep 1000'

echo "== start on a full disk"
before=$(listing)
latency_start
check_output "the disk is full (free KiB)" '^0$' fill
check_fails "start e1 fails saying the disk is full" "$full_error" sb corralctl start e1
check_latency "start on a full disk"
check_output "e1 is stopped" '^e1 +stopped' sb corralctl ls
check_output "the truth (no scope, lease forward, mount or machine of e1)" '^ok$' fault_truth
check_output "no forward of 8098" '^none$' sb sh -c "nft list map ip corral tcp_forwards | grep -q '8098 :' && echo present || echo none"
unfill
check "with space again, e1 starts" sb corralctl start e1
check_output "and serves its forward 8098" '8098 : ' sb nft list map ip corral tcp_forwards

echo "== stop on a full disk"
latency_start
check_output "the disk is full (free KiB)" '^0$' fill
out=$(sb sh -c 'corralctl stop e1; echo rc=$?' 2>&1)
echo "$out" | sed 's/^/    /'
check_latency "stop on a full disk"
if echo "$out" | grep -q '^rc=0$'; then
  ok "stop e1 on a full disk succeeded"
else
  check_output "stop e1 on a full disk fails saying the disk is full" "$full_error" echo "$out"
fi
check "corrald settles" wait_settled 30
check_output "e1 is stopped either way (its processes are gone)" '^e1 +stopped' sb corralctl ls
check_output "its forward of 8098 is gone from the kernel at once" '^none$' \
  sb sh -c "nft list map ip corral tcp_forwards | grep -q '8098 :' && echo present || echo none"
unfill
# The leases file could not be rewritten while the disk was full: corrald retries its
# reconciliation every 5 s, so the file forgets the forward once there is room.
check "with space again, the leases file forgets e1's forward within 12 s" sb sh -c "
  for i in \$(seq 120); do grep -q '^e1 .* -\$' $leases && exit 0; sleep 0.1; done; cat $leases; exit 1"
check_output "the truth (no scope, forward, mount or machine of e1)" '^ok$' fault_truth
check "with space again, e1 starts" sb corralctl start e1
check "and stops" sb corralctl stop e1
check_output "the truth" '^ok$' fault_truth

echo "== image build on a full disk"
sum() { sb sh -c "cd $lib/images/busybox/rootfs && find . -type f | sort | xargs md5sum | md5sum"; }
image_before=$(sum)
latency_start
check_output "the disk is full (free KiB)" '^0$' fill
check_fails "image build busybox fails saying the disk is full" "$full_error" sb corralctl image build busybox
check_latency "image build on a full disk"
check_output "no staging tree is left" '^none$' sb sh -c "ls -d $lib/images/busybox/rootfs.new.* 2>/dev/null || echo none"
check_output "the old image is intact" "^$image_before\$" sum
unfill
check "with space again, a container of the image starts" sb sh -c 'corralctl start e1 && corralctl exec e1 -- true && corralctl stop e1'

echo "== cleanup"
sb sh -c 'for c in e0 e1; do corralctl stop $c; corralctl rm $c; done' >/dev/null 2>&1
check_output "the truth at the end" '^ok$' fault_truth
check_output "no lease, forward or scope is left" '^corral-leases 1 end 0 0 0$' sb sh -c "
  echo \$(cat $leases) \$(nft list map ip corral tcp_forwards | grep -c elements) \$(systemctl list-units --no-legend 'corral-*.scope' | grep -c .)"
check "corrald stopped and the small tmpfs unmounted" sb sh -c "systemctl stop corrald; umount $lib"
finish
