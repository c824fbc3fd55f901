// The verbs of corral-oci, one function each (tools/oci/main.cc dispatches to them). Each
// returns the process's exit status and has reported its error already.
#ifndef CORRAL_TOOLS_OCI_COMMANDS_H_
#define CORRAL_TOOLS_OCI_COMMANDS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/oci/config.h"
#include "tools/oci/state.h"

namespace corral::oci_cli {

int CmdCreate(std::vector<std::string> args);
int CmdStart(const std::string& id);
int CmdRun(std::vector<std::string> args);
int CmdState(const std::string& id);
int CmdKill(std::vector<std::string> args);
int CmdDelete(std::vector<std::string> args);
int CmdExec(std::vector<std::string> args);
int CmdList(std::vector<std::string> args);
int CmdSpec(std::vector<std::string> args);
int CmdFeatures();
int CmdPs(std::vector<std::string> args);
int CmdFreeze(const std::string& id, bool freeze);
int CmdUpdate(std::vector<std::string> args);

// Shared between the verbs.
absl::Status WritePidFile(const std::string& path, pid_t pid);
absl::StatusOr<runtime::oci::Config> SavedConfig(const State& s);

}  // namespace corral::oci_cli

#endif  // CORRAL_TOOLS_OCI_COMMANDS_H_
