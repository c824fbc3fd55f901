#!/usr/bin/env bash
# No C++ source or header of corral over 600 lines (issue 12's "must reach"): a file that long
# is several things at once and wants splitting along its seams. third_party and the fuzz
# corpora are not ours to size. Run by `bazel test //tests:file_size_test`; it reads the source
# tree the test's own file links back to, so it sees every file, not only declared inputs.
set -euo pipefail

limit=600

# Files that still exceed the limit while their owners shrink them (other issues' work in
# parallel). Each entry goes once its file is under the limit; a file not listed here that grows
# past it fails the test. Do not add a file here to make the test pass: split it.
allowed=(
  tools/oci/main.cc        # corral-oci's verbs (issue 16)
  runtime/oci/config.cc    # config.json -> ContainerSpec (issue 16)
  runtime/oci/launch.cc    # the OCI create/start (issue 16)
)

script=$(readlink -f "${BASH_SOURCE[0]}")
root=$(cd "$(dirname "$script")/.." && pwd)
[[ -f "$root/WORKSPACE" || -f "$root/WORKSPACE.bazel" ]] || { echo "no workspace at $root"; exit 1; }
cd "$root"

fail=0
checked=0
while IFS= read -r -d '' file; do
  file=${file#./}
  checked=$((checked + 1))
  lines=$(wc -l < "$file")
  (( lines > limit )) || continue
  listed=0
  for a in "${allowed[@]}"; do [[ "$a" == "$file" ]] && listed=1; done
  if (( listed )); then
    echo "allowed for now: $file has $lines lines (limit $limit)"
  else
    echo "FAIL: $file has $lines lines (limit $limit): split it along its seams"
    fail=1
  fi
done < <(find . \( -path ./third_party -o -path ./tests/fuzz/corpus -o -path './bazel-*' -o -path ./.git \) -prune \
           -o -type f \( -name '*.cc' -o -name '*.h' \) -print0)

# An allow-list entry for a file now under the limit (or gone) is stale: say so, so it is dropped.
for a in "${allowed[@]}"; do
  if [[ ! -f "$a" ]] || (( $(wc -l < "$a") <= limit )); then echo "note: $a is under $limit lines now: drop it from the list"; fi
done

(( checked > 100 )) || { echo "FAIL: only $checked files found under $root"; exit 1; }
echo "$checked files checked"
exit $fail
