#include "netcfg/ipam.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <unordered_set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"

namespace corral::netcfg {

// The lock and the atomic rename keep the leases right however processes crash; the fsyncs
// (file, then directory) keep them right across a power cut too. Without them a power cut
// can leave an empty or an old leases file while containers start again with the addresses
// they had: the next container would be given an address in use.
constexpr Durability kLeaseDurability = Durability::kCrashSafe;
constexpr absl::string_view kLeasesHeader = "corral-leases 1";
namespace {


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
  std::string out = absl::StrCat(kLeasesHeader, "\n");
  for (const Lease& l : leases) {
    std::vector<std::string> ports;
    for (const PortForward& p : l.ports) ports.push_back(ToString(p));
    absl::StrAppend(&out, l.container, " ", FormatIpv4(l.address), " ", l.host_interface, " ",
                    ports.empty() ? "-" : absl::StrJoin(ports, ","), "\n");
  }
  absl::StrAppend(&out, "end ", leases.size(), "\n");
  return out;
}

absl::StatusOr<std::vector<Lease>> ParseLeases(absl::string_view text) {
  if (absl::StripAsciiWhitespace(text).empty()) {
    return absl::DataLossError(absl::StrCat("leases file is empty; it always holds at least \"", kLeasesHeader,
                                            "\" and \"end 0\" (truncated, or lost to a crash?)"));
  }
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  // The earlier format had lease lines only; its files are read as they are.
  bool versioned = lines.front() == kLeasesHeader;
  size_t first = versioned ? 1 : 0;
  size_t last = lines.size();
  if (versioned) {
    absl::string_view end_line = lines.back();
    size_t count = 0;
    if (lines.size() < 2 || !absl::ConsumePrefix(&end_line, "end ") || !absl::SimpleAtoi(end_line, &count) ||
        !absl::EndsWith(text, "\n")) {
      return absl::DataLossError("leases file is cut short: its last line is not \"end COUNT\"");
    }
    last = lines.size() - 1;
    if (count != last - first) {
      return absl::DataLossError(absl::StrCat("leases file says it has ", count, " leases and has ", last - first));
    }
  }
  std::vector<Lease> leases;
  for (size_t i = first; i < last; ++i) {
    absl::string_view line = lines[i];
    size_t line_number = i + 1;
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (fields.size() != 4) {
      return absl::DataLossError(absl::StrCat("leases line ", line_number, ": \"", absl::CHexEscape(line), "\" has ",
                                              fields.size(), " fields, want 4"));
    }
    Lease lease;
    lease.container = std::string(fields[0]);
    absl::StatusOr<uint32_t> address = ParseIpv4(fields[1]);
    if (!address.ok()) {
      return absl::DataLossError(absl::StrCat("leases line ", line_number, ": ", address.status().message()));
    }
    lease.address = *address;
    lease.host_interface = std::string(fields[2]);
    if (fields[3] != "-") {
      for (absl::string_view p : absl::StrSplit(fields[3], ',')) {
        absl::StatusOr<PortForward> forward = ParsePortForward(p);
        if (!forward.ok()) {
          return absl::DataLossError(absl::StrCat("leases line ", line_number, ": ", forward.status().message()));
        }
        lease.ports.push_back(*forward);
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
  if (!leases.ok()) {
    return absl::DataLossError(absl::StrCat(
        LeasesPath(), ": ", leases.status().message(),
        "; no address is handed out until it is mended (restore it, or remove it once no container on the bridge "
        "runs)"));
  }
  return leases;
}

absl::Status LeaseStore::Write(const std::vector<Lease>& leases, DirectorySyncs* directory_sync) const {
  return WriteFileAtomically(LeasesPath(), FormatLeases(leases), 0644, kLeaseDurability, directory_sync);
}

absl::Status LeaseStore::Update(const std::function<absl::StatusOr<bool>(std::vector<Lease>&)>& change) {
  if (::access(dir_.c_str(), F_OK) != 0) {
    std::vector<Lease> none;
    return change(none).status();  // nothing was ever leased
  }
  ASSIGN_OR_RETURN(FileLock lock, FileLock::Take(LockPath()));
  ASSIGN_OR_RETURN(std::vector<Lease> leases, List());
  ASSIGN_OR_RETURN(bool changed, change(leases));
  if (!changed) return absl::OkStatus();
  return Write(leases);
}

absl::StatusOr<LeaseStore::Acquired> LeaseStore::Acquire(const std::string& container,
                                                         const std::vector<PortForward>& ports,
                                                         DirectorySyncs* directory_sync) {
  RETURN_IF_ERROR(CheckNoOverlap(ports));
  RETURN_IF_ERROR(MakeDirectories(dir_, 0755));
  ASSIGN_OR_RETURN(FileLock lock, FileLock::Take(LockPath()));
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
  // A restart with the same forwards: the file already says so, durably (the write that put
  // it there was fsynced before that container ran), and two fsyncs are saved.
  if (result.previous.has_value() && mine->ports == ports) {
    result.lease = *mine;
    return result;
  }
  mine->ports = ports;
  result.lease = *mine;
  RETURN_IF_ERROR(Write(leases, directory_sync));
  return result;
}

absl::StatusOr<std::optional<Lease>> LeaseStore::ClearPorts(const std::string& container) {
  return Change(container, /*drop=*/false);
}

absl::StatusOr<std::optional<Lease>> LeaseStore::Release(const std::string& container) {
  return Change(container, /*drop=*/true);
}

absl::StatusOr<std::optional<Lease>> LeaseStore::Change(const std::string& container, bool drop) {
  std::optional<Lease> before;
  RETURN_IF_ERROR(Update([&](std::vector<Lease>& leases) -> absl::StatusOr<bool> {
    for (auto it = leases.begin(); it != leases.end(); ++it) {
      if (it->container != container) continue;
      before = *it;
      if (drop) {
        leases.erase(it);
        return true;
      }
      if (it->ports.empty()) return false;  // nothing to write
      it->ports.clear();
      return true;
    }
    return false;
  }));
  return before;
}

}  // namespace corral::netcfg
