#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz/ with clang (AddressSanitizer and
# UndefinedBehaviorSanitizer on) and runs each for a bounded time on its seed corpus
# (tests/fuzz/corpus/NAME), which it only reads: new inputs go to a scratch corpus that is
# removed. Any crash, leak, sanitizer report or round-trip mismatch fails the run, and the
# input that caused it is kept under $CORRAL_FUZZ_ARTIFACTS (default /tmp/corral-fuzz-artifacts).
#
#   tools/fuzz.sh [SECONDS_PER_HARNESS] [HARNESS...]     (default 20 s, every harness)
#
# Prints one "ok - fuzz NAME" / "not ok - fuzz NAME" line per harness and ends with
# "N passed, N failed". Outside Bazel on purpose: Bazel's toolchain here is gcc, libFuzzer needs
# clang, and these are the few pure parser sources.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
shift || true
out=$(mktemp -d /tmp/corral-fuzz-XXXXXX)
artifacts=${CORRAL_FUZZ_ARTIFACTS:-/tmp/corral-fuzz-artifacts}
mkdir -p "$artifacts"
trap 'rm -rf "$out"' EXIT

# The parsers and what they need (logs.cc and bus.cc for `logs --since`, with libsystemd).
sources=(
  common/errors.cc common/files.cc common/directory_syncs.cc common/unique_fd.cc common/utf8.cc
  runtime/spec.cc runtime/devices.cc runtime/idmap.cc runtime/attach_wire.cc runtime/storage_spec.cc
  netcfg/config.cc netcfg/dns.cc netcfg/ipam.cc netcfg/ipv4.cc netcfg/owner.cc netcfg/ports.cc netcfg/nat.cc netcfg/nftables.cc
  dbus/container_config.cc dbus/exec_wire.cc dbus/restart_policy.cc dbus/supervisor/protocol.cc dbus/supervisor/state_file.cc tools/run_options.cc tools/ctl/signal.cc tools/ctl/logs.cc tools/ctl/bus.cc
  tools/images/oci/oci_format.cc tools/images/oci/sha256.cc tools/images/oci/layer_readers.cc tools/images/oci/layer_unpack.cc
)
flags=(-std=c++20 -O1 -g -fno-omit-frame-pointer -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)
# nat.cc (the parser of `nft list map` output) lives beside its netlink and nft callers.
absl=(-Wl,--start-group /usr/lib/x86_64-linux-gnu/libabsl_*.a -Wl,--end-group -lnftables -lmnl -lsystemd -l:libz.a -l:libzstd.a)

passed=0
failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }

if ! command -v clang++ >/dev/null; then
  not_ok "fuzz: clang++ is not installed (tools/deps.sh installs clang and libclang-rt-14-dev)"
  echo "$passed passed, $failed failed"
  exit 1
fi
# Jobs at once: the harnesses are single-threaded, so one per core halves the wall time.
jobs=$(nproc)
# Waits until fewer than $jobs background jobs run.
wait_for_slot() { while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done; }

# The runtime's sources once, shared by every harness (harnesses name none of their own).
objects=()
for src in "${sources[@]}"; do
  obj="$out/$(echo "$src" | tr / _).o"
  wait_for_slot
  ( clang++ "${flags[@]/-fsanitize=fuzzer,/-fsanitize=fuzzer-no-link,}" -c "$src" -o "$obj" 2>"$obj.log" ||
      rm -f "$obj" ) &
  objects+=("$obj")
done
wait
for i in "${!sources[@]}"; do
  if [ ! -s "${objects[$i]}" ]; then
    not_ok "fuzz: compile ${sources[$i]}"
    sed 's/^/    /' "${objects[$i]}.log" | head -20
    echo "$passed passed, $failed failed"
    exit 1
  fi
done

# Builds and runs one harness; its outcome goes to $out/NAME.result ("ok ..." or "not ok ...")
# and the lines that explain a failure to $out/NAME.detail.
fuzz_one() {
  local name=$1 bin="$out/$1" scratch="$out/corpus-$1" seeds=tests/fuzz/corpus/$1 log="$out/$1.log"
  if ! clang++ "${flags[@]}" "tests/fuzz/${name}_fuzz.cc" "${objects[@]}" "${absl[@]}" -o "$bin" 2>"$out/$name.build.log"; then
    echo "not ok - fuzz $name: build" >"$out/$name.result"
    sed 's/^/    /' "$out/$name.build.log" | head -20 >"$out/$name.detail"
    return
  fi
  mkdir -p "$scratch"
  [ -d "$seeds" ] || seeds=
  if ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
      -artifact_prefix="$artifacts/$name-" "$scratch" $seeds >"$log" 2>&1; then
    local runs
    runs=$(grep -oE 'Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' | tail -1)
    echo "ok - fuzz $name (${runs:-?} inputs in ${seconds} s, no crash, leak or misread)" >"$out/$name.result"
  else
    echo "not ok - fuzz $name (input kept under $artifacts)" >"$out/$name.result"
    grep -E 'ERROR|SUMMARY|round trip|does not parse|runtime error' "$log" | head -10 | sed 's/^/    /' >"$out/$name.detail"
  fi
}

harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
  for f in tests/fuzz/*_fuzz.cc; do harnesses+=("$(basename "$f" _fuzz.cc)"); done
fi
for name in "${harnesses[@]}"; do
  wait_for_slot
  fuzz_one "$name" &
done
wait
for name in "${harnesses[@]}"; do
  result=$(cat "$out/$name.result" 2>/dev/null || echo "not ok - fuzz $name: no outcome")
  echo "$result"
  [ -s "$out/$name.detail" ] && cat "$out/$name.detail"
  case "$result" in ok*) passed=$((passed + 1)) ;; *) failed=$((failed + 1)) ;; esac
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
