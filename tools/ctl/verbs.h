// The verbs of corralctl-dbus that tools/corralctl.cc dispatches to and that have no file of
// their own: containers' life cycle and listing, exec, the local image verbs, commit and export.
#ifndef CORRAL_TOOLS_CTL_VERBS_H_
#define CORRAL_TOOLS_CTL_VERBS_H_

#include <systemd/sd-bus.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/ctl/copy.h"

namespace corral::tools::ctl {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

// "corralctl: MESSAGE" on stderr; returns `code`.
int Fail(absl::string_view message, int code = kExitFailed);
// Fail with kExitUsage and a pointer to --help.
int Usage(absl::string_view message);

// tools/ctl/image_verbs.cc
int ImageBuild(const std::string& images_dir, const std::vector<std::string>& args);
int ImageImport(const std::string& images_dir, const std::vector<std::string>& args);
// The bus FindForCopy asks (cp takes a plain function, tools/ctl/copy.h).
void SetCopyBus(sd_bus* bus);
absl::StatusOr<CpTarget> FindForCopy(const std::string& name);
int Commit(const std::string& images_dir, const std::vector<std::string>& args);
int Export(const std::vector<std::string>& args);

// tools/ctl/container_verbs.cc
// One call with a name argument and no reply payload (start, rm).
int SimpleCall(sd_bus* bus, const char* method, const std::string& name);
int Create(sd_bus* bus, const std::vector<std::string>& args);
int Stop(sd_bus* bus, const std::vector<std::string>& args);
int Kill(sd_bus* bus, const std::vector<std::string>& args);
int List(sd_bus* bus, const std::vector<std::string>& args);
int Info(sd_bus* bus, const std::vector<std::string>& args);
int CheckConfig(sd_bus* bus);
int Console(sd_bus* bus, const std::vector<std::string>& args);

// tools/ctl/exec_verb.cc
int Exec(sd_bus* bus, const std::vector<std::string>& args);

}  // namespace corral::tools::ctl

#endif  // CORRAL_TOOLS_CTL_VERBS_H_
