#!/usr/bin/env python3
"""Turns the suites' Google Benchmark JSON into peers.md (a Markdown table: corral against
each peer measured in the same run, medians, p90s, ratio corral/peer) and peers.png (the
ratios as bars, drawn by gnuplot)."""
import json
import os
import subprocess
import sys

# (what is compared, file, corral's benchmark, [(peer's name, file, peer's benchmark)])
COMPARISONS = [
    ("start busybox /bin/true, every namespace (corral-run)", "start", "BM_CorralRunTrue/debian:0",
     [("crun run", "start", "BM_PeerCrunRunTrue"),
      ("unshare + chroot", "start", "BM_PeerUnshareChrootTrue")]),
    ("start Debian /bin/true (corral-run), against busybox", "start", "BM_CorralRunTrue/debian:1",
     [("corral-run on busybox", "start", "BM_CorralRunTrue/debian:0")]),
    ("exec /bin/true in a running container (library attach)", "attach", "BM_AttachExecTrue",
     [("nsenter -a", "attach", "BM_PeerNsenterAllTrue")]),
    ("exec /bin/true through D-Bus (corralctl exec)", "dbus", "BM_CorralctlExecTrue",
     [("nsenter -a", "dbus", "BM_PeerNsenterAllTrue")]),
    ("network bring-up, NAT'd bridge", "netstart", "BM_CorralUp/ports:0/iterations:50",
     [("iproute2 sequence", "netstart", "BM_Iproute2Up/batch:0/iterations:50"),
      ("ip -batch", "netstart", "BM_Iproute2Up/batch:1/iterations:50"),
      ("CNI bridge ADD", "netstart", "BM_CniBridgeUp/iterations:50")]),
    ("network teardown (the stop path)", "netstart", "BM_CorralDown/ports:0/iterations:50",
     [("ip link del", "netstart", "BM_Iproute2Down/batch:0/iterations:50"),
      ("CNI bridge DEL", "netstart", "BM_CniBridgeDown/iterations:50")]),
    ("start with scope, machined and NAT network (D-Bus)", "dbus", "BM_DbusCreateStartToRunning/iterations:20",
     [("systemd-nspawn --register --network-veth", "dbus", "BM_PeerNspawnRegisterVethTrue/iterations:20")]),
    ("Debian with systemd: boot to READY", "dbus", "BM_DebianBootToReady/iterations:5",
     [("systemd-nspawn -b", "dbus", "BM_PeerNspawnBootToReady/iterations:5")]),
    # runc and LXC run only in the throwaway systemd (benchmarks/run_sandbox_peers_bench.sh).
    ("start busybox /bin/true in the sandbox, every namespace (corral-run)", "sandbox_peers", "BM_CorralRunTrue",
     [("runc run", "sandbox_peers", "BM_PeerRuncRunTrue"),
      ("lxc-execute", "sandbox_peers", "BM_PeerLxcExecuteTrue"),
      ("lxc-start -F", "sandbox_peers", "BM_PeerLxcStartTrue"),
      ("crun run", "sandbox_peers", "BM_PeerCrunRunTrue")]),
    ("exec /bin/true into a running container in the sandbox (library attach)", "sandbox_peers", "BM_AttachExecTrue",
     [("lxc-attach", "sandbox_peers", "BM_PeerLxcAttachTrue"),
      ("crun exec", "sandbox_peers", "BM_PeerCrunExecTrue")]),
    ("exec /bin/true through corrald in the sandbox (corralctl exec)", "sandbox_peers", "BM_CorralctlExecTrue",
     [("lxc-attach", "sandbox_peers", "BM_PeerLxcAttachTrue"),
      ("crun exec", "sandbox_peers", "BM_PeerCrunExecTrue")]),
]

UNIT_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}


def load(results, name):
    path = os.path.join(results, name + ".json")
    if not os.path.exists(path):
        return {}
    stats = {}
    with open(path) as f:
        for b in json.load(f).get("benchmarks", []):
            if b.get("run_type") != "aggregate" or b.get("error_occurred"):
                continue
            base = b["run_name"].split("/repeats:")[0]
            ms = b["real_time"] * UNIT_MS[b.get("time_unit", "ns")]
            stats.setdefault(base, {})[b["aggregate_name"]] = ms
            if b["aggregate_name"] == "median":  # counters such as the per-phase times
                for key, value in b.items():
                    if key.endswith(" ms"):
                        stats[base][key] = value
    return stats


def main():
    results = sys.argv[1]
    files = {name: load(results, name) for name in {"start", "attach", "netstart", "dbus", "sandbox_peers"}}
    rows, bars = [], []
    for what, cfile, cbench, peers in COMPARISONS:
        corral = files[cfile].get(cbench)
        for peer, pfile, pbench in peers:
            other = files[pfile].get(pbench)
            if not corral or not other:
                rows.append(f"| {what} | not measured | | {peer} | not measured | | |")
                continue
            ratio = corral["median"] / other["median"]
            rows.append(f"| {what} | {corral['median']:.2f} | {corral.get('p90', 0):.2f} | {peer} | "
                        f"{other['median']:.2f} | {other.get('p90', 0):.2f} | {ratio:.3f}× |")
            bars.append((f"{what.split(' (')[0].split(',')[0]} vs {peer}", ratio))
    with open(os.path.join(results, "peers.md"), "w") as f:
        f.write("| what | corral median ms | corral p90 ms | peer | peer median ms | peer p90 ms | corral/peer |\n")
        f.write("| --- | --- | --- | --- | --- | --- | --- |\n")
        f.write("\n".join(rows) + "\n")
        phases = files["start"].get("BM_LibraryStartPhases", {})
        phase_rows = [(k[:-3], v) for k, v in phases.items() if k.endswith(" ms")]
        if phase_rows:
            f.write("\nWhere a start of busybox /bin/true goes (library, median of the per-start averages):\n\n")
            f.write("| phase | ms |\n| --- | --- |\n")
            for phase, ms in phase_rows:
                f.write(f"| {phase} | {ms:.3f} |\n")
    data = os.path.join(results, "peers.dat")
    with open(data, "w") as f:
        for i, (label, ratio) in enumerate(bars):
            f.write(f'{i} {ratio:.4f} "{label}"\n')
    script = f"""set terminal pngcairo size 1200,{200 + 40 * len(bars)} font ',10'
set output '{os.path.join(results, 'peers.png')}'
set title 'corral / peer, median time (lower is better; 1 = as fast as the peer)'
set style fill solid 0.8
set boxwidth 0.6
set xrange [0:*]
set yrange [-1:{len(bars)}]
set ytics nomirror
set grid x
unset key
plot '{data}' using ($2*0.5):1:($2*0.5):(0.3):yticlabels(3) with boxxyerror lc rgb '#3a7bd5', \\
     '' using 2:1:(sprintf('%.3f', $2)) with labels left offset 0.5,0
"""
    try:
        subprocess.run(["gnuplot"], input=script.encode(), check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"report: no chart ({e}); install gnuplot-nox", file=sys.stderr)
    os.remove(data)


if __name__ == "__main__":
    main()
