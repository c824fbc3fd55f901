// The peers' container configurations, shared by the suites that run them: an OCI bundle for
// crun and runc, and the lines that give LXC the same profile. "The same work" as a corral
// start means corral's default capability set and its seccomp deny list, so a peer can be
// configured with corral's profile (same_as_corral) or with its own minimal default.
#ifndef CORRAL_BENCHMARKS_PEER_CONFIGS_H_
#define CORRAL_BENCHMARKS_PEER_CONFIGS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace corral::bench {

// Writes `dir`/config.json (OCI runtime spec) running `args` on `rootfs`: every namespace but
// user, `crun spec`'s masked and read-only paths, and either corral's capabilities and seccomp
// deny list (EPERM on x86_64, x86 and x32) or `crun spec`'s three capabilities and no filter.
// With `userns_host_uid` >= 0 the container also gets a user namespace mapping 0..65535 inside to
// that host range for uids and gids (as corral's unprivileged containers have). Returns `dir`.
std::string WriteOciBundle(const std::string& dir, const std::string& rootfs, const std::vector<std::string>& args,
                           bool same_as_corral, int64_t userns_host_uid = -1);

// LXC config lines for corral's profile: lxc.cap.keep with corral's capabilities and
// lxc.seccomp.profile with its deny list (the profile file written into `dir`).
std::string LxcCorralProfile(const std::string& dir);

}  // namespace corral::bench

#endif  // CORRAL_BENCHMARKS_PEER_CONFIGS_H_
