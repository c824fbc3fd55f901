// corralctl: the command line for corral. Container verbs talk to corrald over D-Bus
// (dbus/interface.h); image verbs work on the local image store.
#include <stdio.h>
#include <stdlib.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tools/ctl/bus.h"
#include "tools/ctl/clone.h"
#include "tools/ctl/copy.h"
#include "tools/ctl/events.h"
#include "tools/ctl/logs.h"
#include "tools/ctl/set.h"
#include "tools/ctl/stats.h"
#include "tools/ctl/storage.h"
#include "tools/ctl/verbs.h"
#include "tools/images/busybox_image.h"  // kDefaultImagesDir
#include "tools/images/oci/image_commands.h"
#include "tools/images/oci/oci_store.h"
#include "tools/images/progress.h"
#include "tools/run_unit.h"

namespace corral::tools {
namespace {

constexpr char kUsage[] = R"(usage: corralctl COMMAND [ARGS...]
Containers (through corrald, on the system bus):
  create NAME --image busybox|debian|DIR [--hostname H] [--net bridge|none|host]
         [-p [tcp|udp:]HOST:CTR]... [--memory 64M] [--pids N] [--cpu-weight N] [--boot]
         [--cpu-quota P%] [--restart no|on-failure[:N]|always]
         [-e K=V]... [--device /dev/X[:rwm]]... [--privileged] [-- CMD...]
                                        without CMD the image's init boots; every container
                                        has its own user namespace (65536 host uids from the
                                        pool) unless --privileged: root inside = host root,
                                        NOT isolated from the host
                                        --device gives it the host's node /dev/X (access
                                        r, w, m; default rwm)
         [--bind HOST:CTR[:ro|rw][,idmap]]... [--tmpfs CTR[:size=S,mode=M]]...
         [--volume NAME:CTR[:ro]]...
                                        --bind: HOST (absolute, existing, outside
                                        /var/lib/corral and /run/corral) at CTR, nodev,
                                        nosuid; ro on every submount. Unprivileged, host ids
                                        outside the container's range show as nobody unless
                                        idmap: then host uid N is uid N inside (host root's
                                        files are root's inside, and root inside writes as
                                        host root). --tmpfs: owned by root inside, default
                                        mode 1777. See corral-run --help
  start NAME                            returns once it runs
  stop NAME [--timeout S]               the init's halt signal, SIGKILL after S (10) seconds
  kill NAME [SIGNAL]                    TERM, SIGKILL, 9, ... (default TERM)
  rm NAME                               a stopped container, with its files
  ls [--json]                           every container
  info NAME [--json]                    one container
  exec NAME [-t] [--env K=V] [--user UID[:GID]] [--cwd DIR] -- CMD...
                                        runs CMD inside; exits with its status
  console NAME                          the container's console; Ctrl-a q detaches
  checkconfig                           host problems that would break containers
  stats [NAME...] [--json] [--watch]    CPU, memory, pids, network and block I/O of running
                                        containers (all without NAME); --watch redraws each
                                        second until Ctrl-C (exit 0)
  top NAME [--json]                     the container's processes: pid inside and on the
                                        host, uid, CPU time, RSS, command
  set NAME [--memory M] [--pids N] [--cpu-weight W] [--cpu-quota P%]
                                        change limits: at once on a running container
                                        (systemd's scope), and for every next start;
                                        none removes one
  events [--json] [--since T]           created, starting, started, stopping, stopped (exit
                                        status, OOM), oom, restart, limits, removed: one
                                        line each until Ctrl-C; --since replays from T
                                        (corrald's journal) first
  logs NAME [-f] [-n N] [--since T] [-t] [--json]
                                        what it wrote to its console, from the journal
                                        (journalctl CONTAINER_NAME=NAME shows the same);
                                        -f follows, -t adds timestamps; T: "10m ago",
                                        "2024-05-01 12:00", "@UNIXSECONDS", "today"
  cp HOSTPATH NAME:/PATH | cp NAME:/PATH HOSTPATH
                                        files and directories (recursive), running or stopped
                                        containers, root only; container paths resolved inside
                                        its root (its symlinks never reach the host); modes
                                        kept (setuid/setgid dropped coming out), owners mapped
                                        between ids inside and the container's host range
  clone SRC NEW                         a stopped container under a new name: its options
                                        (not its port forwards), its own uid range and
                                        address, its files (cp --reflink=auto); image shared
  commit NAME IMAGE                     a stopped container's files as a new image (whole, or
                                        not at all)
  export NAME FILE.tar[.zst]            a stopped container's files as a tarball, for
                                        `image import` (owners as ids inside, setuid kept)
Volumes (named, under /var/lib/corral/volumes; kept when containers go):
  volume create NAME [--size S]         a directory, or with --size an ext4 image of S
                                        (loop-mounted while used; writes past S: ENOSPC)
  volume ls [--json]                    name, size, bytes used, containers using it
  volume rm NAME                        refused while a container's config uses it
Images:
  image build busybox                   build the busybox image from Debian's busybox-static
  image build debian [--suite bookworm] [--mirror URL] [--variant systemd|minbase] [--name N]
                                        debootstrap a Debian-family image (mirror: the host's
                                        apt sources; Ubuntu: its suite, mirror and keyring)
  image import NAME TARBALL             a rootfs tarball (e.g. Ubuntu's base tarball) as NAME
  image import NAME oci:DIR[:TAG] | oci-archive:FILE[:TAG] | docker-archive:FILE[:TAG]
                                        an OCI image (skopeo, podman save, buildah): layers
                                        unpacked once, shared; digests checked
  image pull REF [--name N] [--tls-verify=false]
                                        from a registry, through skopeo
  image rm NAME                         refused while a container uses it; shared layers stay
                                        (image build/import show progress on a terminal;
                                        --quiet: none)
  images | image ls [--json]            list the images: name, kind, layers, size, source
Options:
  --images-dir DIR                      image store (default /var/lib/corral/images, or $CORRAL_IMAGES_DIR)
Exit status: 0 done, 1 failed, 2 usage error; exec exits with the command's status.
)";

using ctl::CheckConfig;
using ctl::Commit;
using ctl::Console;
using ctl::Create;
using ctl::Exec;
using ctl::Export;
using ctl::Fail;
using ctl::ImageBuild;
using ctl::ImageImport;
using ctl::Info;
using ctl::Kill;
using ctl::List;
using ctl::SimpleCall;
using ctl::Stop;
using ctl::Usage;
using ctl::kExitUsage;

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const char* env_dir = ::getenv("CORRAL_IMAGES_DIR");
  std::string images_dir = env_dir != nullptr ? env_dir : images::kDefaultImagesDir;
  if (args.size() >= 2 && args[0] == "--images-dir") {
    images_dir = args[1];
    args.erase(args.begin(), args.begin() + 2);
  }
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    ::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? kExitUsage : 0;
  }
  const std::string verb = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (verb == "image" || verb == "cp" || verb == "export") {
    // --quiet: no progress line even on a terminal (tools/images/progress.h).
    for (auto it = rest.begin(); it != rest.end();) {
      if (*it == "--quiet" || *it == "-q") {
        images::SetProgressEnabled(false);
        it = rest.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (verb == "image" && !rest.empty() && rest[0] == "build") {
    return ImageBuild(images_dir, std::vector<std::string>(rest.begin() + 1, rest.end()));
  }
  if (verb == "image" && rest.size() == 3 && rest[0] == "import" && images::oci::LooksLikeImageSource(rest[2])) {
    return images::oci::ImportCommand(images_dir, rest[1], rest[2]);  // tools/images/oci
  }
  if (verb == "image" && !rest.empty() && rest[0] == "import") {
    return ImageImport(images_dir, std::vector<std::string>(rest.begin() + 1, rest.end()));
  }
  if (verb == "image" && !rest.empty() && (rest[0] == "pull" || rest[0] == "rm" || rest[0] == "ls")) {
    std::vector<std::string> tail(rest.begin() + 1, rest.end());
    if (rest[0] == "pull") return images::oci::PullCommand(images_dir, tail);
    return rest[0] == "rm" ? images::oci::RemoveCommand(images_dir, tail) : images::oci::ListCommand(images_dir, tail);
  }
  if (verb == "images") return images::oci::ListCommand(images_dir, rest);
  if (verb == "events") return EventsCommand(rest);  // its own system-bus connection
  if (verb == "run-unit") return rest.size() == 1 ? RunUnit(rest[0]) : Usage("usage: corralctl run-unit NAME");

  static const char* kContainerVerbs[] = {"create", "start", "stop",    "kill",        "rm",    "ls",
                                          "info",   "exec",  "console", "checkconfig", "stats", "top",
                                          "logs",   "set",   "volume", "cp", "commit", "export", "clone"};
  bool known = false;
  for (const char* v : kContainerVerbs) known |= verb == v;
  if (!known) return Usage(absl::StrCat("unknown command \"", verb, "\""));
  if ((verb == "start" || verb == "rm") && rest.size() != 1) return Usage(absl::StrCat("usage: corralctl ", verb, " NAME"));

  absl::StatusOr<BusPtr> bus = ConnectToCorrald();
  if (!bus.ok()) return Fail(bus.status().message());
  sd_bus* b = bus->get();
  if (verb == "create") return Create(b, rest);
  if (verb == "start") return SimpleCall(b, "StartContainer", rest[0]);
  if (verb == "rm") return SimpleCall(b, "RemoveContainer", rest[0]);
  if (verb == "stop") return Stop(b, rest);
  if (verb == "kill") return Kill(b, rest);
  if (verb == "ls") return List(b, rest);
  if (verb == "info") return Info(b, rest);
  if (verb == "exec") return Exec(b, rest);
  if (verb == "console") return Console(b, rest);
  if (verb == "stats") return StatsCommand(b, rest);
  if (verb == "top") return TopCommand(b, rest);
  if (verb == "logs") return LogsCommand(b, rest);
  if (verb == "set") return SetCommand(b, rest);
  if (verb == "volume") return VolumeCommand(b, rest);
  ctl::SetCopyBus(b);
  if (verb == "cp") return CpCommand(rest, ctl::FindForCopy);
  if (verb == "commit") return Commit(images_dir, rest);
  if (verb == "export") return Export(rest);
  if (verb == "clone") {
    const char* lib = ::getenv("CORRAL_LIB_DIR");
    return CloneCommand(b, rest, lib != nullptr ? lib : "/var/lib/corral");
  }
  return CheckConfig(b);
}

}  // namespace
}  // namespace corral::tools

int main(int argc, char** argv) { return corral::tools::Main(argc, argv); }
