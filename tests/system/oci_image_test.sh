#!/usr/bin/env bash
# OCI images through corrald, end to end in a throwaway systemd (tools/sandbox/sandbox.sh):
# layouts built offline from the busybox image (tests/system/oci_layout.inc: plain, gzip and
# zstd layers, whiteouts, an opaque directory, a hard link), `image import` of oci:DIR:TAG,
# oci-archive: and docker-archive: (written by skopeo), containers from them (unprivileged and
# --privileged) that see the upper layer's files and not the whited-out ones and run with the
# image config's Entrypoint, Cmd, Env, WorkingDir and User; a layer shared by two images stored
# once (by inode), a second import of a 5-layer image unpacking nothing, `image rm` keeping
# shared layers and refused while a container uses the image; a bad digest and layers whose
# paths escape (.., absolute, through a planted symlink at a decoy, a hard link out) refused
# with nothing created; `image pull` from a docker-registry on the sandbox's loopback.
# Prints "N passed, N failed" last.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/system/lib.sh
. tests/system/oci_layout.inc

for tool in skopeo docker-registry zstd; do
  if ! command -v "$tool" >/dev/null; then
    echo "not ok - $tool is not installed (tools/deps.sh installs skopeo, docker-registry and zstd)"
    echo "0 passed, 1 failed"
    exit 1
  fi
done
build_corral
ctl=$bin/tools/corralctl
work=$(mktemp -d /tmp/corral-ocitest-XXXXXX)
extra_cleanup="rm -rf $work"

echo "== layouts, built offline from the busybox image"
check "the busybox tree (corralctl image build busybox, in a scratch store)" \
  "$ctl" --images-dir "$work/bb" image build busybox
bb=$work/bb/busybox/rootfs
mkdir -p "$work/l1" "$work/l2/etc" "$work/l2/opq" "$work/l3/etc" "$work/l3/srv/work" "$work/l4" "$work/l5" "$work/l6/etc"
cp -a "$bb/." "$work/l1/"
mkdir -p "$work/l1/gone" "$work/l1/opq"
echo doomed >"$work/l1/gone/file"
echo lower-a >"$work/l1/opq/a"
echo from-upper >"$work/l2/etc/upper-file"
ln "$work/l2/etc/upper-file" "$work/l2/etc/upper-link"
: >"$work/l2/.wh.gone"
: >"$work/l2/opq/.wh..wh..opq"
echo upper-b >"$work/l2/opq/b"
cp "$bb/etc/passwd" "$work/l3/etc/passwd"
echo 'app:x:1000:1000:app:/srv/work:/bin/sh' >>"$work/l3/etc/passwd"
chown 1000:1000 "$work/l3/srv/work"
echo four >"$work/l4/four"
echo five >"$work/l5/five"
echo only-in-two >"$work/l6/etc/two"
for i in 1 2 3 4 5 6; do oci_tar "$work/l$i" "$work/l$i.tar"; done
# The default command writes what it sees where its user may write, then waits.
cfg='{"Entrypoint":["/bin/sh","-c"],"Cmd":["{ cat /etc/upper-file; id -u; pwd; echo $FOO; } > /srv/work/out; exec sleep 1000"],"Env":["PATH=/bin:/sbin","FOO=from-image"],"WorkingDir":"/srv/work","User":"app","ExposedPorts":{"80/tcp":{}},"StopSignal":"SIGINT"}'
oci_image "$work/layout" five "$cfg" "$work/l1.tar:gzip" "$work/l2.tar:zstd" "$work/l3.tar:none" "$work/l4.tar:gzip" "$work/l5.tar:gzip"
oci_image "$work/layout" two '{"Cmd":["sleep","1000"]}' "$work/l1.tar:gzip" "$work/l6.tar:gzip"
# 45 layers: their store paths (about 105 bytes each) do not fit the one page a mount option
# string may take, so they must go to overlay one by one (fsconfig lowerdir+).
deep=()
for i in $(seq 1 45); do
  mkdir -p "$work/deep$i/deep"
  echo "$i" >"$work/deep$i/deep/$i"
  echo "$i" >"$work/deep$i/deep/top"
  oci_tar "$work/deep$i" "$work/deep$i.tar"
  deep+=("$work/deep$i.tar:none")
done
oci_image "$work/layout" deep '{"Cmd":["sleep","1000"]}' "$work/l1.tar:gzip" "${deep[@]}"
check "skopeo reads the layout (image five)" skopeo inspect "oci:$work/layout:five"
check "skopeo writes image two as a docker-archive and an oci-archive" sh -c "
  skopeo copy --quiet oci:$work/layout:two docker-archive:$work/two-docker.tar:corral/two:latest &&
  skopeo copy --quiet oci:$work/layout:two oci-archive:$work/two-oci.tar:two"

# Bad layouts: each a copy of `five` with one thing wrong.
cp -a "$work/layout" "$work/bad-digest"
l3=$(sha256sum "$work/l3.tar" | cut -d' ' -f1)
chmod u+w "$work/bad-digest/blobs/sha256/$l3"
printf 'X' | dd of="$work/bad-digest/blobs/sha256/$l3" bs=1 seek=600 conv=notrunc status=none
# Escaping layers, written with Python's tarfile (GNU tar will not write such names). The
# planted link points at a decoy directory the test made, never at a real host path.
mkdir -p "$work/decoy"
/usr/bin/python3 - "$work" <<'EOF'
import io, sys, tarfile
work = sys.argv[1]
def tar(name, members):
    with tarfile.open(f"{work}/{name}.tar", "w", format=tarfile.PAX_FORMAT) as t:
        for m, data in members:
            t.addfile(m, io.BytesIO(data) if data is not None else None)
def f(name, data=b"x\n"):
    i = tarfile.TarInfo(name); i.size = len(data); return (i, data)
def link(name, target, kind=tarfile.SYMTYPE):
    i = tarfile.TarInfo(name); i.type = kind; i.linkname = target; return (i, None)
tar("evil-dotdot", [f("ok"), f("../../escaped-dotdot")])
tar("evil-abs", [f("ok"), f(f"/{work[1:]}/decoy/escaped-abs")])
tar("evil-symlink", [link("planted", f"{work}/decoy"), f("planted/escaped-link")])
tar("evil-hardlink", [f("ok"), link("hl", "../../../etc/hostname", tarfile.LNKTYPE)])
EOF
for e in dotdot abs symlink hardlink; do
  oci_image "$work/evil-$e" evil '{"Cmd":["true"]}' "$work/l1.tar:gzip" "$work/evil-$e.tar:none"
done

corral_sandbox "$(mktemp -d /tmp/corral-ocitest-sb-XXXXXX)" "$work"
store=/var/lib/corral/images/layers/sha256
layer() { echo "$store/$(sha256sum "$work/l$1.tar" | cut -d' ' -f1)"; }
# (inside sb sh -c) the leader pid of a running container
leader() { echo "busctl get-property org.corral1 /org/corral1/container/$1 org.corral1.Container Leader | cut -d' ' -f2"; }

echo "== import a 5-layer image"
check_output "image import five oci:DIR:five: 5 layers, all unpacked" 'imported image five: 5 layers, 5 unpacked, 0 already' \
  sb corralctl image import five "oci:$work/layout:five"
check_output "the whiteout is overlay's (a character device 0:0), the opaque dir has trusted.overlay.opaque=y" \
  '^character special file 0:0 y$' \
  sb sh -c "echo \$(stat -c '%F %t:%T' $(layer 2)/gone) \$(/usr/bin/python3 -c 'import os,sys;print(os.getxattr(sys.argv[1],\"trusted.overlay.opaque\").decode())' $(layer 2)/opq)"
check_output "the hard link is one inode in the layer" '^2 2 $' \
  sb sh -c "stat -c %h $(layer 2)/etc/upper-file $(layer 2)/etc/upper-link | tr '\n' ' '"
check_output "corralctl images lists it: size, kind oci, 5 layers, its source" "^five +[0-9.]+M +oci +5 .*oci:$work/layout:five" sb corralctl images
check_output "image ls --json: layers, entrypoint, user, exposed ports" '"entrypoint":\["/bin/sh","-c"\],"env".*"exposed_ports":\["80/tcp"\].*"layers":5.*"user":"app"' \
  sb sh -c 'corralctl image ls --json | tr -d " \n"'

echo "== a container from it (unprivileged, the default) runs the image's command as its user"
check "create o1 --image five (no command: Entrypoint + Cmd)" sb corralctl create o1 --image five --net none
check_output "its config: 5 layers top first, cwd, user, stop signal" \
  "^image_layer=$(layer 5) image_layer=$(layer 4) image_layer=$(layer 3) image_layer=$(layer 2) image_layer=$(layer 1) cwd=/srv/work user=1000:1000 stop_signal=2 \$" \
  sb sh -c "grep -E '^(image_layer|cwd|user|stop_signal)=' /var/lib/corral/containers/o1/config | tr '\n' ' '"
check "start o1" sb corralctl start o1
check_output "the command saw the upper layer's file, ran as uid 1000 in /srv/work with FOO from the image" \
  '^from-upper 1000 /srv/work from-image $' \
  sb sh -c 'for i in $(seq 50); do corralctl exec o1 -- cat /srv/work/out 2>/dev/null | grep -q from && break; sleep 0.1; done; corralctl exec o1 -- cat /srv/work/out | tr "\n" " "'
check_output "the whited-out /gone is not there, the opaque /opq shows only the upper layer" '^no-gone b$' \
  sb corralctl exec o1 -- sh -c 'echo $(test -e /gone || echo no-gone) $(ls /opq)'
check_output "the lower layers' files are there (four, five, busybox)" '^four five ok$' \
  sb corralctl exec o1 -- sh -c 'echo $(cat /four /five) $(test -x /bin/busybox && echo ok)'
check_output "the image's files are root's inside (idmapped layers), the container runs in its own range" '^0:0 [1-9][0-9]+$' \
  sb sh -c "echo \$(corralctl exec o1 -- stat -c %u:%g /etc/upper-file) \$(awk '{print \$2}' /proc/\$($(leader o1))/uid_map)"
check_output "root's writes go to o1's upper layer, the shared layer is untouched" '^upper-only lower-intact$' \
  sb sh -c "corralctl exec o1 -- sh -c 'echo changed > /etc/upper-file' && echo \$(grep -q changed /var/lib/corral/containers/o1/upper/etc/upper-file && echo upper-only) \$(grep -q from-upper $(layer 2)/etc/upper-file && echo lower-intact)"
check_output "no flattened copy: o1's upper holds only what it wrote" '^absent$' \
  sb sh -c 'test -e /var/lib/corral/containers/o1/upper/bin/busybox && echo present || echo absent'
check "stop o1 (its StopSignal, SIGINT, ends the sleep)" sb corralctl stop o1 --timeout 10
check_output "cp from the stopped o1 reads through the layers" '^four$' sb sh -c "corralctl cp o1:/four /run/four-out && cat /run/four-out"

echo "== a --privileged container, a command given"
check "create o2 --privileged --image five -- sleep 1000" sb corralctl create o2 --image five --net none --privileged -- sleep 1000
check "start o2" sb corralctl start o2
check_output "it runs the given command (it replaces Entrypoint and Cmd) as the image's User, sees the layers" '^1000 from-upper no-gone$' \
  sb corralctl exec o2 -- sh -c 'echo $(cat /proc/1/status | awk "/^Uid/{print \$2}") $(cat /etc/upper-file) $(test -e /gone || echo no-gone)'
sb corralctl stop o2 >/dev/null
check "create o3 --image five --env FOO=given (no command) and start it" \
  sb sh -c 'corralctl create o3 --image five --net none --env FOO=given && corralctl start o3'
check_output "the image's Env is under the given one: FOO=given wins" '^from-upper 1000 /srv/work given $' \
  sb sh -c 'for i in $(seq 50); do corralctl exec o3 -- cat /srv/work/out 2>/dev/null | grep -q from && break; sleep 0.1; done; corralctl exec o3 -- cat /srv/work/out | tr "\n" " "'
sb sh -c 'corralctl stop o3 --timeout 2; corralctl rm o3' >/dev/null 2>&1

echo "== a second image sharing the bottom layer"
check_output "image import two: 1 unpacked, 1 already in the store" 'imported image two: 2 layers, 1 unpacked, 1 already' \
  sb corralctl image import two "oci:$work/layout:two"
check_output "busybox is stored once: one file, one inode, in the whole store" '^1$' \
  sb sh -c "find /var/lib/corral/images -name busybox -type f -printf '%i\n' | sort -u | wc -l"
check_output "6 distinct layers for 7 used" '^6$' sb sh -c "ls $store | wc -l"
check "create and start t1 from two" sb sh -c 'corralctl create t1 --image two --net none && corralctl start t1'
check_output "t1 sees its own layer and busybox, not five's upper layer" '^only-in-two absent$' \
  sb corralctl exec t1 -- sh -c 'echo $(cat /etc/two) $(test -e /etc/upper-file && echo present || echo absent)'
check_output "busybox in o2 and t1 is the same inode on disk (the shared layer)" '^same$' \
  sb sh -c "a=\$(stat -c %i $(layer 1)/bin/busybox); b=\$(stat -L -c %i /proc/\$($(leader t1))/root/bin/busybox); [ \"\$a\" = \"\$b\" ] && echo same || echo \"\$a \$b\""

echo "== an image of 46 layers (a lowerdir list longer than a page)"
check_output "image import deep: 46 layers, 45 unpacked" 'imported image deep: 46 layers, 45 unpacked, 1 already' \
  sb corralctl image import deep "oci:$work/layout:deep"
for mode in "" --privileged; do
  check_output "a container of it ${mode:-(unprivileged)} sees every layer, the top one last" '^45 1 45 top-ok$' \
    sb sh -c "corralctl create dp --image deep --net none $mode && corralctl start dp &&
      corralctl exec dp -- sh -c 'echo \$(ls /deep | grep -v top | wc -l) \$(cat /deep/1) \$(cat /deep/45) \$(test \$(cat /deep/top) = 45 && echo top-ok)';
      corralctl stop dp --timeout 2 >/dev/null; corralctl rm dp >/dev/null"
done
check "image rm deep" sb corralctl image rm deep

echo "== importing the 5-layer image again unpacks nothing"
before=$(sb sh -c "stat -c '%n %i %Z' $store/* | tr '\n' ' '")
check_output "image import five again: 0 unpacked, 5 already in the store" 'imported image five: 5 layers, 0 unpacked, 5 already' \
  sb corralctl image import five "oci:$work/layout:five"
check_output "the layer directories are the same inodes, unchanged" "^$before\$" \
  sb sh -c "stat -c '%n %i %Z' $store/* | tr '\n' ' '"

echo "== archives (skopeo wrote them)"
check_output "image import da docker-archive:FILE: every layer already in the store" 'imported image da: 2 layers, 0 unpacked, 2 already' \
  sb corralctl image import da "docker-archive:$work/two-docker.tar"
check_output "image import oa oci-archive:FILE:two: every layer already in the store" 'imported image oa: 2 layers, 0 unpacked, 2 already' \
  sb corralctl image import oa "oci-archive:$work/two-oci.tar:two"
check "a container from the docker-archive image runs" sb sh -c 'corralctl create d1 --image da --net none && corralctl start d1 && corralctl exec d1 -- cat /etc/two && corralctl stop d1 --timeout 2 && corralctl rm d1'

echo "== image rm keeps what others use"
check_fails "image rm five while o1 and o2 use it" 'used by containers o1, o2.*nothing was removed' sb corralctl image rm five
check "rm o1 o2" sb sh -c 'corralctl rm o1 && corralctl rm o2'
check_output "image rm five: its 4 own layers go, the shared one stays" 'removed image five \(4 layers removed, 1 kept' sb corralctl image rm five
check_output "the shared layer is still there, five's own are gone" '^yes no no no no $' \
  sb sh -c "for d in $(layer 1) $(layer 2) $(layer 3) $(layer 4) $(layer 5); do test -d \$d && echo yes || echo no; done | tr '\n' ' '"
check_output "t1 (image two) still runs on it" '^only-in-two$' sb corralctl exec t1 -- cat /etc/two

echo "== a create while an import or a removal holds the image store"
# What `image import` and `image rm` hold for their whole run (the removal's collection of unused
# layers must never race a container being created from them): corrald refuses at once rather
# than wait for it (its loop never blocks), saying why, and creates nothing.
check_fails "create from image two while the store is locked: refused, saying why" 'image store is busy.*nothing was created' \
  sb sh -c 'flock /var/lib/corral/images/layers/.lock sleep 2 & sleep 0.3; corralctl create busy1 --image two --net none -- true; rc=$?; wait; exit $rc'
check_fails "and there is no container busy1" 'no container' sb corralctl info busy1
check "once the store is free, the same create works" sb sh -c 'corralctl create busy1 --image two --net none -- true >/dev/null && corralctl rm busy1'

echo "== bad input: refused, nothing created"
count() { sb sh -c "echo \$(ls -A $store | wc -l) \$(ls /var/lib/corral/images | tr '\n' ' ')"; }
before=$(count)
check_fails "a layer whose blob does not match its digest" 'layer 3/5 .*blob digest mismatch: the manifest says sha256:.*nothing was imported' \
  sb corralctl image import bad1 "oci:$work/bad-digest:five"
check_fails "a layer with ../ in a path" 'escaped-dotdot.*"\.\." in the path: refused' sb corralctl image import bad2 "oci:$work/evil-dotdot:evil"
check_fails "a layer with an absolute path" 'an absolute path: refused' sb corralctl image import bad3 "oci:$work/evil-abs:evil"
check_fails "a layer writing through a symlink it planted (at a decoy directory)" 'goes through a symbolic link .*planted.*refused' \
  sb corralctl image import bad4 "oci:$work/evil-symlink:evil"
check_fails "a layer hard-linking out of itself" 'hard link target: "\.\." in the path: refused' sb corralctl image import bad5 "oci:$work/evil-hardlink:evil"
check_fails "a tag the layout does not have" 'no image tagged "nope" \(tags: five, two, deep\)' sb corralctl image import bad6 "oci:$work/layout:nope"
check_fails "a name that is not one" 'invalid image name' sb corralctl image import ../x "oci:$work/layout:two"
check_fails "the layer store's own name" 'layer store' sb corralctl image import layers "oci:$work/layout:two"
check_output "nothing was created: the same layers and images, no staging left" "^$before\$" count
check_output "the decoy directory is empty" '^$' ls -A "$work/decoy"
check_output "nothing escaped next to the layouts" '^none$' sh -c "ls $work/escaped-* /tmp/escaped-* 2>/dev/null || echo none"

echo "== image pull from a registry on the sandbox's loopback"
check "docker-registry on 127.0.0.1:5000 (its own unit)" sb sh -c "mkdir -p /run/reg/data && printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /run/reg/data\nhttp:\n  addr: 127.0.0.1:5000\n' > /run/reg/config.yml &&
  systemd-run --unit=oci-test-registry /usr/bin/docker-registry serve /run/reg/config.yml &&
  for i in \$(seq 100); do curl -sf http://127.0.0.1:5000/v2/ >/dev/null && exit 0; sleep 0.1; done; exit 1"
check "skopeo pushes image five there" sb skopeo copy --quiet --dest-tls-verify=false "oci:$work/layout:five" docker://127.0.0.1:5000/corral/five:1
check_output "image pull 127.0.0.1:5000/corral/five:1: named five, 4 layers unpacked, the shared one not" \
  'imported image five: 5 layers, 4 unpacked, 1 already.*docker://127.0.0.1:5000/corral/five:1' \
  sb corralctl image pull 127.0.0.1:5000/corral/five:1
check_output "images shows where it came from" '^five +[0-9.]+M +oci +5 .*docker://127.0.0.1:5000/corral/five:1' sb corralctl images
check "a container from the pulled image starts" sb sh -c 'corralctl create p1 --image five --net none && corralctl start p1'
check_output "and runs the image's command" '^from-upper 1000 /srv/work from-image $' \
  sb sh -c 'for i in $(seq 50); do corralctl exec p1 -- cat /srv/work/out 2>/dev/null | grep -q from && break; sleep 0.1; done; corralctl exec p1 -- cat /srv/work/out | tr "\n" " "'
check_fails "a pull of what the registry lacks fails clearly, nothing kept" 'skopeo exited' sb corralctl image pull 127.0.0.1:5000/corral/nope:1
check_output "no pull scratch left" '^$' sb sh -c "ls -A /var/lib/corral/images/layers | grep pull"
sb systemctl stop oci-test-registry >/dev/null 2>&1

echo "== clean up"
check "stop and rm every container" sb sh -c 'for c in t1 p1; do corralctl stop $c --timeout 2 >/dev/null 2>&1; corralctl rm $c; done'
check "image rm of every image leaves an empty layer store" sb sh -c "for i in two da oa five; do corralctl image rm \$i || exit 1; done; test -z \"\$(ls -A $store)\""
finish
