// corralctl's storage side: the Binds, IdmappedBinds, Tmpfs and Volumes options of create,
// and `corralctl volume create|ls|rm` (CreateVolume, ListVolumes, RemoveVolume).
#ifndef CORRAL_TOOLS_CTL_STORAGE_H_
#define CORRAL_TOOLS_CTL_STORAGE_H_

#include <systemd/sd-bus.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tools/run_options.h"

namespace corral::tools {

// Appends the options (each only when given) to an open a{sv} of CreateContainer.
void AppendStorageOptions(sd_bus_message* m, const RunOptions& options);

// corralctl volume ARGS... (ARGS after "volume"). Returns the exit status (2: usage).
int VolumeCommand(sd_bus* bus, const std::vector<std::string>& args);

// The volume table or JSON of ListVolumes rows (for tests).
struct VolumeRow {
  std::string name;
  uint64_t size_bytes = 0;
  uint64_t used_bytes = 0;
  std::vector<std::string> used_by;
};
std::string FormatVolumeTable(const std::vector<VolumeRow>& rows);
std::string FormatVolumeJson(const std::vector<VolumeRow>& rows);

}  // namespace corral::tools

#endif  // CORRAL_TOOLS_CTL_STORAGE_H_
