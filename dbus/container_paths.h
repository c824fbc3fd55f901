// Where a container's files are: its configuration and overlay layers under /var/lib/corral,
// its run state (rootfs mount, state file, console socket) under /run/corral. Shared by the
// registry, the lifecycle and the supervisor.
#ifndef CORRAL_DBUS_CONTAINER_PATHS_H_
#define CORRAL_DBUS_CONTAINER_PATHS_H_

#include <string>

namespace corral::dbus {

struct ContainerPaths {
  std::string lib_dir;  // /var/lib/corral/containers/NAME: config, overlay upper and work
  std::string run_dir;  // /run/corral/containers/NAME: rootfs mount, state, console socket

  static ContainerPaths For(const std::string& lib_root, const std::string& run_root, const std::string& name) {
    return {lib_root + "/" + name, run_root + "/" + name};
  }
  std::string config() const { return lib_dir + "/config"; }
  std::string rootfs() const { return run_dir + "/rootfs"; }
  std::string state() const { return run_dir + "/state"; }
  std::string exit_status() const { return run_dir + "/exit-status"; }
  std::string console_socket() const { return run_dir + "/console.sock"; }
  std::string hostname_file() const { return run_dir + "/hostname"; }
  // Bind-mounted at /run/host in booted containers, as systemd-nspawn does; holds `notify`,
  // the container's NOTIFY_SOCKET.
  std::string host_dir() const { return run_dir + "/host"; }
};

}  // namespace corral::dbus

#endif  // CORRAL_DBUS_CONTAINER_PATHS_H_
