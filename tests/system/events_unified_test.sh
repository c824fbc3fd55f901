#!/usr/bin/env bash
# Live limits, OOM kills and events again on a pure cgroup v2 systemd (sandbox.sh --unified):
# memory.events of the payload leaf is where the OOM kill is read there. Prints "N passed,
# N failed" last.
set -uo pipefail
cd "$(dirname "$0")/../.."
CORRAL_SANDBOX_LAYOUT=unified exec bash tests/system/events_test.sh
