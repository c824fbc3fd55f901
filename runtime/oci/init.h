// Inside runtime/oci: the plan the parent prepares for the init of an OCI container (everything
// allocated before the clone) and the init's main, which carries it out and execs.
#ifndef CORRAL_RUNTIME_OCI_INIT_H_
#define CORRAL_RUNTIME_OCI_INIT_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/exec.h"
#include "runtime/oci/config.h"
#include "runtime/rootfs.h"
#include "runtime/seccomp_program.h"

namespace corral::runtime::oci {

struct JoinFd {
  int fd;
  uint64_t flag;
};

struct DeviceNode {
  std::string path;  // absolute, inside the container
  mode_t mode = 0;   // S_IFCHR/S_IFBLK/S_IFIFO | permissions
  dev_t dev = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

struct SysctlWrite {
  std::string path;  // /proc/sys/net/ipv4/ip_forward
  std::string value;
};

// A createContainer or startContainer hook as the init runs it: argv and envp point into args
// and env (made by SealHook once the hook is in its final place; never copied after).
struct ChildHook {
  std::string path;
  std::vector<std::string> args, env;
  std::vector<char*> argv, envp;  // null-terminated
  int timeout_seconds = 0;        // 0: waited for as long as it runs
};

// Everything the init needs, prepared before the clone: the child allocates nothing.
struct InitPlan {
  const Config* config;
  RootfsPlan rootfs;
  ExecPlan exec;  // argv, envp, PATH dirs, cwd (credentials below are the OCI ones)
  std::vector<JoinFd> joins;        // user first
  uint64_t unshare_after_join = 0;  // new namespaces made after joining a user namespace
  bool new_userns = false;
  bool new_cgroupns = false;
  bool set_hostname = false;
  std::vector<SysctlWrite> sysctls;
  std::vector<DeviceNode> nodes;  // linux.devices made with mknod (no user namespace)
  std::vector<Rlimit> rlimits;
  char oom_score_adj[16] = {};
  bool has_oom = false;
  bool has_umask = false;
  mode_t umask = 022;
  std::vector<gid_t> groups;
  uid_t uid = 0;
  gid_t gid = 0;
  Capabilities caps;
  int last_cap = 40;
  bool no_new_privs = false;
  std::optional<SeccompProgram> seccomp;
  bool root_readonly = false;
  unsigned long rootfs_propagation = 0;
  int sync_fd = -1;
  int console_fd = -1;
  int exec_fifo = -1;
  int preserve_fds = 0;
  // Run by the init in the container's namespaces with the state on stdin (hook_state_fd, a
  // memfd the parent fills once the pid is known): createContainer after the mounts and before
  // pivot_root (its path is the host's), startContainer after `start` and before the process
  // (its path is the container's).
  std::vector<ChildHook> create_container_hooks, start_container_hooks;
  int hook_state_fd = -1;
};

// Points a hook's argv and envp at its args and env.
void SealHook(ChildHook& hook);

// The rootfs plan's before_pivot for an InitPlan (`arg`): its createContainer hooks.
bool RunCreateContainerHooks(const void* arg);

// Runs in the cloned child: waits for the parent's go, sets everything up, reports "ready" on
// plan.sync_fd, waits on the exec fifo (if any) and execs. Never returns.
[[noreturn]] void InitMain(const InitPlan& plan);

}  // namespace corral::runtime::oci

#endif  // CORRAL_RUNTIME_OCI_INIT_H_
