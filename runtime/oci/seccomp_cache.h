// Compiled seccomp programs of corral-oci kept by content: a profile seen before (docker's and
// podman's default, on every container) is read back instead of compiled with libseccomp again.
#ifndef CORRAL_RUNTIME_OCI_SECCOMP_CACHE_H_
#define CORRAL_RUNTIME_OCI_SECCOMP_CACHE_H_

#include <string>

#include "absl/status/statusor.h"
#include "runtime/oci/config.h"
#include "runtime/seccomp_program.h"

namespace corral::runtime::oci {

// The file name the program of `seccomp` is cached under: a 64-bit FNV-1a of its source,
// the libseccomp version and the native architecture, in hex, ".bpf".
std::string SeccompCacheName(const Seccomp& seccomp);

// The program for `seccomp`: read from `cache_dir`/SeccompCacheName when the file there was
// made from exactly this source (the whole source is stored and compared, so a hash collision
// is a miss, never another profile's program), else compiled (CompileOciSeccomp) and stored
// (atomically, 0600; the directory made 0700). A cache that cannot be written costs only the
// compile. `hit`, when given, says which it was.
absl::StatusOr<SeccompProgram> CachedOciSeccomp(const Seccomp& seccomp, const std::string& cache_dir,
                                                bool* hit = nullptr);

}  // namespace corral::runtime::oci

#endif  // CORRAL_RUNTIME_OCI_SECCOMP_CACHE_H_
