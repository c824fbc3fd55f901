#!/usr/bin/env bash
# Runs //benchmarks:dbus_bench where corrald runs: on this host when PID 1 is systemd, else in a
# throwaway systemd (tools/sandbox/sandbox.sh) with corral installed. Extra arguments go to the
# benchmark (e.g. --benchmark_filter=Exec).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bazel build -c opt //dbus:corrald //tools:corralctl //tools:corral-run //benchmarks:dbus_bench 2>&1 | tail -1
bin=$(readlink -f bazel-bin)
if [ "$(cat /proc/1/comm)" = systemd ]; then
  CORRAL_BIN_DIR=$bin tools/install.sh >/dev/null
  corralctl image build busybox >/dev/null
  exec "$bin/benchmarks/dbus_bench" "$@"
fi
state=$(mktemp -d /tmp/corral-bench-XXXXXX)
trap 'tools/sandbox/sandbox.sh stop "$state"' EXIT
tools/sandbox/sandbox.sh start "$state" --bind "$root" --bind "$(readlink -f "$bin/..")" \
  --bind "$(bazel info output_base 2>/dev/null)" >/dev/null
sb() { tools/sandbox/sandbox.sh run "$state" -- "$@"; }
sb sh -c 'mkdir -p /var/lib/corral && mount -t tmpfs corral /var/lib/corral'
sb env CORRAL_BIN_DIR="$bin" "$root/tools/install.sh" >/dev/null
sb corralctl image build busybox >/dev/null
sb "$bin/benchmarks/dbus_bench" "$@"
