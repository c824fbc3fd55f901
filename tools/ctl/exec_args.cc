#include "tools/ctl/exec_args.h"

#include "absl/strings/str_cat.h"

namespace corral::tools {

absl::StatusOr<ExecArgs> ParseExecArgs(const std::vector<std::string>& args) {
  ExecArgs out;
  size_t i = 0;
  for (; i < args.size() && args[i] != "--"; ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string* into) -> bool {
      if (i + 1 >= args.size()) return false;
      *into = args[++i];
      return true;
    };
    std::string v;
    if (a == "-t" || a == "--tty") {
      out.tty = true;
    } else if ((a == "-e" || a == "--env") && value(&v)) {
      out.env.push_back(v);
    } else if (a == "--user" && value(&v)) {
      out.user = v;
    } else if (a == "--cwd" && value(&v)) {
      out.cwd = v;
    } else if (out.name.empty() && !a.empty() && a[0] != '-') {
      out.name = a;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("exec: unknown option or missing value \"", a, "\""));
    }
  }
  if (out.name.empty()) return absl::InvalidArgumentError("exec: which container? corralctl exec NAME -- CMD...");
  if (i + 1 >= args.size()) return absl::InvalidArgumentError("exec: no command given: put it after `--`");
  out.command.assign(args.begin() + static_cast<long>(i) + 1, args.end());
  return out;
}

}  // namespace corral::tools
