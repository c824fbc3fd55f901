#!/usr/bin/env bash
# corrald's whole system test again, on a pure cgroup v2 systemd (sandbox.sh --unified), what
# most hosts run: the scope's delegation, the payload leaf, device filters (BPF there, not the
# v1 devices controller) and every isolation check must hold on both layouts. Prints
# "N passed, N failed" last.
set -uo pipefail
cd "$(dirname "$0")/../.."
CORRAL_SANDBOX_LAYOUT=unified exec bash tests/system/corrald_test.sh
