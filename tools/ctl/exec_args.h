// `corralctl exec`'s command line, read the same by the exec-socket client (tools/ctl/front.cc)
// and by the D-Bus one (tools/corralctl.cc).
#ifndef CORRAL_TOOLS_CTL_EXEC_ARGS_H_
#define CORRAL_TOOLS_CTL_EXEC_ARGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace corral::tools {

struct ExecArgs {
  std::string name;
  std::vector<std::string> command;
  std::vector<std::string> env;
  std::string user, cwd;
  bool tty = false;
};

// `args` are what follows `exec`: options before or after NAME (`exec -t web -- sh` and
// `exec web -t -- sh`), then `--` and the command. InvalidArgument with the usage sentence.
absl::StatusOr<ExecArgs> ParseExecArgs(const std::vector<std::string>& args);

}  // namespace corral::tools

#endif  // CORRAL_TOOLS_CTL_EXEC_ARGS_H_
