#include "dbus/lifecycle/init_kind.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/match.h"

namespace corral::dbus {

InitKind ContainerInit(const ContainerConfig& config) {
  if (!config.boot || !config.command.empty()) return InitKind::kCommand;
  char target[256];
  ssize_t n = ::readlink((config.image_rootfs + "/sbin/init").c_str(), target, sizeof(target) - 1);
  std::string link = n > 0 ? std::string(target, n) : "";
  if (absl::StrContains(link, "busybox")) return InitKind::kBusybox;
  if (absl::StrContains(link, "systemd")) return InitKind::kSystemd;
  struct stat st;
  return ::stat((config.image_rootfs + "/lib/systemd/systemd").c_str(), &st) == 0 ? InitKind::kSystemd
                                                                                 : InitKind::kOther;
}

int HaltSignal(InitKind init) {
  switch (init) {
    case InitKind::kSystemd:
      return SIGRTMIN + 3;
    case InitKind::kBusybox:
      return SIGUSR2;  // busybox init's poweroff
    default:
      return SIGTERM;  // the tiny init passes it to the command
  }
}

}  // namespace corral::dbus
