#!/usr/bin/env bash
# D-Bus bad input (issue 13): tests/probe/bus_fuzz.cc sends CORRAL_BUS_FUZZ_COUNT (default
# 3000) random well-typed and ill-typed calls to every method of org.corral1.Manager and to
# container objects, against a corrald with one stopped and one running container; each must
# be answered within 1 s with success or a named error, and a refused call must change neither
# ListContainers nor any file under /var/lib/corral. corrald must still be the same process
# afterwards (no crash), and ListContainers is polled all through (under 1 s, worst printed).
# In the throwaway systemd. Prints "N passed, N failed" last.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/system/lib.sh
. tests/system/fault_lib.sh
latency_report=${CORRAL_LATENCY_REPORT:-}
count=${CORRAL_BUS_FUZZ_COUNT:-3000}

build_corral //tests:bus_fuzz
echo "== booting a throwaway systemd with corral installed"
corral_sandbox "$(mktemp -d /tmp/corral-busfuzz-XXXXXX)"

check "corralctl image build busybox" sb corralctl image build busybox
check "a running container (fzrun) and a stopped one (fzkeep)" sb sh -c "
  corralctl create fzrun --image busybox --net none -- sleep 1000 >/dev/null && corralctl start fzrun &&
  corralctl create fzkeep --image busybox --net none -- sleep 1000 >/dev/null"
before=$(sb systemctl show -p MainPID --value corrald)
latency_start
out=$(timeout 900 tools/sandbox/sandbox.sh run "$sandbox_state" -- "$bin/tests/bus_fuzz" --count "$count" --seed "${CORRAL_BUS_FUZZ_SEED:-$(date +%s)}" 2>&1)
rc=$?
echo "$out" | grep -A8 '^finding' | head -60 | sed 's/^/    /'
echo "$out" | sed -n '/^bus_fuzz: /,$p' | sed 's/^/    /'
check_latency "the bad-input run"
summary=$(echo "$out" | grep '^bus_fuzz: ')
check_output "all $count calls answered within 1 s with success or a named error, refusals changed nothing" \
  ' 0 findings$' echo "$summary"
check_output "the run ended well (rc $rc)" '^0$' echo "$rc"
check_output "corrald is the same process ($before): it never crashed" "^$before\$" sb systemctl show -p MainPID --value corrald
check_output "fzrun still runs" '^fzrun +running' sb corralctl ls

echo "== cleanup"
sb sh -c 'for c in $(corralctl ls | awk "NR>1 {print \$1}"); do corralctl stop "$c"; corralctl rm "$c"; done
  for v in $(corralctl volume ls 2>/dev/null | awk "NR>1 {print \$1}"); do corralctl volume rm "$v"; done' >/dev/null 2>&1
check_output "the truth at the end" '^ok$' fault_truth
check_output "no container is left" '^0$' sb sh -c "corralctl ls | awk 'NR>1' | wc -l"
finish
