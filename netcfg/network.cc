#include "netcfg/network.h"

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <set>
#include <tuple>
#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"
#include "netcfg/dns.h"
#include "netcfg/nat.h"
#include "netcfg/owner.h"

namespace corral::netcfg {
namespace {

constexpr char kIpForward[] = "/proc/sys/net/ipv4/ip_forward";
constexpr char kContainerInterface[] = "eth0";

}  // namespace

absl::Status CheckHostPortFree(const PortForward& forward) {
  bool tcp = forward.protocol == Protocol::kTcp;
  UniqueFd fd(::socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoError("open a socket to check the host port");
  int on = 1;
  // SO_REUSEADDR: connections lingering in TIME_WAIT do not make a port busy; a listener does.
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(forward.host_port);
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    if (errno == EADDRINUSE) {
      return absl::FailedPreconditionError(absl::StrCat("host port ", ProtocolName(forward.protocol), "/",
                                                        forward.host_port, " is in use by a process on the host"));
    }
    return ErrnoError(absl::StrCat("check host port ", ProtocolName(forward.protocol), "/", forward.host_port));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<BridgeNetwork>> BridgeNetwork::Open(NetworkConfig config) {
  ASSIGN_OR_RETURN(Rtnl rtnl, Rtnl::Open());
  return std::unique_ptr<BridgeNetwork>(new BridgeNetwork(std::move(config), std::move(rtnl)));
}

BridgeNetwork::BridgeNetwork(NetworkConfig config, Rtnl rtnl)
    : config_(std::move(config)), rtnl_(std::move(rtnl)), leases_(config_.state_dir, config_.gateway) {}

absl::StatusOr<Nftables*> BridgeNetwork::nft() {
  if (nft_ == nullptr) {
    ASSIGN_OR_RETURN(nft_, Nftables::Open());
  }
  return nft_.get();
}

absl::Status BridgeNetwork::EnsureHost() {
  absl::StatusOr<int> index = rtnl_.LinkIndex(config_.bridge);
  if (absl::IsNotFound(index.status())) {
    rtnl_.CreateBridge(config_.bridge, config_.mtu);
    absl::Status created = rtnl_.Commit();
    // Another corral may have created it in the meantime: that is fine.
    if (!created.ok() && !absl::IsAlreadyExists(created)) return created;
    index = rtnl_.LinkIndex(config_.bridge);
  }
  if (!index.ok()) return index.status();
  bridge_index_ = *index;

  ASSIGN_OR_RETURN(std::vector<Ipv4Interface> addresses, rtnl_.Addresses(bridge_index_));
  bool has_gateway = false;
  for (const Ipv4Interface& a : addresses) {
    has_gateway |= a.address == config_.gateway.address && a.prefix == config_.gateway.prefix;
  }
  if (!has_gateway) rtnl_.AddAddress(bridge_index_, config_.gateway);
  rtnl_.SetLinkUp(config_.bridge);
  RETURN_IF_ERROR(rtnl_.Commit());

  absl::StatusOr<std::string> forwarding = ReadFile(kIpForward);
  if (!forwarding.ok()) return forwarding.status();
  if (absl::StripAsciiWhitespace(*forwarding) != "1") RETURN_IF_ERROR(WriteExistingFile(kIpForward, "1\n"));

  ASSIGN_OR_RETURN(bool have_table, NatTableExists());
  if (!have_table) {
    ASSIGN_OR_RETURN(Nftables * nft, nft());
    RETURN_IF_ERROR(nft->Run(HostRuleset(config_), "install table ip corral"));
  }
  return absl::OkStatus();
}

absl::Status BridgeNetwork::AttachLinks(const ContainerNetwork& network, int netns_fd) {
  VethSpec veth{network.host_interface, bridge_index_, kContainerInterface, netns_fd, config_.mtu};
  rtnl_.CreateVeth(veth);
  absl::Status created = rtnl_.Commit();
  if (absl::IsAlreadyExists(created)) {
    // The host end of an earlier run that crashed, or whose namespace the kernel is still
    // tearing down: remove it and try once more.
    rtnl_.DeleteLink(network.host_interface);
    RETURN_IF_ERROR(IgnoreNotFound(rtnl_.Commit()));
    rtnl_.CreateVeth(veth);
    created = rtnl_.Commit();
  }
  RETURN_IF_ERROR(created);

  ASSIGN_OR_RETURN(Rtnl inside, Rtnl::OpenIn(netns_fd));
  ASSIGN_OR_RETURN(int eth0, inside.LinkIndex(kContainerInterface));
  inside.SetLinkUp("lo");
  inside.SetLinkUp(kContainerInterface);
  inside.AddAddress(eth0, network.address);
  inside.AddDefaultRoute(eth0, network.gateway);
  return Annotate(inside.Commit(), "in the container's network namespace");
}

std::string BridgeNetwork::ResolvConfPath(const std::string& container) const {
  return absl::StrCat(config_.run_dir, "/", container, "/resolv.conf");
}

std::string BridgeNetwork::HostsPath(const std::string& container) const {
  return absl::StrCat(config_.run_dir, "/", container, "/hosts");
}

absl::Status BridgeNetwork::WriteDnsFiles(ContainerNetwork& network, const std::string& hostname) {
  std::string dir = absl::StrCat(config_.run_dir, "/", network.container);
  RETURN_IF_ERROR(MakeDirectories(dir, 0755));
  absl::StatusOr<std::string> host_resolv = ReadFile(config_.resolv_conf);
  if (!host_resolv.ok() && !absl::IsNotFound(host_resolv.status())) return host_resolv.status();
  network.resolv_conf_path = ResolvConfPath(network.container);
  network.hosts_path = HostsPath(network.container);
  // Volatile files (under /run), rewritten at every start: no fsync.
  RETURN_IF_ERROR(WriteFileAtomically(network.resolv_conf_path,
                                      ContainerResolvConf(host_resolv.ok() ? *host_resolv : "", config_.dns), 0644,
                                      Durability::kProcessCrashSafe));
  return WriteFileAtomically(network.hosts_path, ContainerHosts(hostname, FormatIpv4(network.address.address)),
                             0644, Durability::kProcessCrashSafe);
}

absl::StatusOr<ContainerNetwork> BridgeNetwork::Attach(const std::string& container, const std::string& hostname,
                                                       int netns_fd, const std::vector<PortForward>& ports) {
  RETURN_IF_ERROR(CheckNoOverlap(ports));
  for (const PortForward& p : ports) RETURN_IF_ERROR(CheckHostPortFree(p));
  if (bridge_index_ == 0) RETURN_IF_ERROR(EnsureHost());

  // The leases file is fsynced before its rename, under the lock; its directory's fsync runs
  // beside the links, forwards and DNS files below and is joined before Attach returns, so
  // before the container is let go (its address is in use only from then on). A power cut
  // before the join finds the old leases and a container that never ran.
  DirectorySyncs lease_sync;
  ASSIGN_OR_RETURN(LeaseStore::Acquired acquired, leases_.Acquire(container, ports, &lease_sync));
  ContainerNetwork network;
  network.container = container;
  network.address = Ipv4Interface{acquired.lease.address, config_.gateway.prefix};
  network.gateway = config_.gateway.address;
  network.host_interface = acquired.lease.host_interface;
  network.ports = ports;

  absl::Status status;
  if (acquired.previous.has_value() && !acquired.previous->ports.empty()) {
    // Forwards of an earlier run that did not get to clean up: whatever points at the address,
    // under the lock so no reclaim pass deletes in between.
    status = leases_.Update([&](std::vector<Lease>&) -> absl::StatusOr<bool> {
      RETURN_IF_ERROR(RemoveForwardsTo(network.address.address).status());
      return false;
    });
  }
  bool links_made = false;
  if (status.ok()) {
    status = AttachLinks(network, netns_fd);
    links_made = status.ok();
  }
  if (status.ok() && !ports.empty()) {
    absl::StatusOr<Nftables*> nft_or = nft();
    status = nft_or.ok() ? AddPortForwards(**nft_or, network.address.address, ports) : nft_or.status();
  }
  if (status.ok()) status = WriteDnsFiles(network, hostname);
  if (status.ok()) status = lease_sync.Wait();
  if (status.ok()) return network;

  // Undo: the link (the namespace may live on), the files, and the lease, which goes back to
  // how it was: a container that had an address keeps it.
  if (links_made) {
    rtnl_.DeleteLink(network.host_interface);
    rtnl_.Commit().IgnoreError();
  }
  RemoveTree(absl::StrCat(config_.run_dir, "/", container)).IgnoreError();
  // Forwards may have gone in before a later step failed: they go with the lease.
  ReleaseLease(container, /*keep_address=*/acquired.previous.has_value(), /*find_stray_forwards=*/false)
      .IgnoreError();
  return Annotate(status, absl::StrCat("connect container ", container, " to bridge ", config_.bridge));
}

absl::StatusOr<std::vector<MapForward>> BridgeNetwork::RemoveForwardsTo(uint32_t address) {
  ASSIGN_OR_RETURN(Nftables * nft, this->nft());
  ASSIGN_OR_RETURN(std::vector<MapForward> all, ListMapForwards(*nft));
  std::vector<MapForward> mine;
  for (const MapForward& f : all) {
    if (f.address == address) mine.push_back(f);
  }
  RETURN_IF_ERROR(DeleteMapForwards(*nft, mine));
  return mine;
}

absl::StatusOr<std::optional<Lease>> BridgeNetwork::ReleaseLease(const std::string& container, bool keep_address,
                                                                  bool find_stray_forwards) {
  std::optional<Lease> before;
  RETURN_IF_ERROR(leases_.Update([&](std::vector<Lease>& leases) -> absl::StatusOr<bool> {
    auto it = std::find_if(leases.begin(), leases.end(), [&](const Lease& l) { return l.container == container; });
    if (it == leases.end()) return false;
    before = *it;
    // Forwards first: should that fail, the lease still says they are there, for the next try.
    if (!it->ports.empty() || find_stray_forwards) RETURN_IF_ERROR(RemoveForwardsTo(it->address).status());
    if (!keep_address) {
      leases.erase(it);
      return true;
    }
    if (it->ports.empty()) return false;
    it->ports.clear();
    return true;
  }));
  return before;
}

absl::Status BridgeNetwork::Detach(const std::string& container, const DetachOptions& options) {
  absl::StatusOr<std::optional<Lease>> lease =
      ReleaseLease(container, options.keep_address, options.find_stray_forwards);
  if (!lease.ok()) return Annotate(lease.status(), absl::StrCat("disconnect container ", container));
  absl::Status status;
  if (options.delete_link) {
    rtnl_.DeleteLink(lease->has_value() ? (*lease)->host_interface : HostInterfaceName(container));
    status.Update(IgnoreNotFound(rtnl_.Commit()));
  }
  status.Update(IgnoreNotFound(RemoveTree(absl::StrCat(config_.run_dir, "/", container))));
  return Annotate(status, absl::StrCat("disconnect container ", container));
}

bool BridgeNetwork::Reclaimed::empty() const {
  return freed.empty() && ports_cleared.empty() && forwards.empty() && links.empty() && run_dirs.empty();
}

std::vector<std::string> BridgeNetwork::Reclaimed::Describe() const {
  std::vector<std::string> lines;
  for (const Lease& l : freed) {
    lines.push_back(absl::StrCat("freed the lease of ", l.container, " (", FormatIpv4(l.address), ")"));
  }
  for (const Lease& l : ports_cleared) {
    lines.push_back(absl::StrCat("cleared the forwards of stopped ", l.container, " (", FormatIpv4(l.address), ")"));
  }
  for (const MapForward& f : forwards) lines.push_back(absl::StrCat("deleted the forward ", ToString(f)));
  for (const std::string& link : links) lines.push_back(absl::StrCat("deleted the host link ", link));
  for (const std::string& dir : run_dirs) lines.push_back(absl::StrCat("deleted ", dir));
  return lines;
}

JudgedLeases JudgeLeases(std::vector<Lease> leases, const std::set<std::string>& claims,
                         const BridgeNetwork::LeaseJudge& judge) {
  using LeaseFate = BridgeNetwork::LeaseFate;
  JudgedLeases judged;
  for (Lease& lease : leases) {
    switch (judge(lease, claims.count(lease.container) > 0)) {
      case LeaseFate::kKeep:
        judged.running.insert(lease.container);
        judged.kept.push_back(std::move(lease));
        break;
      case LeaseFate::kKeepAddress:
        if (!lease.ports.empty()) {
          judged.ports_cleared.push_back(lease);
          lease.ports.clear();
        }
        judged.kept.push_back(std::move(lease));
        break;
      case LeaseFate::kFree:
        judged.freed.push_back(std::move(lease));
        break;
    }
  }
  return judged;
}

std::vector<MapForward> StaleForwards(const JudgedLeases& judged, const std::vector<MapForward>& elements) {
  // An element stays only as the very forward a running container's lease records.
  std::set<std::tuple<Protocol, uint16_t, uint32_t, uint16_t>> wanted;
  for (const Lease& l : judged.kept) {
    if (!judged.running.count(l.container)) continue;
    for (const PortForward& p : l.ports) wanted.insert({p.protocol, p.host_port, l.address, p.container_port});
  }
  std::vector<MapForward> stale;
  for (const MapForward& f : elements) {
    if (!wanted.count({f.protocol, f.host_port, f.address, f.container_port})) stale.push_back(f);
  }
  return stale;
}

std::vector<std::string> StaleLinks(const JudgedLeases& judged, const std::vector<std::string>& bridge_ports) {
  std::set<std::string> wanted;
  for (const Lease& l : judged.kept) {
    if (judged.running.count(l.container)) wanted.insert(l.host_interface);
  }
  std::vector<std::string> stale;
  // Only corral's own naming: a port somebody else put on the bridge is theirs.
  for (const std::string& link : bridge_ports) {
    if (absl::StartsWith(link, "ve-") && !wanted.count(link)) stale.push_back(link);
  }
  return stale;
}

std::vector<std::string> StaleRunDirs(const JudgedLeases& judged, const std::vector<std::string>& names) {
  std::vector<std::string> stale;
  for (const std::string& name : names) {
    if (name != "." && name != ".." && !judged.running.count(name)) stale.push_back(name);
  }
  return stale;
}

absl::StatusOr<BridgeNetwork::Reclaimed> BridgeNetwork::Reclaim(const LeaseJudge& judge,
                                                                 const ReclaimOptions& options) {
  Reclaimed reclaimed;
  RETURN_IF_ERROR(leases_.Update([&](std::vector<Lease>& leases) -> absl::StatusOr<bool> {
    // Claims are read after the leases: a lease in the file was taken by a process that
    // claimed the name before, so if that process lives its claim is seen here.
    ASSIGN_OR_RETURN(std::set<std::string> claims, HeldNetworkClaims());
    JudgedLeases judged = JudgeLeases(std::move(leases), claims, judge);
    bool had_forwards = !judged.ports_cleared.empty();
    for (const Lease& l : judged.freed) had_forwards |= !l.ports.empty();
    if (options.scan_forwards || had_forwards) {
      ASSIGN_OR_RETURN(bool have_table, NatTableExists());
      if (have_table) {
        ASSIGN_OR_RETURN(Nftables * nft, this->nft());
        ASSIGN_OR_RETURN(std::vector<MapForward> all, ListMapForwards(*nft));
        std::vector<MapForward> stale = StaleForwards(judged, all);
        RETURN_IF_ERROR(DeleteMapForwards(*nft, stale));
        reclaimed.forwards = std::move(stale);
      }
    }
    // Host ends of veths on the bridge: only a running container's own. Under the lock too: a
    // container that leases after this pass read the leases makes its veth after it.
    absl::StatusOr<int> bridge = rtnl_.LinkIndex(config_.bridge);
    if (bridge.ok()) {
      ASSIGN_OR_RETURN(std::vector<std::string> ports, rtnl_.LinksOf(*bridge));
      for (const std::string& link : StaleLinks(judged, ports)) {
        rtnl_.DeleteLink(link);
        // Gone already (its namespace went meanwhile) is as good.
        if (IgnoreNotFound(rtnl_.Commit()).ok()) reclaimed.links.push_back(link);
      }
    } else if (!absl::IsNotFound(bridge.status())) {
      return bridge.status();
    }
    // resolv.conf and hosts of containers that do not run.
    if (DIR* dir = ::opendir(config_.run_dir.c_str()); dir != nullptr) {
      std::vector<std::string> names;
      while (struct dirent* entry = ::readdir(dir)) names.emplace_back(entry->d_name);
      ::closedir(dir);
      for (const std::string& name : StaleRunDirs(judged, names)) {
        std::string path = absl::StrCat(config_.run_dir, "/", name);
        if (RemoveTree(path).ok()) reclaimed.run_dirs.push_back(path);
      }
    }
    reclaimed.freed = judged.freed;
    reclaimed.ports_cleared = judged.ports_cleared;
    leases = std::move(judged.kept);
    return !reclaimed.freed.empty() || !reclaimed.ports_cleared.empty();
  }));
  return reclaimed;
}

BridgeNetwork::LeaseFate JudgeLeaseForRun(const Lease& lease, bool claimed) {
  if (claimed) return BridgeNetwork::LeaseFate::kKeep;
  switch (RunLeaseLiveness(lease.container)) {
    case RunLiveness::kAlive:
      return BridgeNetwork::LeaseFate::kKeep;
    case RunLiveness::kDead:
      return BridgeNetwork::LeaseFate::kFree;
    case RunLiveness::kNotARun:
      break;
  }
  // corrald's (or a named corral-run's): not ours to free, and not running.
  return BridgeNetwork::LeaseFate::kKeepAddress;
}

absl::StatusOr<std::vector<std::string>> BridgeNetwork::CheckHostFirewall() {
  ASSIGN_OR_RETURN(Nftables * nft, this->nft());
  ASSIGN_OR_RETURN(std::vector<std::string> chains, ForwardDroppingChains(*nft));
  std::vector<std::string> warnings;
  for (const std::string& chain : chains) {
    warnings.push_back(absl::StrCat(chain, " drops forwarded packets: containers on ", config_.bridge,
                                    " cannot reach beyond the host unless it accepts them"));
  }
  return warnings;
}

absl::Status BridgeNetwork::RemoveHost() {
  rtnl_.DeleteLink(config_.bridge);
  absl::Status status = IgnoreNotFound(rtnl_.Commit());
  bridge_index_ = 0;
  absl::StatusOr<bool> have_table = NatTableExists();
  if (!have_table.ok()) return have_table.status();
  if (*have_table) {
    absl::StatusOr<Nftables*> nft_or = nft();
    status.Update(nft_or.ok() ? (*nft_or)->Run(absl::StrCat("delete table ip ", kNatTable, "\n"), "delete table ip corral")
                              : nft_or.status());
  }
  return status;
}

absl::StatusOr<UniqueFd> ClaimContainerNetwork(const std::string& container) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoError("socket(AF_UNIX) for the container's network claim");
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::string name = NetworkClaimName(container);
  if (name.size() + 1 > sizeof(address.sun_path)) return absl::InvalidArgumentError("container name too long");
  // sun_path[0] stays NUL: the abstract namespace.
  std::memcpy(address.sun_path + 1, name.data(), name.size());
  socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) {
    if (errno == EADDRINUSE) {
      return absl::AlreadyExistsError(absl::StrCat("container ", container, " is already running on this host"));
    }
    return ErrnoError(absl::StrCat("claim the network of container ", container));
  }
  return fd;
}

}  // namespace corral::netcfg
