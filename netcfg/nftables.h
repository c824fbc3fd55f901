// A libnftables context, loaded with dlopen on first use. Only port forwards and the host's
// NAT table need nftables, and linking libnftables (with libnftnl, libjansson, libgmp and
// libxtables) into every corral-run would add about 0.3 ms to each container start, bridge
// network or not.
#ifndef CORRAL_NETCFG_NFTABLES_H_
#define CORRAL_NETCFG_NFTABLES_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace corral::netcfg {

class Nftables {
 public:
  // Loads libnftables and makes a context bound to the calling thread's network namespace.
  static absl::StatusOr<std::unique_ptr<Nftables>> Open();
  ~Nftables();

  // Runs nft commands (the `nft -f` language) as one transaction: all or nothing.
  // A failure carries `step` and nft's own error text.
  absl::Status Run(absl::string_view commands, absl::string_view step);
  // Runs commands and returns what they printed (list commands).
  absl::StatusOr<std::string> Query(absl::string_view commands, absl::string_view step);

 private:
  struct Library;
  Nftables(std::unique_ptr<Library> library, void* context);

  std::unique_ptr<Library> library_;
  void* context_;  // struct nft_ctx*
};

}  // namespace corral::netcfg

#endif  // CORRAL_NETCFG_NFTABLES_H_
