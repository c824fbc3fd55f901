#!/usr/bin/env bash
# tests/system/events_test.sh again on a pure cgroup v2 systemd (sandbox.sh --unified), what most
# hosts run. Prints "N passed, N failed" last.
set -uo pipefail
cd "$(dirname "$0")/../.."
CORRAL_SANDBOX_LAYOUT=unified exec bash tests/system/events_test.sh
