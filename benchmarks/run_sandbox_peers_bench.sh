#!/usr/bin/env bash
# Runs //benchmarks:sandbox_peers_bench (corral against runc run, lxc-execute, lxc-start,
# lxc-attach and crun exec, in one run) inside the throwaway systemd (tools/sandbox/sandbox.sh),
# always, even where PID 1 is systemd: runc and LXC make cgroups at the root of the hierarchies
# they see and LXC's package starts lxc-net (a bridge and NAT), so they are never installed or
# run on the host. Their Debian packages are only downloaded on the host (apt-get
# --download-only, which installs nothing) into a cache kept for later runs,
#   $CORRAL_PEERS_DEBS (default /var/cache/corral-peers/debs),
# and installed with dpkg inside the sandbox, whose root is an overlay with a tmpfs upper layer
# that goes away with it; lxc-net and LXC's other services are kept from starting there.
# Extra arguments go to the benchmark (e.g. --benchmark_filter=Lxc).
#   benchmarks/run_sandbox_peers_bench.sh [--benchmark_out=FILE --benchmark_out_format=json] ...
set -euo pipefail
cd "$(dirname "$0")/.."
bazel build -c opt //dbus:corrald //tools:corralctl //tools:corral-run //tools:corral-oci //benchmarks:sandbox_peers_bench 2>&1 | tail -1
bin=$(readlink -f bazel-bin)

debs=${CORRAL_PEERS_DEBS:-/var/cache/corral-peers/debs}
if ! ls "$debs"/runc_*.deb "$debs"/lxc_*.deb >/dev/null 2>&1; then
  mkdir -p "$debs/partial"
  download() { apt-get install -y -q --download-only --no-install-recommends -o Dir::Cache::archives="$debs" lxc runc >/dev/null; }
  # A machine whose package lists are empty or stale knows no lxc yet: refresh them once.
  download || { apt-get update -qq && download; }
fi

work=$(mktemp -d /tmp/corral-bench-XXXXXX)
# The benchmark's busybox rootfs goes here (TMPDIR below): a host directory, which can be
# idmapped (the sandbox's /tmp is an overlay), searchable by corral-run's unprivileged root.
chmod 0711 "$work"
state=$work/sandbox
trap 'tools/sandbox/sandbox.sh stop "$state"; rm -rf "$work"' EXIT
. tools/sandbox/corral_sandbox.sh
# The folder of --benchmark_out=FILE too, wherever it is.
binds=()
for arg in "$@"; do
  case $arg in --benchmark_out=*) binds+=("$(dirname "$(readlink -f "${arg#*=}")")") ;; esac
done
corral_sandbox_up "$state" "$bin" "$work" "$debs" "${binds[@]}"
sb() { tools/sandbox/sandbox.sh run "$state" -- "$@"; }
# policy-rc.d keeps the postinsts from starting anything; masking keeps the services down after.
sb sh -c "printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d &&
          DEBIAN_FRONTEND=noninteractive dpkg -i $debs/*.deb >/dev/null 2>&1 &&
          systemctl mask -q lxc-net.service lxc.service lxc-monitord.service"
# Repetitions of all benchmarks in a random order, so a burst of load elsewhere on this shared
# machine lands on corral and its peers alike rather than on whichever ran then.
sb env TMPDIR="$work" "$bin/benchmarks/sandbox_peers_bench" --benchmark_enable_random_interleaving=true "$@"
