#!/usr/bin/env bash
# Every test of corral: installs dependencies, runs `bazel test //...` (unit tests and the
# privileged integration tests), then the system tests against a throwaway systemd (with the
# binaries of that build), the same bazel tests under ASan+UBSan, and the parser fuzzers
# (tools/fuzz.sh).
# Prints "N passed, N failed" last; exits non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

tools/deps.sh || { echo "deps: failed"; echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
failed_names=()

# Adds the gtest case counts of every Bazel test target from its test.xml.
count_bazel_cases() {
  local xml tests failures errors
  while IFS= read -r xml; do
    tests=$(grep -o '<testsuites[^>]*' "$xml" | grep -o ' tests="[0-9]*"' | head -1 | grep -o '[0-9]*')
    failures=$(grep -o '<testsuites[^>]*' "$xml" | grep -o ' failures="[0-9]*"' | head -1 | grep -o '[0-9]*')
    errors=$(grep -o '<testsuites[^>]*' "$xml" | grep -o ' errors="[0-9]*"' | head -1 | grep -o '[0-9]*')
    tests=${tests:-0}; failures=${failures:-0}; errors=${errors:-0}
    passed=$((passed + tests - failures - errors))
    failed=$((failed + failures + errors))
  done < <(find -L bazel-testlogs/ -name test.xml 2>/dev/null)
}

# One `bazel test //...` pass (extra flags in "$@"), its gtest cases counted.
bazel_pass() {
  local title=$1
  shift
  echo "== $title ($((SECONDS / 60)) min since the start)"
  rm -rf bazel-testlogs/ 2>/dev/null
  bazel test //... --test_output=errors "$@" 2>&1 | tee "$bazel_log" |
    grep -vE '^(Loading|Analyzing|INFO: (From|Reading|Found))' | tail -40
  local rc=${PIPESTATUS[0]}
  count_bazel_cases
  if [ "$rc" -ne 0 ]; then
    # A target that failed to build or crashed has no test.xml with failures: count it.
    local broken
    broken=$(grep -cE '(FAILED TO BUILD|NO STATUS|TIMEOUT|FAILED in)' "$bazel_log" || true)
    [ "$broken" -gt 0 ] || broken=1
    failed=$((failed + broken))
    failed_names+=("$title (exit $rc)")
  fi
}

bazel_log=$(mktemp /tmp/corral-bazel-test.XXXXXX)
trap 'rm -f "$bazel_log"' EXIT
bazel_pass "bazel test //..."
# System tests: each script prints "N passed, N failed" last and exits non-zero on failure.
# They run right after the first pass and build with its compilation mode, so their binaries
# come from that build instead of a fourth one (-c opt); the asan pass rebuilds in place after.
export CORRAL_TEST_COMPILATION_MODE=fastbuild
for t in tests/system/*.sh; do
  [ -e "$t" ] || continue
  case "$(basename "$t")" in *lib.sh) continue ;; esac  # the helpers they source, not tests
  echo "== $t"
  started=$SECONDS
  out=$(bash "$t" 2>&1); rc=$?
  echo "$out" | tail -60
  echo "   ($t took $((SECONDS - started)) s; $((SECONDS / 60)) min since the start)"
  line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
  if [ -n "$line" ]; then
    p=$(echo "$line" | awk '{print $1}'); f=$(echo "$line" | awk '{print $3}')
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi
  elif [ "$rc" -eq 0 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
  [ "$rc" -eq 0 ] || failed_names+=("$t")
done

# The same unit and privileged tests with AddressSanitizer and UBSan (.bazelrc, config asan).
# Only what the tests need is built again (the first pass built every target, benchmarks too).
bazel_pass "bazel test --config=asan //..." --config=asan --build_tests_only

# The parsers of outside input under libFuzzer, 20 s each (tools/fuzz.sh prints its own count).
echo "== tools/fuzz.sh"
out=$(tools/fuzz.sh "${CORRAL_FUZZ_SECONDS:-20}" 2>&1); rc=$?
echo "$out" | tail -20
line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
passed=$((passed + $(echo "${line:-0 passed, 1 failed}" | awk '{print $1}')))
failed=$((failed + $(echo "${line:-0 passed, 1 failed}" | awk '{print $3}')))
[ "$rc" -eq 0 ] || failed_names+=("tools/fuzz.sh")

if ((${#failed_names[@]})); then
  echo "failed: ${failed_names[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
