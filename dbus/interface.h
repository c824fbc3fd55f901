// The D-Bus contract of corrald (../shared/DESIGN.md), in one place for the daemon, corralctl
// and the tests. Everything DESIGN.md fixes is here verbatim; what it leaves open (the exec
// method, stop with a timeout, checkconfig, extra properties) is defined here.
//
// Manager, object /org/corral1, interface org.corral1.Manager:
//   CreateContainer(s name, s image, a{sv} options) -> (o path)
//       image: "busybox", "debian", an image name in the store (an OCI image: its layers, and
//       Entrypoint + Cmd, Env, WorkingDir, User, StopSignal as defaults; dbus/image_defaults.h)
//       or a directory holding a rootfs.
//       options: Memory t (bytes), Tasks t, CPUWeight t, CPUQuota t (percent of one CPU),
//                Restart s (no|on-failure|on-failure:N|always; dbus/restart_policy.h: with
//                back-off, never after the user's StopContainer or KillContainer),
//                Network s (none|host|bridge),
//                Hostname s, Ports a(sqq) (proto "tcp"|"udp", host port, container port),
//                Command as, Environment as (K=V), Boot b (run /sbin/init),
//                Devices as ("/dev/X[:rwm]": the host's character or block device node /dev/X,
//                bound into the container's /dev and added to its scope's DeviceAllow= with
//                access r, w and/or m, default rwm; refused unless it is such a node now).
//                Binds a(ssb) (host path, container path, read-only): the host directory or
//                file, with its submounts, nodev, nosuid, private, read-only on every submount
//                when asked; it must exist and lie outside /var/lib/corral and /run/corral.
//                IdmappedBinds a(ssb): the same through an idmapped mount with the container's
//                map (host uid N is uid N inside; refused for Privileged).
//                Volumes a(ssb) (volume name, container path, read-only): must exist at
//                create; seen through an idmapped mount with the container's map (files keep
//                the ids containers see), plain for Privileged.
//                Tmpfs a(ss) (container path, "size=S,mode=M" or ""): nosuid, nodev, owned by
//                root inside. Stored normalized; a container path is given once across all.
//                Privileged b (no user namespace: root inside is the host's root, not
//                isolated from it; default false: the container gets its own user namespace
//                and 65536 host uids/gids from the pool, /etc/corral/idmap.conf).
//       Every container's scope has DevicePolicy=closed: besides Devices, only null, zero,
//       full, random, urandom, tty, console, ptmx (rwm) and the ptys (char-pts rw) open.
//   StartContainer(s name)                 replies when running (or with the error)
//   StopContainer(s name)                  halt signal of the init, SIGKILL after 10 s
//   StopContainerWithTimeout(s name, u timeout_seconds)
//   KillContainer(s name, i signal)
//   RemoveContainer(s name)                refused while running
//   ListContainers() -> a(ssuo)            name, state, leader pid (0 if none), path
//   GetContainer(s name) -> (o path)
//   OpenConsole(s name) -> (h master, s pty)
//   Exec(s name, as command, a{sv} options, h stdin, h stdout, h stderr) -> (i exit_status)
//       options: Environment as, User s ("UID[:GID]"), Cwd s, Tty b (stdin is a terminal:
//       make it the controlling one), PtyReceiver h (with Tty: a unix socket of the caller;
//       corrald allocates a pty inside the container, from its own /dev/pts, makes the slave
//       the command's stdio and controlling terminal, and sends the master on this socket
//       (SCM_RIGHTS, one byte) once the command has started; stdin/stdout/stderr are then
//       ignored). exit_status: the exit code, or 128 + signal. A command that has not started
//       within 10 s (its execve held back inside the container) is killed and the call fails.
//       The same call without D-Bus, for root: corrald's exec socket /run/corral/exec
//       (dbus/exec_wire.h), which `corralctl exec` uses; same checks, same errors by name.
//       The command never sees corrald: it is forked by a helper that closed every other fd,
//       is not dumpable, and joined the container's namespaces and cgroups (v1 too) first.
//   CheckConfig() -> (as warnings)         host problems (forwarding dropped by a firewall, ...);
//       root only (AccessDenied for others)
//   GetStats(s name) -> (a{sv} stats)       a running container's use (NotRunning otherwise);
//       every user may call it (the figures are no secret, as ListContainers). Keys, all t
//       but cgroup_layout: memory_current, memory_peak, memory_limit (bytes; 0 = no limit,
//       the least of the payload's and its ancestors'), cpu_usage_usec (ever), pids_current,
//       pids_limit (0 = none), io_read_bytes, io_write_bytes, net_rx_bytes, net_tx_bytes,
//       net_rx_packets, net_tx_packets (as the container sees it: received = what the host end
//       of its veth sent, IFLA_STATS64; 0 off the bridge), timestamp_usec (CLOCK_MONOTONIC
//       when read: CPU % = delta cpu_usage_usec / delta timestamp_usec), cgroup_layout s
//       (unified|hybrid). Read from the scope's payload leaf on cgroup2 (the whole scope
//       where the leaf lacks a controller's files), and from the scope's v1 cgroups on a
//       hybrid host, which also hold the supervisor: there pids_current counts it too.
//       A figure no hierarchy accounts (no memory controller in cgroup2, say) reads 0.
//       Read on the Manager, like every other call that takes a name: one policy line.
//   Top(s name) -> (a(uuutts) processes)    a running container's processes: host pid,
//       pid inside (the last NSpid), uid inside (through its uid_map), CPU time in us
//       (user + system), RSS bytes, command line; every process of the payload subtree
//       (cgroup.procs, recursively). Every user may call it; the command line is root's
//       (like Command): others get the kernel's short name as "[comm]".
//   SetLimits(s name, a{sv} limits)        root only. Keys, all t, at least one: Memory (bytes,
//       at least 4 MiB), Tasks, CPUWeight (1-10000), CPUQuota (percent of one CPU, 1-100000);
//       0 removes that limit. A running container's scope gets them at once (systemd's
//       SetUnitProperties, runtime), then the config for every next start; a stopped one only
//       the config; starting or stopping: Failed. Bad input (InvalidArgument) changes nothing;
//       neither does systemd's refusal. A non-zero limit whose controller (memory, pids, cpu)
//       this host's cgroups lack: Failed ("cannot enforce Memory: ... no memory controller"),
//       nothing changed. PropertiesChanged of the limits it set follows.
//   CreateVolume(s name, t size_bytes)     a named volume under /var/lib/corral/volumes/NAME:
//       size 0 a directory, else (at least 8M) an ext4 image loop-mounted while in use; root
//       only. VolumeExists, InvalidArgument (name, size).
//   ListVolumes() -> a(sttas)               name, size (0 = none), bytes used on the host,
//       containers whose config uses it; root only.
//   RemoveVolume(s name)                    deletes it and its data; VolumeInUse while a
//       container's config names it (running or not), NoSuchVolume; root only.
//   (corralctl cp, commit, export and clone have no method: root's corralctl reads the
//   container through its leader's /proc/PID/root or its overlay mounted privately, every path
//   resolved RESOLVE_IN_ROOT: tools/ctl/copy.h, tools/ctl/clone.h.)
//   signals: ContainerNew(s name, o path), ContainerRemoved(s name, o path)
//
// Logs: the supervisor sends each line the container writes to its console to journald
// (dbus/journal_log.h): MESSAGE, PRIORITY (from a "<N>" prefix, else 6), SYSLOG_IDENTIFIER=NAME,
// CONTAINER_NAME=NAME, CORRAL_UNIT=corral-NAME.scope, CORRAL_STREAM=console; _SYSTEMD_UNIT is
// the scope (the supervisor sends from it). Lines cut at 8 KiB; 1000 lines per 5 s, then one
// "N lines ... suppressed" entry. corrald's own messages: SYSLOG_IDENTIFIER=corrald with
// CORRAL_CONTAINER=NAME and CORRAL_EVENT (limits, oom, restart, restart-failed).
//
// Container, object /org/corral1/container/<sd_bus_path_encode(name)>, interface
// org.corral1.Container, read-only properties (PropertiesChanged on change):
//   Name s, State s (stopped|starting|running|stopping), Leader u, Unit s, Image s,
//   Hostname s, Addresses as, plus ExitStatus i (last run; -1 never ran), Network s,
//   Ports a(sqq), Memory t, Tasks t, CPUWeight t (0 = not set), Boot b, Command as (root
//   only: empty for other callers and in InterfacesAdded), Privileged b, UIDRange (uu) (first host uid/gid of the user namespace and how many;
//   (0, 0) when privileged, or not yet allocated for a container from before user namespaces),
//   Devices as ("/dev/X:ACCESS", as created),
//   Binds as ("HOST:CTR:ro|rw[,idmap]"; root only, empty for others), Tmpfs as
//   ("CTR:mode=M[,size=BYTES]"), Volumes as ("NAME:CTR:ro|rw"),
//   Ready b (a booted systemd inside said READY=1 on its NOTIFY_SOCKET: boot finished),
//   CPUQuota t (percent; 0 = none), Restart s (the policy), and, signalled with State:
//   OOMKills t (processes the OOM killer killed in the current or last run; memory.events on
//   cgroup2, memory.oom_control on a hybrid host's v1), OOMKilled b (OOMKills > 0),
//   StartedAt t, FinishedAt t (CLOCK_REALTIME us of this or the last run; 0: never),
//   RestartCount u (restarts in a row by the policy; 0 after the user's start).
//   Memory, Tasks, CPUWeight and CPUQuota change with SetLimits (PropertiesChanged).
//   UnenforcedLimits as: its limits this host's cgroups cannot enforce ("Memory: no memory
//   controller"; CreateContainer accepts them with a warning in the journal; empty normally).
//   StartPhases a(st) (where the last start's time went: phase, microseconds, in order; not
//   signalled).
//   State may also be "broken": its config did not load (empty, torn, unparsable); Problem s
//   says why (empty otherwise). A broken container never starts; RemoveContainer clears it.
//   StopContainer on a "starting" container cancels the start (the start's caller gets
//   Failed); a start not running within CORRAL_START_TIMEOUT (90 s) is failed and cleaned.
//   RemoveContainer waits (up to 30 s, the loop serving others) while another process holds
//   the leases lock; it is refused while the container's scope has processes. Exec into a
//   container whose scope is frozen is NotRunning at once. A key given twice in any a{sv} is InvalidArgument.
//
// Errors: org.corral1.Error.{NoSuchContainer, ContainerExists, InvalidName, InvalidArgument,
// NotRunning, AlreadyRunning, AccessDenied, NoSuchVolume, VolumeExists, VolumeInUse}; anything else is org.corral1.Error.Failed.
#ifndef CORRAL_DBUS_INTERFACE_H_
#define CORRAL_DBUS_INTERFACE_H_

namespace corral::dbus {

inline constexpr char kBusName[] = "org.corral1";
inline constexpr char kManagerPath[] = "/org/corral1";
inline constexpr char kManagerInterface[] = "org.corral1.Manager";
inline constexpr char kContainerPathPrefix[] = "/org/corral1/container";
inline constexpr char kContainerInterface[] = "org.corral1.Container";

inline constexpr char kErrorNoSuchContainer[] = "org.corral1.Error.NoSuchContainer";
inline constexpr char kErrorContainerExists[] = "org.corral1.Error.ContainerExists";
inline constexpr char kErrorInvalidName[] = "org.corral1.Error.InvalidName";
inline constexpr char kErrorInvalidArgument[] = "org.corral1.Error.InvalidArgument";
inline constexpr char kErrorNotRunning[] = "org.corral1.Error.NotRunning";
inline constexpr char kErrorAlreadyRunning[] = "org.corral1.Error.AlreadyRunning";
// AccessDenied: only for a caller without the rights (not root where root is needed).
inline constexpr char kErrorAccessDenied[] = "org.corral1.Error.AccessDenied";
// Failed: anything else, with the step and errno in the text; a permission error of a step in
// or for a container (Exec of a file that is not executable: EACCES) is Failed, not
// AccessDenied. Duplicate keys in an a{sv} are InvalidArgument.
inline constexpr char kErrorFailed[] = "org.corral1.Error.Failed";
inline constexpr char kErrorNoSuchVolume[] = "org.corral1.Error.NoSuchVolume";
inline constexpr char kErrorVolumeExists[] = "org.corral1.Error.VolumeExists";
inline constexpr char kErrorVolumeInUse[] = "org.corral1.Error.VolumeInUse";

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_INTERFACE_H_
