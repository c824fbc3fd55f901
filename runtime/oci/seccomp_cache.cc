#include "runtime/oci/seccomp_cache.h"

#include <seccomp.h>

#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "runtime/oci/launch.h"

namespace corral::runtime::oci {

namespace {

constexpr char kMagic[] = "corral-seccomp-1\n";

// What the cached file's program depends on besides the profile.
std::string Salt() {
  const struct scmp_version* v = seccomp_version();
  return absl::StrCat("libseccomp ", v ? v->major : 0, ".", v ? v->minor : 0, ".", v ? v->micro : 0, " arch ",
                      seccomp_arch_native(), "\n");
}

uint64_t Fnv1a(absl::string_view text, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// magic, salt, source length, source, then the instructions.
std::string Header(const Seccomp& seccomp) {
  return absl::StrCat(kMagic, Salt(), seccomp.source.size(), "\n", seccomp.source);
}

}  // namespace

std::string SeccompCacheName(const Seccomp& seccomp) {
  return absl::StrCat(absl::Hex(Fnv1a(seccomp.source, Fnv1a(Salt())), absl::kZeroPad16), ".bpf");
}

absl::StatusOr<SeccompProgram> CachedOciSeccomp(const Seccomp& seccomp, const std::string& cache_dir, bool* hit) {
  if (hit != nullptr) *hit = false;
  if (cache_dir.empty() || seccomp.source.empty()) return CompileOciSeccomp(seccomp);
  std::string path = cache_dir + "/" + SeccompCacheName(seccomp);
  std::string header = Header(seccomp);
  if (absl::StatusOr<std::string> cached = ReadFile(path); cached.ok() && cached->size() > header.size() &&
                                                           cached->compare(0, header.size(), header) == 0 &&
                                                           (cached->size() - header.size()) % sizeof(sock_filter) == 0) {
    SeccompProgram program;
    program.instructions.resize((cached->size() - header.size()) / sizeof(sock_filter));
    std::memcpy(program.instructions.data(), cached->data() + header.size(), cached->size() - header.size());
    if (hit != nullptr) *hit = true;
    return program;
  }
  absl::StatusOr<SeccompProgram> program = CompileOciSeccomp(seccomp);
  if (!program.ok()) return program;
  std::string contents = header;
  contents.append(reinterpret_cast<const char*>(program->instructions.data()),
                  program->instructions.size() * sizeof(sock_filter));
  if (MakeDirectories(cache_dir, 0700).ok()) {
    WriteFileAtomically(path, contents, 0600, Durability::kProcessCrashSafe).IgnoreError();
  }
  return program;
}

}  // namespace corral::runtime::oci
