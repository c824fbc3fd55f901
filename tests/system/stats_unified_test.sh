#!/usr/bin/env bash
# corralctl stats and top again on a pure cgroup v2 systemd (sandbox.sh --unified): the
# payload leaf's own files, the scope's limits in force above it. Prints "N passed, N failed" last.
set -uo pipefail
cd "$(dirname "$0")/../.."
CORRAL_SANDBOX_LAYOUT=unified exec bash tests/system/stats_test.sh
