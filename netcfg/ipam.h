// Address leases for containers on the bridge, persisted in one file under the state directory
// (/var/lib/corral/network/leases) and changed only under an exclusive lock on
// .../leases.lock, so concurrent starts in different processes never hand out one address
// twice. A lease also records the host-side interface name and the port forwards installed
// for the container: after a crash, the next start of that container knows what to clean up.
#ifndef CORRAL_NETCFG_IPAM_H_
#define CORRAL_NETCFG_IPAM_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/directory_syncs.h"
#include "netcfg/ipv4.h"
#include "netcfg/ports.h"

namespace corral::netcfg {

struct Lease {
  std::string container;
  uint32_t address = 0;
  std::string host_interface;
  std::vector<PortForward> ports;
};

// The host end of a container's veth: "ve-NAME" when that fits in 15 characters, otherwise a
// prefix of the name and a hash of the whole name. `salt` > 0 picks another hash after a
// collision.
std::string HostInterfaceName(const std::string& container, int salt = 0);

class LeaseStore {
 public:
  // `gateway` is the bridge's address: leases come from its subnet, never the gateway itself.
  LeaseStore(std::string dir, Ipv4Interface gateway);

  struct Acquired {
    Lease lease;
    std::optional<Lease> previous;  // the container's lease before this call, if it had one
  };
  // Gives `container` the address it already had or the lowest free one, and records `ports` as
  // its forwards. Fails, changing nothing, when another container forwards one of those host
  // ports (FailedPrecondition) or no address is free (ResourceExhausted). With `directory_sync`,
  // the leases file's directory is fsynced there (common/directory_syncs.h): the lease survives
  // a power cut once its Wait() returns Ok, which the caller must see before the container
  // uses the address. A lease that is already as asked is not written again.
  absl::StatusOr<Acquired> Acquire(const std::string& container, const std::vector<PortForward>& ports,
                                   DirectorySyncs* directory_sync = nullptr);

  // Forgets the container's forwards and keeps its address (a stopped container).
  // Returns the lease as it was, or nullopt when there was none.
  absl::StatusOr<std::optional<Lease>> ClearPorts(const std::string& container);

  // Forgets the lease (a removed container). Returns it as it was, or nullopt.
  absl::StatusOr<std::optional<Lease>> Release(const std::string& container);

  // Every lease. A leases file that does not parse (empty, cut short, garbage) is a DataLoss
  // error naming the file: treating it as empty would hand running containers' addresses out
  // again, so nothing is allocated until it is mended.
  absl::StatusOr<std::vector<Lease>> List() const;

  // Runs `change` on the leases under the lock; when it returns true they are written back
  // (durably). The lock is held throughout, so `change` may also remove what the leases
  // describe (nft elements) and no other process can allocate in between. An error from
  // `change` writes nothing.
  absl::Status Update(const std::function<absl::StatusOr<bool>(std::vector<Lease>&)>& change);

  const std::string& dir() const { return dir_; }

 private:
  std::string LeasesPath() const;
  std::string LockPath() const;
  absl::Status Write(const std::vector<Lease>& leases, DirectorySyncs* directory_sync = nullptr) const;
  // Under the lock: clears the container's forwards, or drops its lease, and writes back.
  absl::StatusOr<std::optional<Lease>> Change(const std::string& container, bool drop);

  std::string dir_;
  Ipv4Interface gateway_;
};

// The file format, exposed for tests: a header line "corral-leases 1", one line per lease,
// "NAME ADDRESS HOSTIF PORTS" with PORTS "tcp:8080:80,udp:53:53" or "-", and a last line
// "end COUNT". Header and end line make an emptied, truncated or cut file a parse error rather
// than fewer leases. Files of the earlier format (lease lines only, no header) are still read.
std::string FormatLeases(const std::vector<Lease>& leases);
absl::StatusOr<std::vector<Lease>> ParseLeases(absl::string_view text);

}  // namespace corral::netcfg

#endif  // CORRAL_NETCFG_IPAM_H_
