# Shared helpers of the system tests: TAP-like checks and a closing "N passed, N failed".
# Source it; call `finish` last.
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }

# check "description" command...: passes when the command exits 0.
check() {
  local what=$1; shift
  local out
  if out=$("$@" 2>&1); then ok "$what"; else not_ok "$what"; echo "$out" | sed 's/^/    /' | tail -15; fi
}

# check_output "description" "regex" command...: passes when the output matches.
check_output() {
  local what=$1 pattern=$2; shift 2
  local out
  out=$("$@" 2>&1)
  if echo "$out" | grep -Eq -- "$pattern"; then ok "$what"; else not_ok "$what (wanted /$pattern/)"; echo "$out" | sed 's/^/    /' | tail -15; fi
}

# check_fails "description" "regex" command...: passes when the command fails and says so.
check_fails() {
  local what=$1 pattern=$2; shift 2
  local out
  if out=$("$@" 2>&1); then not_ok "$what (it succeeded)"; echo "$out" | sed 's/^/    /' | tail -5; return; fi
  if echo "$out" | grep -Eq -- "$pattern"; then ok "$what"; else not_ok "$what (wanted /$pattern/)"; echo "$out" | sed 's/^/    /' | tail -5; fi
}

finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

# Both system tests of corrald start the same way. build_corral [TARGET...]: builds the
# binaries (and the test's own targets, in the same build) and sets $bin, or ends the test as
# one failure; -c opt unless CORRAL_TEST_COMPILATION_MODE says otherwise (tools/test.sh reuses
# the fastbuild of its first `bazel test` pass, where .bazelrc's -O2 applies as well). corral_sandbox STATE [EXTRA_BIND...]: the throwaway
# systemd with corral installed (tools/sandbox/corral_sandbox.sh), stopped when the test exits,
# and `sb CMD...` to run CMD in it as a unit, at most 60 s so one stuck check cannot hang the run.
build_corral() {
  local log
  if ! log=$(bazel build -c "${CORRAL_TEST_COMPILATION_MODE:-opt}" //dbus:corrald //tools:corralctl //tools:corral-run //tools:corral-oci "$@" 2>&1); then
    echo "$log" | tail -20
    echo "0 passed, 1 failed"
    exit 1
  fi
  bin=$(readlink -f bazel-bin)
}

corral_sandbox() {
  sandbox_state=$1
  shift
  trap 'tools/sandbox/sandbox.sh stop "$sandbox_state" >/dev/null 2>&1 || true; ${extra_cleanup:-true}' EXIT
  . tools/sandbox/corral_sandbox.sh
  if ! corral_sandbox_up "$sandbox_state" "$bin" "$@"; then
    echo "0 passed, 1 failed"
    exit 1
  fi
}

sb() { timeout 60 tools/sandbox/sandbox.sh run "$sandbox_state" -- "$@"; }

# busybox_tarball WORK: WORK/rootfs (the host's busybox-static with its applets as links) and
# WORK/busybox.tar of it: the image podman, docker and containerd import offline.
busybox_tarball() {
  mkdir -p "$1/rootfs/bin" "$1/rootfs/tmp" "$1/rootfs/etc"
  cp /bin/busybox "$1/rootfs/bin/busybox"
  for applet in $("$1/rootfs/bin/busybox" --list); do [ "$applet" = busybox ] || ln -sf busybox "$1/rootfs/bin/$applet"; done
  tar -C "$1/rootfs" -cf "$1/busybox.tar" .
}
