// `corralctl run-unit NAME`, the ExecStart of corral@.service: starts container NAME through
// corrald, tells systemd READY=1 once it runs, and stays until it stops. Exit status: 0 when
// the container's command exited 0 or the unit was stopped (SIGTERM: the container is stopped
// first), 1 when the container failed, so a failing container fails its unit.
#ifndef CORRAL_TOOLS_RUN_UNIT_H_
#define CORRAL_TOOLS_RUN_UNIT_H_

#include <string>

namespace corral::tools {

int RunUnit(const std::string& name);

}  // namespace corral::tools

#endif  // CORRAL_TOOLS_RUN_UNIT_H_
