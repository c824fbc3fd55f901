#include "netcfg/attachment.h"

#include <fcntl.h>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "netcfg/config.h"

namespace corral::netcfg {

absl::Status BridgeAttachment::Prepare(runtime::ContainerSpec& spec) {
  ASSIGN_OR_RETURN(NetworkConfig config, LoadNetworkConfig(options_.config_path));
  hostname_ = !spec.hostname.empty() ? spec.hostname : runtime::HostnameFromName(spec.name);
  ASSIGN_OR_RETURN(claim_, ClaimContainerNetwork(options_.container));
  ASSIGN_OR_RETURN(network_, BridgeNetwork::Open(std::move(config)));
  RETURN_IF_ERROR(network_->EnsureHost());
  // Written by InParent; listed now, before the container exists.
  spec.mounts.push_back(runtime::MountSpec::BindFile(network_->ResolvConfPath(options_.container), "/etc/resolv.conf",
                                                     runtime::ReadOnly::kYes));
  spec.mounts.push_back(
      runtime::MountSpec::BindFile(network_->HostsPath(options_.container), "/etc/hosts", runtime::ReadOnly::kYes));
  return absl::OkStatus();
}

absl::Status BridgeAttachment::InParent(const runtime::StartedChild& child) {
  UniqueFd netns(::open(absl::StrCat("/proc/", child.pid, "/ns/net").c_str(), O_RDONLY | O_CLOEXEC));
  if (!netns.valid()) return ErrnoError("open the container's network namespace");
  ASSIGN_OR_RETURN(ContainerNetwork attached, network_->Attach(options_.container, hostname_, netns.get(), options_.ports));
  attached_ = std::move(attached);
  return absl::OkStatus();
}

absl::Status BridgeAttachment::Undo() {
  absl::Status status;
  if (attached_) {
    // The veth pair goes with the container's network namespace, in the kernel's own time.
    status = network_->Detach(options_.container, {/*keep_address=*/options_.keep_address, /*delete_link=*/false});
    attached_.reset();
  }
  network_.reset();
  claim_.reset();
  return status;
}

}  // namespace corral::netcfg
