#!/usr/bin/env bash
# The OCI runtime-tools validation programs against corral-oci, crun and runc, in one throwaway
# systemd (tools/sandbox/sandbox.sh; CORRAL_SANDBOX_LAYOUT=unified for a pure cgroup v2 one, which
# crun needs: it refuses a hybrid host). RT_DIR is a runtime-tools checkout with `runtimetest`
# and validation/*.t built (Debian's golang-go, offline: see README "Conformance").
#   benchmarks/conformance/run_runtime_tools.sh RT_DIR OUT_DIR [RUNTIME...]
# Writes OUT_DIR/<runtime>/<program>.tap and OUT_DIR/summary.txt (programs passed of all, strict
# and as a TAP harness counts them; TAP assertions passed of all; per runtime).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
rt=$(readlink -f "$1")
out=$(mkdir -p "$2" && readlink -f "$2")
shift 2
runtimes=("$@")
[ ${#runtimes[@]} -gt 0 ] || runtimes=(/usr/local/bin/corral-oci /usr/bin/crun /usr/sbin/runc)
. tests/system/lib.sh
build_corral
corral_sandbox "$out/sandbox" "$rt" "$out"
for runtime in "${runtimes[@]}"; do
  name=$(basename "$runtime")
  mkdir -p "$out/$name"
  # One unit per runtime; each program at most 60 s.
  timeout 3000 tools/sandbox/sandbox.sh run "$out/sandbox" -- sh -c "cd $rt && for t in validation/*.t; do
      n=\$(basename \$t .t); RUNTIME=$runtime timeout 60 ./\$t > $out/$name/\$n.tap 2>&1; echo \"exit=\$?\" >> $out/$name/\$n.tap; done" \
    </dev/null >/dev/null 2>&1
done
tools/sandbox/sandbox.sh stop "$out/sandbox" >/dev/null 2>&1
trap - EXIT
{
  for runtime in "${runtimes[@]}"; do
    name=$(basename "$runtime")
    total=0 passed=0 lenient=0 asserts=0 asserts_ok=0
    for f in "$out/$name"/*.tap; do
      total=$((total + 1))
      ok=$(grep -c '^ok ' "$f"); bad=$(grep -c '^not ok ' "$f")
      asserts=$((asserts + ok + bad)); asserts_ok=$((asserts_ok + ok))
      # Strict: exit 0, no "not ok", at least one "ok". Lenient (what a TAP harness calls a
      # pass): exit 0 and no "not ok", so "1..0" after an error diagnostic counts too.
      if grep -q '^exit=0$' "$f" && [ "$bad" -eq 0 ]; then
        lenient=$((lenient + 1))
        [ "$ok" -gt 0 ] && passed=$((passed + 1))
      fi
    done
    echo "$name: $passed of $total programs pass (strict), $lenient (TAP harness); $asserts_ok of $asserts TAP assertions ok"
  done
} | tee "$out/summary.txt"
