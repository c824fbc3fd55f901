#!/usr/bin/env bash
# Progress of `corralctl image import` (tools/images/progress.h): on a terminal a status line
# with the phase, the bytes of the tarball read, the percentage and the time, ending at 100 %;
# no such line when stderr is no terminal or with --quiet; a failing tar's own output is shown.
# Runs on a private image store in /tmp (no sandbox needed: no container, no systemd).
# Prints "N passed, N failed" last.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/system/lib.sh

if ! log=$(bazel build -c "${CORRAL_TEST_COMPILATION_MODE:-opt}" //tools:corralctl 2>&1); then echo "$log" | tail -20; echo "0 passed, 1 failed"; exit 1; fi
ctl=$(readlink -f bazel-bin/tools/corralctl)
work=$(mktemp -d /tmp/corral-progresstest-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tree/etc" "$work/images"
echo test >"$work/tree/etc/hostname"
head -c 30000000 /dev/urandom >"$work/tree/blob"  # incompressible: tar reads all of it
tar -C "$work/tree" -cf "$work/image.tar" .

out=$(script -qec "$ctl --images-dir $work/images image import t1 $work/image.tar" /dev/null)
echo "$out" | tr '\r' '\n' | tail -3 | sed 's/^/    /'
check_output "on a terminal: a progress line with the phase, bytes and percentage" \
  'importing t1  [0-9.]+ MB / 30\.[0-9] MB  [0-9]+%  0:[0-9]{2}' echo "$out"
check_output "it ends at 100 %" '30\.[0-9] MB / 30\.[0-9] MB  100%' echo "$out"
check_output "and the result line follows" 'imported image t1' echo "$out"
check "the image is there" test -f "$work/images/t1/rootfs/etc/hostname"

quiet=$(script -qec "$ctl --images-dir $work/images image import t2 $work/image.tar --quiet" /dev/null)
check "--quiet: no progress line on a terminal" sh -c "! echo '$quiet' | grep -q '%'"
check_output "--quiet: the result line still" 'imported image t2' echo "$quiet"
piped=$("$ctl" --images-dir "$work/images" image import t3 "$work/image.tar" 2>&1 | cat)
check "stderr no terminal: no progress line" sh -c "! echo '$piped' | grep -q 'MB /'"
check_output "and the result line" 'imported image t3' echo "$piped"

echo "not a tar" >"$work/bad.tar"
bad=$(script -qec "$ctl --images-dir $work/images image import t4 $work/bad.tar; echo exit=\$?" /dev/null)
check_output "a failing tar: its own message is shown" 'tar: .*(not look like a tar archive|Error)' echo "$bad"
check_output "and corralctl fails" 'exit=1' echo "$bad"
check "no image t4, not even its directory" test ! -e "$work/images/t4"
finish
