# Shared by the fault-injection system tests (faults, enospc, bus_fuzz, blocking, broken_files):
# the whole truth after a fault, and corrald's ListContainers latency measured all through it.
# Source after lib.sh, once corral_sandbox has booted (uses sb and $sandbox_state).

# fault_truth: prints "ok" when what corrald says agrees with the system, else what disagrees:
# every running container of `corralctl ls` has a populated scope, is a machine of machined and
# every populated corral-*.scope (but corral-run's run-*) is such a container; no container
# mount, run directory state file, forward (in the leases file or in table ip corral), veth on
# corral0 or machine belongs to a container that does not run; no container is left starting
# or stopping.
fault_truth() {
  sb sh -c '
    bad=""
    ls=$(corralctl ls)
    running=$(echo "$ls" | awk "NR>1 && \$2==\"running\" {print \$1}" | sort)
    transient=$(echo "$ls" | awk "NR>1 && (\$2==\"starting\" || \$2==\"stopping\") {print \$1}")
    [ -z "$transient" ] || bad="$bad transient=[$(echo $transient)]"
    scopes=$(for f in /sys/fs/cgroup/unified/machine.slice/corral-*.scope/cgroup.events /sys/fs/cgroup/machine.slice/corral-*.scope/cgroup.events; do
        [ -e "$f" ] && grep -q "populated 1" "$f" && basename $(dirname "$f") .scope | sed "s/^corral-//"; done | grep -v "^run-" | sort -u)
    [ "$running" = "$scopes" ] || bad="$bad ls=[$(echo $running)] scopes=[$(echo $scopes)]"
    machines=$(machinectl list --no-legend 2>/dev/null | awk "{print \$1}" | grep -v "^run-" | sort)
    [ "$running" = "$machines" ] || bad="$bad machines=[$(echo $machines)]"
    for m in $(awk "{print \$5}" /proc/self/mountinfo | grep -E "^/run/corral/containers/|^/var/lib/corral/containers/"); do
      c=$(echo "$m" | cut -d/ -f5); echo "$running" | grep -qx "$c" || bad="$bad mount=$m"
    done
    for d in /run/corral/containers/*/state; do
      [ -e "$d" ] || continue
      c=$(basename $(dirname "$d")); echo "$running" | grep -qx "$c" || bad="$bad state=$d"
    done
    leases=/var/lib/corral/network/leases
    for c in $(awk "\$1 != \"corral-leases\" && \$1 != \"end\" && \$4 != \"-\" {print \$1}" $leases 2>/dev/null); do
      echo "$running" | grep -qx "$c" || bad="$bad forward-lease=$c"
    done
    # Forwards in the kernel: every element maps to the address of a running container.
    for a in $(nft list map ip corral tcp_forwards 2>/dev/null | grep -oE ": [0-9.]+ \." | grep -oE "[0-9.]+"); do
      owner=$(awk -v a="$a" "\$2 == a {print \$1}" $leases)
      echo "$running" | grep -qx "$owner" || bad="$bad forward=$a(owner=${owner:-none})"
    done
    # A stopped container'"'"'s veth goes with its netns, in the kernel'"'"'s own time.
    want=$(echo "$running" | grep -c .)
    for i in $(seq 50); do
      veths=$(ip -o link show master corral0 2>/dev/null | grep -c " ve-")
      [ "$veths" -le "$want" ] && break; sleep 0.1
    done
    [ "$veths" -le "$want" ] || bad="$bad veths=$veths>running=$want"
    echo "${bad:-ok}"'
}

# wait_settled [SECONDS]: until corrald answers and no container is starting or stopping.
wait_settled() {
  local seconds=${1:-60}
  timeout $((seconds + 5)) tools/sandbox/sandbox.sh run "$sandbox_state" -- sh -c "
    for i in \$(seq $((seconds * 5))); do
      out=\$(corralctl ls 2>/dev/null) && ! echo \"\$out\" | awk 'NR>1 {print \$2}' | grep -Eq 'starting|stopping' && exit 0
      sleep 0.2
    done; corralctl ls; exit 1"
}

# latency_start: polls ListContainers on the system bus in the background (inside the sandbox,
# one busctl call every 50 ms, each allowed 10 s, one taken by a corrald the test killed asked
# again) and logs each call's milliseconds.
# latency_stop: ends the poller and sets $latency_max (ms) and $latency_calls.
latency_start() {
  sb rm -f /tmp/latency.log /tmp/latency.stop
  tools/sandbox/sandbox.sh run "$sandbox_state" -- sh -c '
    while [ ! -e /tmp/latency.stop ]; do
      t0=$(date +%s%N)
      # A call the killed corrald had already taken can only fail ("disconnected ... without
      # replying"): asked again at once, as a client does, and timed from the first try.
      busctl --timeout=10 call org.corral1 /org/corral1 org.corral1.Manager ListContainers >/dev/null 2>/tmp/latency.err ||
        { grep -q "disconnected from message bus without replying" /tmp/latency.err &&
          busctl --timeout=10 call org.corral1 /org/corral1 org.corral1.Manager ListContainers >/dev/null 2>/tmp/latency.err; } ||
        echo "failed: $(cat /tmp/latency.err)" >> /tmp/latency.log
      t1=$(date +%s%N)
      echo $(( (t1 - t0) / 1000000 )) >> /tmp/latency.log
      sleep 0.05
    done' >/dev/null 2>&1 &
  latency_pid=$!
  sleep 0.3
}
latency_stop() {
  sb touch /tmp/latency.stop
  wait "$latency_pid" 2>/dev/null
  latency_max=$(sb sh -c 'grep -E "^[0-9]+$" /tmp/latency.log | sort -n | tail -1')
  latency_calls=$(sb sh -c 'grep -cE "^[0-9]+$" /tmp/latency.log')
  latency_failed=$(sb sh -c 'grep -c failed /tmp/latency.log')
  latency_max=${latency_max:-99999}
  echo "    ListContainers: $latency_calls calls, worst ${latency_max} ms, ${latency_failed} failed"
  sb sh -c 'grep "^failed" /tmp/latency.log | sort | uniq -c | head -5' | sed 's/^/    /'
}
# check_latency WHAT: one check that every ListContainers of the last poll answered within 1 s.
check_latency() {
  latency_stop
  if [ "$latency_max" -le 1000 ] && [ "${latency_failed:-0}" -eq 0 ]; then
    ok "ListContainers answered within 1 s all through $1 (worst ${latency_max} ms of $latency_calls calls)"
  else
    not_ok "ListContainers answered within 1 s all through $1 (worst ${latency_max} ms of $latency_calls calls, $latency_failed failed)"
  fi
  echo "latency $1: ${latency_max} ms" >> "${latency_report:-/dev/null}"
}
