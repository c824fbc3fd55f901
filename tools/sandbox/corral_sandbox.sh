# Sourced by the system tests, the demo and the D-Bus benchmarks: the throwaway systemd with
# corral installed in it.
#
#   corral_sandbox_up STATE_DIR BIN_DIR [EXTRA_BIND...]
# boots tools/sandbox/sandbox.sh with the checkout, the Bazel outputs (BIN_DIR's parent and the
# output base) and every EXTRA_BIND bound in, puts /var/lib/corral on a tmpfs (the sandbox's root
# is an overlay, which cannot be an overlay's upper layer, as container rootfs need), and
# installs corral from BIN_DIR with tools/install.sh. CORRAL_SANDBOX_LAYOUT=unified gives the
# sandbox's systemd a pure cgroup v2 hierarchy (sandbox.sh start --unified). Returns non-zero, with the sandbox's own
# message, when any step fails; `sandbox.sh stop STATE_DIR` cleans up either way.
corral_sandbox_up() {
  local state=$1 bin=$2
  shift 2
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  local sandbox=$root/tools/sandbox/sandbox.sh
  local binds=(--bind "$root" --bind "$(readlink -f "$bin/..")" --bind "$(cd "$root" && bazel info output_base 2>/dev/null)")
  local extra
  for extra in "$@"; do binds+=(--bind "$extra"); done
  local layout=()
  [ "${CORRAL_SANDBOX_LAYOUT:-host}" = unified ] && layout=(--unified)
  "$sandbox" start "$state" "${layout[@]}" "${binds[@]}" >/dev/null || return 1
  "$sandbox" run "$state" -- sh -c 'mkdir -p /var/lib/corral && mount -t tmpfs -o mode=0755 corral /var/lib/corral' ||
    return 1
  "$sandbox" run "$state" -- env CORRAL_BIN_DIR="$bin" "$root/tools/install.sh" >/dev/null
}
