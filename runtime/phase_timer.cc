#include "runtime/phase_timer.h"

namespace corral::runtime {

absl::string_view PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kForkSupervisor: return "fork supervisor";
    case Phase::kScope: return "scope";
    case Phase::kSupervisor: return "supervisor";
    case Phase::kSupervisorReport: return "supervisor report";
    case Phase::kMachinedRegistration: return "machined registration";
    case Phase::kWaitForGo: return "wait for go";
    case Phase::kCgroupLeaves: return "cgroup leaves";
    case Phase::kIdmappedImage: return "idmapped image";
    case Phase::kLayeredImage: return "layered image";
    case Phase::kOverlayRootfs: return "overlay rootfs";
    case Phase::kConsoleAndBootFiles: return "console and boot files";
    case Phase::kNetworkPrepare: return "network prepare";
    case Phase::kStateFile: return "state file";
    case Phase::kBindTrees: return "bind trees";
    case Phase::kPrepare: return "prepare";
    case Phase::kBindStage: return "bind stage";
    case Phase::kClone: return "clone";
    case Phase::kIdMaps: return "id maps";
    case Phase::kIdmappedRootfs: return "idmapped rootfs";
    case Phase::kPayloadCgroup: return "payload cgroup";
    case Phase::kNetworkAttach: return "network attach";
    case Phase::kSetupAndExec: return "setup and exec";
  }
  return "unknown";
}

}  // namespace corral::runtime
