// The /etc/resolv.conf and /etc/hosts a container on the bridge gets, bind-mounted read-only
// over its own, so the image stays untouched.
#ifndef CORRAL_NETCFG_DNS_H_
#define CORRAL_NETCFG_DNS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace corral::netcfg {

// From the host's resolv.conf: search, domain and options lines are kept; nameservers on
// loopback (systemd-resolved's 127.0.0.53, a local dnsmasq) are dropped, since the container's
// loopback is its own. `servers`, when given, replace the host's nameservers.
std::string ContainerResolvConf(absl::string_view host_resolv_conf, const std::vector<std::string>& servers);

// localhost entries and the container's own name on its address.
std::string ContainerHosts(absl::string_view hostname, absl::string_view address);

}  // namespace corral::netcfg

#endif  // CORRAL_NETCFG_DNS_H_
