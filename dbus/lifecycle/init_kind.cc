#include "dbus/lifecycle/init_kind.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"

namespace corral::dbus {

InitKind ContainerInit(const ContainerConfig& config) {
  if (!config.boot || !config.command.empty()) return InitKind::kCommand;
  // A layered image's files are in the first of its layers (top down) that has them.
  std::vector<std::string> layers = config.image_layers;
  if (layers.empty()) layers.push_back(config.image_rootfs);
  struct stat st;
  for (const std::string& layer : layers) {
    char target[256];
    ssize_t n = ::readlink((layer + "/sbin/init").c_str(), target, sizeof(target) - 1);
    std::string link = n > 0 ? std::string(target, n) : "";
    if (absl::StrContains(link, "busybox")) return InitKind::kBusybox;
    if (absl::StrContains(link, "systemd")) return InitKind::kSystemd;
    if (::stat((layer + "/lib/systemd/systemd").c_str(), &st) == 0) return InitKind::kSystemd;
  }
  return InitKind::kOther;
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
