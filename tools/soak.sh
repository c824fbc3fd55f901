#!/usr/bin/env bash
# Soak (issue 13): CYCLES create -> start -> exec -> stop -> rm cycles of a bridge-networked
# container with a port forward, each with a new name, in the throwaway systemd. Every
# INTERVAL cycles it records what a leak would grow: mounts, veths, nft forward elements,
# cgroups, files under /var/lib/corral and /run/corral, leases, corrald's open fds, units,
# machines, and corrald's RSS. The first sample is the warm-up; every later one must show no
# counter above it, and an RSS at most CORRAL_SOAK_RSS_SLACK_KB (default 2048) above it.
# Not part of tools/test.sh (10,000 cycles take hours).
#
#   tools/soak.sh [CYCLES] [INTERVAL]        (default 10000 500)
#
# Prints the table of samples, "ok"/"not ok" per check and "N passed, N failed" last; the
# samples also go to $CORRAL_SOAK_OUT (default /tmp/corral-soak-PID.tsv).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Inside the sandbox: the loop itself (one transient unit), samples to $4.
if [ "${1:-}" = --inside ]; then
  cycles=$2 interval=$3 out=$4
  sample() {
    local pid cg
    pid=$(systemctl show -p MainPID --value corrald)
    cg=$(find /sys/fs/cgroup -type d 2>/dev/null | wc -l)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" \
      "$(wc -l < /proc/self/mountinfo)" \
      "$(ip -o link show 2>/dev/null | grep -c ' ve-')" \
      "$(nft list map ip corral tcp_forwards 2>/dev/null | grep -oE '[0-9]+ : [0-9.]+ \. [0-9]+' | wc -l)" \
      "$cg" \
      "$(find /var/lib/corral /run/corral 2>/dev/null | grep -v '^/var/lib/corral/images/' | wc -l)" \
      "$(grep -vc '^corral-leases \|^end ' /var/lib/corral/network/leases 2>/dev/null)" \
      "$(ls /proc/"$pid"/fd 2>/dev/null | wc -l)" \
      "$(systemctl list-units --all --no-legend 2>/dev/null | wc -l)" \
      "$(machinectl list --no-legend 2>/dev/null | grep -c .)" \
      "$(awk '/^VmRSS:/ {print $2}' /proc/"$pid"/status)" >> "$out"
  }
  printf 'cycle\tmounts\tveths\tforwards\tcgroups\tfiles\tleases\tfds\tunits\tmachines\trss_kb\n' > "$out"
  failures=0
  for i in $(seq "$cycles"); do
    n=soak-$i
    if ! { corralctl create "$n" --image busybox -p 8099:80 -- sleep 1000 >/dev/null &&
           corralctl start "$n" && corralctl exec "$n" -- true && corralctl stop "$n" && corralctl rm "$n"; } \
         > /tmp/soak-cycle.log 2>&1; then
      failures=$((failures + 1))
      echo "cycle $i failed: $(tail -3 /tmp/soak-cycle.log | tr '\n' ' ')" >> "$out.errors"
      corralctl stop "$n" >/dev/null 2>&1; corralctl rm "$n" >/dev/null 2>&1
    fi
    if [ $((i % interval)) -eq 0 ]; then
      # A stopped container's veth goes with its netns in the kernel's own time.
      sleep 1
      sample "$i"
    fi
  done
  echo "failures=$failures" >> "$out.errors"
  exit 0
fi

cycles=${1:-10000}
interval=${2:-500}
slack=${CORRAL_SOAK_RSS_SLACK_KB:-2048}
out=${CORRAL_SOAK_OUT:-/tmp/corral-soak-$$.tsv}
. tests/system/lib.sh
build_corral
echo "== booting a throwaway systemd with corral installed"
corral_sandbox "$(mktemp -d /tmp/corral-soak-XXXXXX)"
check "corralctl image build busybox" sb corralctl image build busybox
inside=/tmp/soak.tsv
echo "== $cycles cycles, a sample every $interval"
start=$(date +%s)
tools/sandbox/sandbox.sh run "$sandbox_state" -- "$root/tools/soak.sh" --inside "$cycles" "$interval" "$inside"
elapsed=$(( $(date +%s) - start ))
sb cat "$inside" > "$out"
column -t "$out" 2>/dev/null || cat "$out"
errors=$(sb cat "$inside.errors" 2>/dev/null)
echo "$errors" | grep -v '^failures=' | head -10 | sed 's/^/    /'
fails=$(echo "$errors" | sed -n 's/^failures=//p')
echo "    $cycles cycles in ${elapsed} s ($(( elapsed * 1000 / (cycles > 0 ? cycles : 1) )) ms each)"
check_output "every cycle succeeded (${fails:-?} failed)" '^0$' echo "${fails:-missing}"
samples=$(($(wc -l < "$out") - 1))
check_output "a sample every $interval cycles ($samples of $((cycles / interval)))" "^$((cycles / interval))\$" echo "$samples"
if [ "$samples" -ge 2 ]; then
  # Every counter of every sample after the warm-up at most the warm-up's; RSS within the slack.
  growth=$(awk -F'\t' -v slack="$slack" '
    NR == 1 { for (i = 2; i <= NF; i++) name[i] = $i; next }
    NR == 2 { for (i = 2; i <= NF; i++) base[i] = $i; next }
    { for (i = 2; i < NF; i++) if ($i > base[i]) print name[i] " grew from " base[i] " to " $i " at cycle " $1
      if ($NF > base[NF] + slack) print "rss_kb grew from " base[NF] " to " $NF " at cycle " $1 }' "$out")
  check_output "no counter grew after the warm-up, RSS within ${slack} KiB${growth:+ ($growth)}" '^$' echo "$growth"
else
  not_ok "at least two samples are needed to compare with the warm-up"
fi
finish
