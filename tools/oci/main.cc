// corral-oci: the OCI runtime command line (as runc has it) over corral's runtime. The init of
// each container is a child of whoever called `create` (conmon, a shim), which reaps it; the
// state lives in --root/ID (state.json, exec.fifo while created, the config it was made from).
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "common/syscalls.h"
#include "common/unique_fd.h"
#include "runtime/attach.h"
#include "runtime/capabilities.h"
#include "runtime/clone.h"
#include "runtime/cgroup/cgroup.h"
#include "runtime/oci/config.h"
#include "runtime/oci/launch.h"
#include "runtime/spec.h"
#include "tools/oci/commands.h"
#include "tools/oci/state.h"

namespace corral::oci_cli {
namespace {

namespace oci = runtime::oci;

void Usage() {
  std::fprintf(stderr,
               "usage: corral-oci [--root DIR] [--log FILE] [--log-format text|json] [--systemd-cgroup] [--register] [--debug]\n"
               "                  create|start|run|state|kill|delete|exec|ps|pause|resume|update|list|spec|features ...\n");
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  size_t i = 0;
  for (; i < args.size(); ++i) {
    std::string a = args[i];
    std::string value;
    size_t eq = a.find('=');
    if (absl::StartsWith(a, "--") && eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    auto take = [&]() { return !value.empty() ? value : (i + 1 < args.size() ? args[++i] : std::string()); };
    if (a == "--root") {
      g.root = take();
    } else if (a == "--log") {
      g.log = take();
    } else if (a == "--log-format") {
      std::string format = take();
      if (format != "text" && format != "json") return LogError(absl::StrCat("--log-format: text or json, got \"", format, "\"")), 1;
      g.log_json = format == "json";
    } else if (a == "--systemd-cgroup") {
      g.systemd_cgroup = true;
    } else if (a == "--register") {
      g.register_machine = true;
    } else if (a == "--debug") {
      g.debug = true;
    } else if (a == "--rootless") {
      take();
    } else if (a == "--criu") {
      take();
    } else if (a == "--version" || a == "-v" || a == "version") {
      std::printf("corral-oci version %s\nspec: %s\n", kVersion, oci::kSpecVersion);
      return 0;
    } else if (a == "--help" || a == "-h") {
      Usage();
      return 0;
    } else {
      break;
    }
  }
  if (i >= args.size()) return Usage(), 1;
  std::string verb = args[i];
  std::vector<std::string> rest(args.begin() + static_cast<long>(i) + 1, args.end());
  auto one_id = [&]() -> std::string { return rest.empty() ? "" : rest.back(); };
  if (verb == "create") return CmdCreate(rest);
  if (verb == "start") return CmdStart(one_id());
  if (verb == "run") return CmdRun(rest);
  if (verb == "state") return CmdState(one_id());
  if (verb == "kill") return CmdKill(rest);
  if (verb == "delete") return CmdDelete(rest);
  if (verb == "list") return CmdList(rest);
  if (verb == "spec") return CmdSpec(rest);
  if (verb == "features") return CmdFeatures();
  if (verb == "ps") return CmdPs(rest);
  if (verb == "pause") return CmdFreeze(one_id(), true);
  if (verb == "resume") return CmdFreeze(one_id(), false);
  if (verb == "exec") return CmdExec(rest);
  if (verb == "update") return CmdUpdate(rest);
  LogError(absl::StrCat("unknown command \"", verb, "\""));
  Usage();
  return 1;
}

}  // namespace
}  // namespace corral::oci_cli

int main(int argc, char** argv) { return corral::oci_cli::Main(argc, argv); }
