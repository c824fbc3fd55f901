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
    ("start busybox /bin/true, every namespace, user namespace and idmapped rootfs (corral-run, the default)",
     "start", "BM_CorralRunTrue/debian:0/userns:1",
     [("crun run, corral's seccomp profile and capabilities, user namespace", "start",
       "BM_PeerCrunRunTrue/corral_profile:1/userns:1")]),
    ("start busybox /bin/true, every namespace but user (corral-run --privileged)", "start",
     "BM_CorralRunTrue/debian:0/userns:0",
     [("crun run, corral's seccomp profile and capabilities", "start", "BM_PeerCrunRunTrue/corral_profile:1/userns:0"),
      ("crun run, `crun spec` profile (no seccomp, 3 caps)", "start", "BM_PeerCrunRunTrue/corral_profile:0/userns:0"),
      ("unshare + chroot", "start", "BM_PeerUnshareChrootTrue")]),
    ("start Debian /bin/true (corral-run), against busybox", "start", "BM_CorralRunTrue/debian:1/userns:1",
     [("corral-run on busybox", "start", "BM_CorralRunTrue/debian:0/userns:1")]),
    ("start Debian /bin/true (library), against busybox", "start", "BM_LibraryStartTrue/netns:1/debian:1",
     [("library on busybox", "start", "BM_LibraryStartTrue/netns:1/debian:0")]),
    ("start Debian /bin/true with NAT network (corral-run), against busybox", "dbus", "BM_CorralRunBridgeTrue/debian:1",
     [("corral-run on busybox with NAT network", "dbus", "BM_CorralRunBridgeTrue/debian:0")]),
    ("exec /bin/true in a running container (library attach)", "attach", "BM_AttachExecTrue/debian:0",
     [("nsenter -a", "attach", "BM_PeerNsenterAllTrue/debian:0")]),
    ("exec /bin/true in a running Debian container (library attach)", "attach", "BM_AttachExecTrue/debian:1",
     [("nsenter -a", "attach", "BM_PeerNsenterAllTrue/debian:1")]),
    ("exec /bin/true through D-Bus (corralctl exec)", "dbus", "BM_CorralctlExecTrue",
     [("nsenter -a", "dbus", "BM_PeerNsenterAllTrue")]),
    ("corral-oci run, busybox /bin/true (one bundle, `crun spec` profile, no cgroup)", "oci", "BM_OciRunTrue/crun:0",
     [("crun run", "oci", "BM_OciRunTrue/crun:1")]),
    ("corral-oci create + start + delete of /bin/true (what conmon and the containerd shim do)", "oci",
     "BM_OciCreateStartDelete/crun:0", [("crun create + start + delete", "oci", "BM_OciCreateStartDelete/crun:1")]),
    ("corral-oci exec /bin/true into a running container", "oci", "BM_OciExecTrue/crun:0",
     [("crun exec", "oci", "BM_OciExecTrue/crun:1")]),
    ("network bring-up, NAT'd bridge", "netstart", "BM_CorralUp/ports:0/iterations:50",
     [("iproute2 sequence", "netstart", "BM_Iproute2Up/batch:0/iterations:50"),
      ("ip -batch", "netstart", "BM_Iproute2Up/batch:1/iterations:50"),
      ("CNI bridge ADD", "netstart", "BM_CniBridgeUp/iterations:50")]),
    ("network teardown (the stop path)", "netstart", "BM_CorralDown/ports:0/iterations:50",
     [("ip link del", "netstart", "BM_Iproute2Down/batch:0/iterations:50"),
      ("CNI bridge DEL", "netstart", "BM_CniBridgeDown/iterations:50")]),
    ("start with scope, machined and NAT network (D-Bus)", "dbus",
     "BM_DbusCreateStartToRunning/debian:0/net:1/iterations:20",
     [("systemd-nspawn -U --register --network-veth", "dbus",
       "BM_PeerNspawnRegisterTrue/veth:1/userns:1/iterations:20"),
      ("systemd-nspawn --register --network-veth", "dbus", "BM_PeerNspawnRegisterTrue/veth:1/userns:0/iterations:20")]),
    ("start with scope and machined, no network (D-Bus)", "dbus",
     "BM_DbusCreateStartToRunning/debian:0/net:0/iterations:20",
     [("systemd-nspawn --register --private-network", "dbus", "BM_PeerNspawnRegisterTrue/veth:0/userns:0/iterations:20")]),
    ("start Debian with scope, machined and NAT network (D-Bus), against busybox", "dbus",
     "BM_DbusCreateStartToRunning/debian:1/net:1/iterations:20",
     [("the same on busybox", "dbus", "BM_DbusCreateStartToRunning/debian:0/net:1/iterations:20")]),
    ("Debian with systemd: boot to READY", "dbus", "BM_DebianBootToReady/iterations:5",
     [("systemd-nspawn -b", "dbus", "BM_PeerNspawnBootToReady/iterations:5")]),
    # runc and LXC run only in the throwaway systemd (benchmarks/run_sandbox_peers_bench.sh).
    ("start busybox /bin/true in the sandbox, every namespace, peers with corral's seccomp and capabilities (corral-run)",
     "sandbox_peers", "BM_CorralRunTrue",
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

# Per-phase breakdowns: (title, file, [(column, benchmark)]); the counters are "NN phase ms".
PHASES = [
    ("Where a start of /bin/true goes (library, median of the per-start averages; \"run to exit\" is the "
     "image's own /bin/true: static in busybox, dynamically linked in Debian)", "start",
     [("busybox", "BM_LibraryStartPhases/debian:0"), ("Debian", "BM_LibraryStartPhases/debian:1")]),
    ("Where a start through D-Bus goes (corrald's StartPhases property, median of the per-start "
     "averages; \"scope\" is systemd's StartTransientUnit to JobRemoved)", "dbus",
     [("busybox, NAT", "BM_DbusCreateStartToRunning/debian:0/net:1/iterations:20"),
      ("busybox, no network", "BM_DbusCreateStartToRunning/debian:0/net:0/iterations:20"),
      ("Debian, NAT", "BM_DbusCreateStartToRunning/debian:1/net:1/iterations:20")]),
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


def write_phases(f, title, columns):
    """A table of phases (rows, in their order) by configuration (columns), in ms."""
    columns = [(name, {k[3:-3]: v for k, v in stats.items() if k.endswith(" ms") and k[:2].isdigit()},
                sorted(k for k in stats if k.endswith(" ms") and k[:2].isdigit()))
               for name, stats in columns]
    columns = [c for c in columns if c[1]]
    if not columns:
        return
    order = []
    for _, _, keys in columns:
        for key in keys:
            if key[3:-3] not in order:
                order.append(key[3:-3])
    f.write(f"\n{title}:\n\n")
    f.write("| phase | " + " | ".join(name for name, _, _ in columns) + " |\n")
    f.write("| --- |" + " --- |" * len(columns) + "\n")
    for phase in order:
        cells = [f"{phases[phase]:.3f}" if phase in phases else "" for _, phases, _ in columns]
        f.write(f"| {phase} | " + " | ".join(cells) + " |\n")
    f.write("| total | " + " | ".join(f"{sum(p.values()):.3f}" for _, p, _ in columns) + " |\n")


def write_scale(f, results):
    """The scale benchmark (one run per size, no repetitions): starts per second and memory."""
    path = os.path.join(results, "dbus.json")
    if not os.path.exists(path):
        return
    with open(path) as src:
        runs = [b for b in json.load(src).get("benchmarks", [])
                if b["name"].startswith("BM_ScaleStartAtOnce") and not b.get("error_occurred")]
    if not runs:
        return
    f.write("\nScale: busybox containers with NAT network, every StartContainer sent at once through "
            "D-Bus, then all stopped and removed:\n\n")
    f.write("| containers | all running after s | starts/s | corrald RssAnon MiB | per supervisor RssAnon MiB "
            "| per supervisor private MiB |\n| --- | --- | --- | --- | --- | --- |\n")
    for b in runs:
        seconds = b["real_time"] * UNIT_MS[b.get("time_unit", "ns")] / 1e3
        f.write(f"| {int(b.get('running', 0))} | {seconds:.2f} | {b.get('starts_per_s', 0):.0f} | "
                f"{b.get('corrald_rss_anon_kib', 0) / 1024:.2f} | {b.get('supervisor_rss_anon_kib', 0) / 1024:.2f} | "
                f"{b.get('supervisor_private_kib', 0) / 1024:.2f} |\n")


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
        for title, pfile, columns in PHASES:
            write_phases(f, title, [(column, files[pfile].get(bench, {})) for column, bench in columns])
        write_scale(f, results)
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
