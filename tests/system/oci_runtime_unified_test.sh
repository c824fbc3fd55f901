#!/usr/bin/env bash
# tests/system/oci_runtime_test.sh again on a pure cgroup v2 systemd (sandbox.sh --unified):
# the device filter is the BPF program on the container's cgroup there as on a hybrid host.
set -uo pipefail
cd "$(dirname "$0")/../.."
CORRAL_SANDBOX_LAYOUT=unified exec bash tests/system/oci_runtime_test.sh
