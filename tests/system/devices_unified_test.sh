#!/usr/bin/env bash
# tests/system/devices_test.sh again on a pure cgroup v2 systemd (sandbox.sh --unified): there
# the device allow-list is a BPF program of systemd's, not the v1 devices controller; what most
# hosts run: every isolation check there must hold on both layouts. Prints "N passed, N failed" last.
set -uo pipefail
cd "$(dirname "$0")/../.."
CORRAL_SANDBOX_LAYOUT=unified exec bash tests/system/devices_test.sh
