#include "netcfg/ipam.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <unordered_set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"

namespace corral::netcfg {

// The lock and the atomic rename keep the leases right however processes crash. An fsync
// would only protect the last update against a power cut, after which no container runs
// anyway and the worst outcome is that one gets a different address next time; it would cost
// two fsyncs (about 0.6 ms) on every start and stop.
constexpr Durability kLeaseDurability = Durability::kProcessCrashSafe;
namespace {

// Holds an exclusive flock for as long as it lives.
class LockFile {
 public:
  static absl::StatusOr<LockFile> Take(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd.valid()) return ErrnoError(absl::StrCat("open lock ", path));
    while (::flock(fd.get(), LOCK_EX) != 0) {
      if (errno != EINTR) return ErrnoError(absl::StrCat("lock ", path));
    }
    return LockFile(std::move(fd));
  }

 private:
  explicit LockFile(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;  // closing it releases the lock
};

uint64_t Fnv1a(absl::string_view text, int salt) {
  uint64_t hash = 1469598103934665603ull ^ static_cast<uint64_t>(salt);
  for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

}  // namespace

std::string HostInterfaceName(const std::string& container, int salt) {
  if (salt == 0 && container.size() <= 12) return absl::StrCat("ve-", container);
  // "ve-" + 6 characters of the name + "-" + 5 hex digits = 15.
  std::string hash = absl::StrCat(absl::Hex(Fnv1a(container, salt) & 0xfffff, absl::kZeroPad5));
  return absl::StrCat("ve-", container.substr(0, 6), "-", hash);
}

std::string FormatLeases(const std::vector<Lease>& leases) {
  std::string out;
  for (const Lease& l : leases) {
    std::vector<std::string> ports;
    for (const PortForward& p : l.ports) ports.push_back(ToString(p));
    absl::StrAppend(&out, l.container, " ", FormatIpv4(l.address), " ", l.host_interface, " ",
                    ports.empty() ? "-" : absl::StrJoin(ports, ","), "\n");
  }
  return out;
}

absl::StatusOr<std::vector<Lease>> ParseLeases(absl::string_view text) {
  std::vector<Lease> leases;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    ++line_number;
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (fields.size() != 4) {
      return absl::DataLossError(absl::StrCat("leases line ", line_number, ": \"", line, "\" has ", fields.size(),
                                              " fields, want 4"));
    }
    Lease lease;
    lease.container = std::string(fields[0]);
    ASSIGN_OR_RETURN(lease.address, ParseIpv4(fields[1]));
    lease.host_interface = std::string(fields[2]);
    if (fields[3] != "-") {
      for (absl::string_view p : absl::StrSplit(fields[3], ',')) {
        ASSIGN_OR_RETURN(PortForward forward, ParsePortForward(p));
        lease.ports.push_back(forward);
      }
    }
    leases.push_back(std::move(lease));
  }
  return leases;
}

LeaseStore::LeaseStore(std::string dir, Ipv4Interface gateway) : dir_(std::move(dir)), gateway_(gateway) {}

std::string LeaseStore::LeasesPath() const { return absl::StrCat(dir_, "/leases"); }
std::string LeaseStore::LockPath() const { return absl::StrCat(dir_, "/leases.lock"); }

absl::StatusOr<std::vector<Lease>> LeaseStore::List() const {
  absl::StatusOr<std::string> text = ReadFile(LeasesPath());
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) return std::vector<Lease>{};
    return text.status();
  }
  absl::StatusOr<std::vector<Lease>> leases = ParseLeases(*text);
  if (!leases.ok()) return Annotate(leases.status(), LeasesPath());
  return leases;
}

absl::StatusOr<LeaseStore::Acquired> LeaseStore::Acquire(const std::string& container,
                                                         const std::vector<PortForward>& ports) {
  RETURN_IF_ERROR(CheckNoOverlap(ports));
  RETURN_IF_ERROR(MakeDirectories(dir_, 0755));
  ASSIGN_OR_RETURN(LockFile lock, LockFile::Take(LockPath()));
  ASSIGN_OR_RETURN(std::vector<Lease> leases, List());

  Acquired result;
  Lease* mine = nullptr;
  std::unordered_set<uint32_t> taken_addresses;
  std::unordered_set<std::string> taken_interfaces;
  for (Lease& l : leases) {
    if (l.container == container) {
      mine = &l;
      continue;
    }
    taken_addresses.insert(l.address);
    taken_interfaces.insert(l.host_interface);
    for (const PortForward& theirs : l.ports) {
      for (const PortForward& wanted : ports) {
        if (theirs.protocol == wanted.protocol && theirs.host_port == wanted.host_port) {
          return absl::FailedPreconditionError(absl::StrCat("host port ", ProtocolName(wanted.protocol), "/",
                                                            wanted.host_port, " is already forwarded to container \"",
                                                            l.container, "\""));
        }
      }
    }
  }
  if (mine != nullptr) {
    result.previous = *mine;
  } else {
    uint32_t address = 0;
    for (uint32_t a = gateway_.network() + 1; a < gateway_.broadcast(); ++a) {
      if (a != gateway_.address && !taken_addresses.count(a)) {
        address = a;
        break;
      }
    }
    if (address == 0) {
      return absl::ResourceExhaustedError(absl::StrCat("no free address left in ", gateway_.SubnetString(), " (",
                                                       leases.size(), " leases)"));
    }
    Lease lease{container, address, "", {}};
    for (int salt = 0; lease.host_interface.empty() || taken_interfaces.count(lease.host_interface); ++salt) {
      lease.host_interface = HostInterfaceName(container, salt);
    }
    leases.push_back(std::move(lease));
    mine = &leases.back();
  }
  mine->ports = ports;
  result.lease = *mine;
  RETURN_IF_ERROR(WriteFileAtomically(LeasesPath(), FormatLeases(leases), 0644, kLeaseDurability));
  return result;
}

absl::StatusOr<std::optional<Lease>> LeaseStore::ClearPorts(const std::string& container) {
  return Change(container, /*drop=*/false);
}

absl::StatusOr<std::optional<Lease>> LeaseStore::Release(const std::string& container) {
  return Change(container, /*drop=*/true);
}

absl::StatusOr<std::optional<Lease>> LeaseStore::Change(const std::string& container, bool drop) {
  if (::access(dir_.c_str(), F_OK) != 0) return std::nullopt;  // nothing was ever leased
  ASSIGN_OR_RETURN(LockFile lock, LockFile::Take(LockPath()));
  ASSIGN_OR_RETURN(std::vector<Lease> leases, List());
  for (auto it = leases.begin(); it != leases.end(); ++it) {
    if (it->container != container) continue;
    std::optional<Lease> before = *it;
    if (drop) {
      leases.erase(it);
    } else if (!it->ports.empty()) {
      it->ports.clear();
    } else {
      return before;  // nothing to write
    }
    RETURN_IF_ERROR(WriteFileAtomically(LeasesPath(), FormatLeases(leases), 0644, kLeaseDurability));
    return before;
  }
  return std::nullopt;
}

}  // namespace corral::netcfg
