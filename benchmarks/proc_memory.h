// What a process costs in memory, from /proc (RssAnon of status, Private_* of smaps_rollup), and
// the processes of one name: the scale benchmark's per-container figures (dbus_bench).
#ifndef CORRAL_BENCHMARKS_PROC_MEMORY_H_
#define CORRAL_BENCHMARKS_PROC_MEMORY_H_

#include <sys/types.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace corral::bench {

// The sum of the "FIELD: N kB" lines of `path` for the fields given; 0 if it cannot be read.
uint64_t SumOfFieldsKib(const std::string& path, std::initializer_list<const char*> fields);
// Every anonymous page the process maps, also those shared copy-on-write with its parent.
uint64_t RssAnonKib(pid_t pid);
// Only the pages no other process maps (Private_Clean + Private_Dirty).
uint64_t PrivateKib(pid_t pid);
// PIDs of processes whose comm is `name`.
std::vector<pid_t> ProcessesNamed(const std::string& name);

}  // namespace corral::bench

#endif  // CORRAL_BENCHMARKS_PROC_MEMORY_H_
