#include "benchmarks/proc_memory.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace corral::bench {

uint64_t SumOfFieldsKib(const std::string& path, std::initializer_list<const char*> fields) {
  FILE* f = ::fopen(path.c_str(), "r");
  if (f == nullptr) return 0;
  char line[256];
  uint64_t total = 0;
  while (::fgets(line, sizeof(line), f)) {
    for (const char* field : fields) {
      uint64_t kib = 0;
      if (absl::StartsWith(line, field) && ::sscanf(line + std::strlen(field), " %lu kB", &kib) == 1) total += kib;
    }
  }
  ::fclose(f);
  return total;
}

uint64_t RssAnonKib(pid_t pid) { return SumOfFieldsKib(absl::StrCat("/proc/", pid, "/status"), {"RssAnon:"}); }

uint64_t PrivateKib(pid_t pid) {
  return SumOfFieldsKib(absl::StrCat("/proc/", pid, "/smaps_rollup"), {"Private_Clean:", "Private_Dirty:"});
}

std::vector<pid_t> ProcessesNamed(const std::string& name) {
  std::vector<pid_t> pids;
  DIR* proc = ::opendir("/proc");
  while (dirent* entry = proc ? ::readdir(proc) : nullptr) {
    pid_t pid = ::atoi(entry->d_name);
    if (pid <= 0) continue;
    char comm[64] = {};
    FILE* f = ::fopen(absl::StrCat("/proc/", pid, "/comm").c_str(), "r");
    if (f == nullptr) continue;
    if (::fgets(comm, sizeof(comm), f) && std::string(comm) == name + "\n") pids.push_back(pid);
    ::fclose(f);
  }
  if (proc) ::closedir(proc);
  return pids;
}

}  // namespace corral::bench
