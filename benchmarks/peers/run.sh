#!/usr/bin/env bash
# corral and its peers side by side, one command: builds, runs every suite with its peers in
# the same run (start: crun with corral's profile and with its own, unshare+chroot; exec:
# nsenter; network: iproute2, ip -batch, the CNI bridge plugin; D-Bus start, with and without
# network, and Debian boot: systemd-nspawn, in the throwaway systemd; corral-oci against crun
# on one bundle: run, create+start+delete, exec; runc, lxc-execute,
# lxc-start, lxc-attach and crun exec, installed only in the throwaway systemd),
# then writes peers.md (medians, p90s, ratios) and peers.png into the results folder.
#   benchmarks/peers/run.sh [RESULTS_DIR]      (default benchmarks/results/<date>)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
out=${1:-benchmarks/results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
out=$(readlink -f "$out")
tools/deps.sh >/dev/null
bazel build -c opt //benchmarks:all //tools:corral-run //tools:corral-oci //tools:corralctl //dbus:corrald 2>&1 | tail -1
# Repetitions of corral and its peers run interleaved in random order, not one after the other,
# so a slow minute of this shared machine lands on both.
json() { echo "--benchmark_out=$out/$1.json --benchmark_out_format=json --benchmark_enable_random_interleaving=true"; }

echo "== a Debian image with systemd for every suite (debootstrap)"
images=$(mktemp -d /tmp/corral-peers-XXXXXX)
# Searchable by others: corral-run's container root (an unprivileged host uid in its own user
# namespace) resolves its --rootfs from the host's side.
chmod 0711 "$images"
trap 'rm -rf "$images"' EXIT
bazel-bin/tools/corralctl --images-dir "$images" image build debian >/dev/null
export CORRAL_BENCH_DEBIAN_ROOTFS=$images/debian/rootfs

echo "== start and attach (library, corral-run on busybox and Debian; crun, unshare+chroot, nsenter)"
(cd bazel-bin/benchmarks/start_bench.runfiles/corral && ../../start_bench $(json start) >/dev/null)
bazel-bin/benchmarks/attach_bench $(json attach) >/dev/null
echo "== corral-oci and crun on the same bundle (run, create+start+delete, exec)"
(cd bazel-bin/benchmarks/oci_bench.runfiles/corral && ../../oci_bench $(json oci) >/dev/null)
echo "== network bring-up and teardown (iproute2, ip -batch, CNI bridge)"
bazel-bin/benchmarks/netstart_bench $(json netstart) >/dev/null
echo "== through D-Bus, and Debian booting (systemd-nspawn), in the throwaway systemd"
benchmarks/run_dbus_bench.sh $(json dbus) >/dev/null
echo "== runc, LXC (lxc-execute, lxc-start, lxc-attach) and crun exec, in the throwaway systemd"
benchmarks/run_sandbox_peers_bench.sh $(json sandbox_peers) >/dev/null
echo "== report"
python3 benchmarks/peers/report.py "$out"
echo "results: $out/peers.md $out/peers.png"
