#include "benchmarks/peer_configs.h"

#include <seccomp.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "runtime/capabilities.h"
#include "runtime/seccomp_compiler.h"
#include "runtime/spec.h"

namespace corral::bench {
namespace {

// corral's denied syscalls that the libseccomp at hand knows (corral skips the others too;
// crun and LXC would refuse them).
std::vector<std::string> KnownDeniedSyscalls() {
  std::vector<std::string> names;
  for (const std::string& name : runtime::DefaultDeniedSyscalls()) {
    if (seccomp_syscall_resolve_name(name.c_str()) != __NR_SCMP_ERROR) names.push_back(name);
  }
  return names;
}

std::string Quoted(const std::vector<std::string>& items) {
  return absl::StrJoin(items, ",", [](std::string* out, const std::string& s) { absl::StrAppend(out, "\"", s, "\""); });
}

}  // namespace

std::string WriteOciBundle(const std::string& dir, const std::string& rootfs, const std::vector<std::string>& args,
                           bool same_as_corral, int64_t userns_host_uid) {
  std::vector<std::string> caps = {"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  std::string seccomp;
  if (same_as_corral) {
    caps.clear();
    for (int cap : runtime::DefaultCapabilities()) caps.push_back(absl::AsciiStrToUpper(runtime::CapabilityName(cap)));
    seccomp = absl::StrCat(R"(,
    "seccomp": {"defaultAction": "SCMP_ACT_ALLOW",
      "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
      "syscalls": [{"names": [)", Quoted(KnownDeniedSyscalls()), R"(], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]})");
  }
  std::string cap_list = Quoted(caps);
  std::string user_namespace, id_mappings;
  if (userns_host_uid >= 0) {
    user_namespace = R"(, {"type": "user"})";
    std::string map = absl::StrCat(R"([{"containerID": 0, "hostID": )", userns_host_uid, R"(, "size": 65536}])");
    id_mappings = absl::StrCat(R"(
    "uidMappings": )", map, R"(, "gidMappings": )", map, ",");
  }
  std::string config = absl::StrCat(R"({
  "ociVersion": "1.0.0",
  "process": {"terminal": false, "user": {"uid": 0, "gid": 0}, "args": [)", Quoted(args), R"(],
    "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "cwd": "/",
    "capabilities": {"bounding": [)", cap_list, R"(], "effective": [)", cap_list, R"(], "permitted": [)", cap_list, R"(]},
    "noNewPrivileges": true},
  "root": {"path": ")", rootfs, R"(", "readonly": false},
  "hostname": "bench",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid","strictatime","mode=755","size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid","noexec","nodev","mode=1777","size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid","noexec","nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid","noexec","nodev","ro"]}
  ],
  "linux": {
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"})", user_namespace, R"(],)", id_mappings, R"(
    "maskedPaths": ["/proc/acpi","/proc/kcore","/proc/keys","/proc/latency_stats","/proc/timer_list","/proc/timer_stats","/proc/sched_debug","/sys/firmware","/proc/scsi"],
    "readonlyPaths": ["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"])", seccomp, R"(
  }
})");
  MakeDirectories(dir).IgnoreError();
  WriteFileAtomically(dir + "/config.json", config).IgnoreError();
  return dir;
}

std::string LxcCorralProfile(const std::string& dir) {
  // LXC's seccomp policy format 2: a deny list whose entries fail with errno 1 (EPERM), for
  // every architecture of the host ([all]: x86_64 and its compat ABIs).
  std::string profile = "2\ndenylist\n[all]\n";
  for (const std::string& name : KnownDeniedSyscalls()) absl::StrAppend(&profile, name, " errno 1\n");
  std::string path = dir + "/lxc-corral.seccomp";
  WriteFileAtomically(path, profile).IgnoreError();
  std::vector<std::string> keep;
  for (int cap : runtime::DefaultCapabilities()) {
    keep.push_back(std::string(absl::StripPrefix(runtime::CapabilityName(cap), "cap_")));
  }
  return absl::StrCat("lxc.cap.keep = ", absl::StrJoin(keep, " "), "\nlxc.seccomp.profile = ", path, "\n");
}

}  // namespace corral::bench
