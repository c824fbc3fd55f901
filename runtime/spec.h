// ContainerSpec: everything the runtime needs to start one container, and its validation.
// Validation names the bad field, so a user's mistake reads as "spec.hostname: ...".
#ifndef CORRAL_RUNTIME_SPEC_H_
#define CORRAL_RUNTIME_SPEC_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "runtime/devices.h"
#include "runtime/storage_spec.h"

namespace corral::runtime {

// One line of /proc/PID/uid_map or gid_map.
struct IdMapping {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t count = 0;
};

enum class ReadOnly { kNo, kYes };

// An extra mount inside the container. `target` is a path inside the rootfs; it is resolved
// with RESOLVE_IN_ROOT so symlinks in the rootfs cannot send it outside. Made with the named
// builders below rather than by position.
struct MountSpec {
  // A recursive bind of host directory `source`.
  static MountSpec Bind(std::string source, std::string target, ReadOnly read_only) {
    return {std::move(source), std::move(target), "", "", read_only == ReadOnly::kYes, false};
  }
  // A bind of host file `source`, which may not exist yet: a start step writes it (the
  // network's resolv.conf), so the mount point is made a file regardless.
  static MountSpec BindFile(std::string source, std::string target, ReadOnly read_only) {
    return {std::move(source), std::move(target), "", "", read_only == ReadOnly::kYes, true};
  }
  // A kernel file system `fstype` (tmpfs, cgroup2) with options `data`.
  static MountSpec Filesystem(std::string fstype, std::string target, std::string data = "",
                              ReadOnly read_only = ReadOnly::kNo) {
    std::string source = fstype;
    return {std::move(source), std::move(target), std::move(fstype), std::move(data), read_only == ReadOnly::kYes,
            false};
  }

  std::string source;  // host path for binds, or a file system name ("tmpfs")
  std::string target;
  std::string fstype;  // empty for a bind mount
  std::string data;    // file system options
  bool read_only = false;
  // Bind a file rather than a directory even though `source` does not exist yet (it is
  // written by a start hook, as the network's resolv.conf is).
  bool source_is_file = false;
};

// What runs as PID 1 of the container.
enum class InitMode {
  kDirect,    // the command itself is PID 1
  kTinyInit,  // corral's built-in init is PID 1: reaps zombies, forwards signals (--init)
  kBoot,      // the image's /sbin/init (--boot)
};

// Namespace set as CLONE_NEW* flags.
inline constexpr uint64_t kDefaultNamespaces = 0x20000000 /*CLONE_NEWPID*/ | 0x00020000 /*CLONE_NEWNS*/ |
                                               0x04000000 /*CLONE_NEWUTS*/ | 0x08000000 /*CLONE_NEWIPC*/ |
                                               0x40000000 /*CLONE_NEWNET*/ | 0x02000000 /*CLONE_NEWCGROUP*/;

struct ContainerSpec {
  std::string name;      // for messages and the default hostname
  std::string rootfs;    // host path of the root file system (a directory)
  std::string hostname;  // empty: `name`, or "corral" when that is empty too
  uint64_t namespaces = kDefaultNamespaces;  // CLONE_NEWUSER adds a user namespace (needs maps)
  std::vector<IdMapping> uid_map;
  std::vector<IdMapping> gid_map;
  // With CLONE_NEWUSER: the rootfs is an idmapped bind of `rootfs` (shifted through uid_map
  // and gid_map), so an image owned by host root on disk is owned by the container's root
  // inside, and what the container's root writes lands on disk as host uid 0 again. Made by
  // the parent once the child's maps are written and handed to the child with its go.
  bool idmap_rootfs = false;
  std::vector<std::string> command;  // argv; with kBoot empty means /sbin/init
  std::vector<std::string> env;      // KEY=VALUE; PATH, TERM, HOME and container= get defaults
  std::string cwd = "/";
  uid_t uid = 0;
  gid_t gid = 0;
  bool tty = false;
  InitMode init = InitMode::kDirect;
  // Capabilities kept in the bounding, permitted and effective sets (inheritable and ambient
  // stay empty). Empty optional: the default list (DefaultCapabilities()).
  std::optional<std::vector<int>> capabilities;
  bool seccomp = true;
  bool no_new_privs = true;
  std::vector<MountSpec> mounts;
  // The user's --bind (and --volume, resolved to its directory) and --tmpfs mounts, made after
  // `mounts`; see runtime/storage_spec.h for what each promises.
  std::vector<BindSpec> binds;
  std::vector<TmpfsSpec> tmpfs;
  // Host device nodes bound into /dev beyond DefaultDevices() (--device). The allow-list the
  // kernel enforces is set where the container's cgroup is made (the scope), from the same list.
  std::vector<DeviceSpec> devices;
  // With CLONE_NEWNET absent from `namespaces` and this set, the container joins this network
  // namespace (an fd from /proc/PID/ns/net or netcfg). Without either, it shares the host's.
  int join_netns_fd = -1;
};

// Capabilities a container keeps by default: the same list Docker, crun and LXC use
// (chown, dac_override, fowner, fsetid, kill, setgid, setuid, setpcap, net_bind_service,
// net_raw, sys_chroot, mknod, audit_write, setfcap).
std::vector<int> DefaultCapabilities();

// For a container that boots a full init (systemd): the default list plus what that init
// needs to set up its own system, as systemd-nspawn keeps it (CAP_SYS_ADMIN for its mounts,
// CAP_SYS_BOOT, CAP_SYS_NICE, CAP_SYS_RESOURCE, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, ...).
std::vector<int> BootCapabilities();

// Checks every field; the error names the field and says what is wrong.
absl::Status ValidateSpec(const ContainerSpec& spec);

// [A-Za-z0-9][A-Za-z0-9_.-]{0,63}, the container name rule of the D-Bus contract.
absl::Status ValidateContainerName(absl::string_view name);

// RFC 1123 host name, at most 64 characters.
absl::Status ValidateHostname(absl::string_view hostname);

// The host name a container gets when none is given: its name made a valid host name, so that
// every valid name starts ('_' becomes '-', empty labels go, labels lose leading and trailing
// '-', the whole is cut to 63 characters; "a_b" -> "a-b", "x.." -> "x"); "corral" if nothing
// is left.
std::string HostnameFromName(absl::string_view name);

// Parses "1G", "64M", "512k", "1048576" into bytes.
absl::Status ParseByteSize(absl::string_view text, uint64_t* bytes);

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_SPEC_H_
