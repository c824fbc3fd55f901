#include "dbus/exec_request.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "dbus/error_kind.h"

namespace corral::dbus {

absl::Status SpecFromRequest(const ExecRequest& request, int pty_receiver, runtime::AttachSpec* spec) {
  if (request.command.empty()) return InvalidArgumentKindError("no command given");
  spec->command = request.command;
  spec->env = request.env;
  for (const std::string& e : spec->env) {
    if (e.find('=') == std::string::npos || e[0] == '=') {
      return InvalidArgumentKindError(absl::StrCat("environment entry \"", e, "\" is not KEY=VALUE"));
    }
  }
  if (!request.cwd.empty()) spec->cwd = request.cwd;
  if (!request.user.empty()) {
    std::vector<std::string> ids = absl::StrSplit(request.user, ':');
    uint32_t uid = 0, gid = 0;
    if (ids.size() > 2 || !absl::SimpleAtoi(ids[0], &uid) || (ids.size() == 2 && !absl::SimpleAtoi(ids[1], &gid))) {
      return InvalidArgumentKindError(absl::StrCat("User \"", request.user, "\" is not UID[:GID]"));
    }
    spec->uid = uid;
    spec->gid = ids.size() == 2 ? gid : uid;
  }
  spec->controlling_tty = request.tty;
  if (pty_receiver >= 0) {
    if (!spec->controlling_tty) return InvalidArgumentKindError("PtyReceiver needs Tty");
    struct stat st;
    int type = 0;
    socklen_t len = sizeof(type);
    if (::fstat(pty_receiver, &st) != 0 || !S_ISSOCK(st.st_mode) ||
        ::getsockopt(pty_receiver, SOL_SOCKET, SO_DOMAIN, &type, &len) != 0 || type != AF_UNIX) {
      return InvalidArgumentKindError("PtyReceiver is not a unix socket");
    }
    spec->allocate_pty = true;
  }
  return absl::OkStatus();
}

}  // namespace corral::dbus
