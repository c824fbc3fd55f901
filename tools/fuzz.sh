#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz/ with Debian's clang (ASan + UBSan + libFuzzer,
# outside Bazel, whose toolchain is gcc) and runs each for a bounded time on its seed corpus
# (tests/fuzz/corpus/NAME, copied to a scratch dir so new inputs do not land in the repo).
#   tools/fuzz.sh [SECONDS_EACH]   (default 20)
# Prints "N passed, N failed" last (one per harness); a crash's input is kept in /tmp.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-20}
out=$(mktemp -d /tmp/corral-fuzz-XXXXXX)
trap 'rm -rf "$out/build" "$out/corpus"' EXIT
clang=${CLANGXX:-clang++}
if ! command -v "$clang" >/dev/null; then echo "no $clang (apt-get install clang)"; echo "0 passed, 1 failed"; exit 1; fi
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I. -w)
absl=(-labsl_status -labsl_statusor -labsl_strings -labsl_strings_internal -labsl_str_format_internal
      -labsl_cord -labsl_cordz_info -labsl_cord_internal -labsl_cordz_functions -labsl_cordz_handle
      -labsl_exponential_biased -labsl_synchronization -labsl_graphcycles_internal -labsl_stacktrace
      -labsl_symbolize -labsl_debugging_internal -labsl_demangle_internal -labsl_malloc_internal
      -labsl_time -labsl_civil_time -labsl_time_zone -labsl_int128 -labsl_throw_delegate
      -labsl_raw_logging_internal -labsl_base -labsl_spinlock_wait -labsl_log_severity)
common=(common/errors.cc common/files.cc common/unique_fd.cc)
declare -A sources=(
  [config_fuzzer]="dbus/container_config.cc netcfg/ports.cc runtime/devices.cc runtime/spec.cc"
  [leases_fuzzer]="netcfg/ipam.cc netcfg/ipv4.cc netcfg/ports.cc runtime/idmap.cc"
  [parsers_fuzzer]="netcfg/ports.cc runtime/devices.cc runtime/spec.cc"
)
passed=0 failed=0
mkdir -p "$out/build" "$out/corpus"
for name in config_fuzzer leases_fuzzer parsers_fuzzer; do
  echo "== $name"
  # shellcheck disable=SC2086
  if ! log=$("$clang" "${flags[@]}" tests/fuzz/$name.cc ${sources[$name]} "${common[@]}" "${absl[@]}" -o "$out/build/$name" 2>&1); then
    echo "$log" | grep -E 'error|undefined reference' | head -20
    echo "not ok - $name builds"; failed=$((failed + 1)); continue
  fi
  mkdir -p "$out/corpus/$name"
  cp tests/fuzz/corpus/$name/* "$out/corpus/$name/" 2>/dev/null
  if (cd "$out" && "$out/build/$name" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=1024 \
        -artifact_prefix="$out/$name-" "$out/corpus/$name" > "$out/$name.log" 2>&1); then
    echo "ok - $name: no crash in ${seconds} s ($(tail -1 "$out/$name.log"))"
    passed=$((passed + 1))
  else
    tail -30 "$out/$name.log"
    echo "not ok - $name (crash input and log kept in $out)"; failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && rm -rf "$out"  # kept (logs, crash inputs) only when something failed
[ "$failed" -eq 0 ]
