// corralctl's storage side: the Binds, IdmappedBinds, Tmpfs and Volumes options of create.
#ifndef CORRAL_TOOLS_CTL_STORAGE_H_
#define CORRAL_TOOLS_CTL_STORAGE_H_

#include <systemd/sd-bus.h>

#include "tools/run_options.h"

namespace corral::tools {

// Appends the options (each only when given) to an open a{sv} of CreateContainer.
void AppendStorageOptions(sd_bus_message* m, const RunOptions& options);

}  // namespace corral::tools

#endif  // CORRAL_TOOLS_CTL_STORAGE_H_
