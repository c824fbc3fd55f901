#!/usr/bin/env bash
# Runs //benchmarks:dbus_bench where corrald runs: on this host when PID 1 is systemd, else in a
# throwaway systemd (tools/sandbox/sandbox.sh) with corral installed. Extra arguments go to the
# benchmark (e.g. --benchmark_filter=Exec). With CORRAL_BENCH_DEBIAN=1 it first builds a Debian
# image with systemd (debootstrap, into a temp dir removed at the end) for the boot benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bazel build -c opt //dbus:corrald //tools:corralctl //tools:corral-run //tools:corral-oci //benchmarks:dbus_bench 2>&1 | tail -1
bin=$(readlink -f bazel-bin)
if [ "$(cat /proc/1/comm)" = systemd ]; then
  CORRAL_BIN_DIR=$bin tools/install.sh >/dev/null
  corralctl image build busybox >/dev/null
  exec "$bin/benchmarks/dbus_bench" "$@"
fi
work=$(mktemp -d /tmp/corral-bench-XXXXXX)
state=$work/sandbox
trap 'tools/sandbox/sandbox.sh stop "$state"; rm -rf "$work"' EXIT
debian_env=()
extra_binds=()
if [ -n "${CORRAL_BENCH_DEBIAN_ROOTFS:-}" ]; then
  # A Debian image built already (benchmarks/peers/run.sh builds one for every suite).
  debian_env=(env "CORRAL_BENCH_DEBIAN_ROOTFS=$CORRAL_BENCH_DEBIAN_ROOTFS")
  extra_binds=("$CORRAL_BENCH_DEBIAN_ROOTFS")
elif [ "${CORRAL_BENCH_DEBIAN:-0}" = 1 ]; then
  "$bin/tools/corralctl" --images-dir "$work/images" image build debian >/dev/null
  debian_env=(env "CORRAL_BENCH_DEBIAN_ROOTFS=$work/images/debian/rootfs")
fi
. tools/sandbox/corral_sandbox.sh
corral_sandbox_up "$state" "$bin" "$work" "${extra_binds[@]}"
sb() { tools/sandbox/sandbox.sh run "$state" -- "$@"; }
sb corralctl image build busybox >/dev/null
sb "${debian_env[@]}" "$bin/benchmarks/dbus_bench" "$@"
