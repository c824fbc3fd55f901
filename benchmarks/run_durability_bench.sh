#!/usr/bin/env bash
# Runs //benchmarks:durability_bench in the throwaway systemd with /var/lib/corral on a
# directory of the host's disk (under /var/tmp: fsync on the sandbox's usual tmpfs is free, so
# the benchmark would measure nothing), removed at the end. Extra arguments go to the benchmark
# (e.g. --benchmark_repetitions=5).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bazel build -c opt //dbus:corrald //tools:corralctl //tools:corral-run //tools:corral-oci //benchmarks:durability_bench 2>&1 | tail -1
bin=$(readlink -f bazel-bin)
work=$(mktemp -d /var/tmp/corral-durability-XXXXXX)
state=$(mktemp -d /tmp/corral-durability-sandbox-XXXXXX)
trap 'tools/sandbox/sandbox.sh stop "$state" >/dev/null 2>&1 || true; rm -rf "$work" "$state"' EXIT
mkdir -m 0711 "$work/lib"
. tools/sandbox/corral_sandbox.sh
corral_sandbox_up "$state" "$bin" "$work"
sb() { tools/sandbox/sandbox.sh run "$state" -- "$@"; }
# The disk directory over the sandbox's tmpfs /var/lib/corral, with corrald stopped meanwhile.
sb sh -c "systemctl stop corrald; mount --bind '$work/lib' /var/lib/corral && systemctl start corrald"
sb sh -c "awk '\$5 == \"/var/lib/corral\" {print \"/var/lib/corral:\", \$9, \$10}' /proc/self/mountinfo | tail -1"
sb corralctl image build busybox >/dev/null
sb "$bin/benchmarks/durability_bench" "$@"
# Containers' files belong to their uid ranges: removed from inside, then the mount goes.
sb sh -c 'for c in $(corralctl ls | awk "NR>1 {print \$1}"); do corralctl stop $c; corralctl rm $c; done
  systemctl stop corrald; umount /var/lib/corral' >/dev/null 2>&1 || true
