// corralctl: the command line for corral. Container verbs talk to corrald over D-Bus
// (dbus/interface.h); image verbs work on the local image store.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/unique_fd.h"
#include "dbus/interface.h"
#include "runtime/console.h"
#include "common/files.h"
#include "dbus/container_config.h"
#include "tools/ctl/bus.h"
#include "tools/ctl/events.h"
#include "tools/ctl/clone.h"
#include "tools/ctl/copy.h"
#include "common/errors.h"
#include "tools/ctl/exec_args.h"
#include "tools/ctl/copy_progress.h"
#include "tools/ctl/exec_stdio.h"
#include "tools/ctl/logs.h"
#include "tools/ctl/set.h"
#include "tools/ctl/signal.h"
#include "tools/ctl/stats.h"
#include "tools/ctl/storage.h"
#include "tools/images/busybox_image.h"
#include "tools/images/debian_image.h"
#include "tools/images/image_store.h"
#include "tools/images/oci/image_commands.h"
#include "tools/images/oci/oci_store.h"
#include "tools/images/progress.h"
#include "tools/run_options.h"
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

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

int Fail(absl::string_view message, int code = kExitFailed) {
  ::fprintf(stderr, "corralctl: %s\n", std::string(message).c_str());
  return code;
}

int Usage(absl::string_view message) { return Fail(absl::StrCat(message, " (see corralctl --help)"), kExitUsage); }

// ---- images (local) ----

int ImageBuild(const std::string& images_dir, const std::vector<std::string>& args) {
  if (args.empty()) return Usage("usage: corralctl image build busybox|debian [options]");
  if (args[0] == "busybox") {
    if (args.size() != 1) return Usage("image build busybox takes no options");
    absl::StatusOr<std::string> rootfs = images::BuildBusyboxImage(images_dir);
    if (!rootfs.ok()) return Fail(rootfs.status().message());
    ::printf("built image busybox: %s\n", rootfs->c_str());
    return 0;
  }
  if (args[0] != "debian") return Usage(absl::StrCat("unknown image \"", args[0], "\" (known: busybox, debian)"));
  images::DebianOptions options;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (i + 1 >= args.size()) return Usage(absl::StrCat("image build debian: ", a, " needs a value"));
    const std::string& v = args[++i];
    if (a == "--suite") {
      options.suite = v;
    } else if (a == "--mirror") {
      options.mirror = v;
    } else if (a == "--variant") {
      options.variant = v;
    } else if (a == "--name") {
      options.name = v;
    } else {
      return Usage(absl::StrCat("image build debian: unknown option \"", a, "\""));
    }
  }
  absl::StatusOr<std::string> rootfs = images::BuildDebianImage(images_dir, options);
  if (!rootfs.ok()) return Fail(rootfs.status().message());
  ::printf("built image %s (%s, %s): %s\n", options.name.c_str(), options.suite.c_str(), options.variant.c_str(),
           rootfs->c_str());
  return 0;
}

int ImageImport(const std::string& images_dir, const std::vector<std::string>& args) {
  if (args.size() != 2) return Usage("usage: corralctl image import NAME TARBALL");
  absl::StatusOr<std::string> rootfs = images::ImportTarball(images_dir, args[0], args[1]);
  if (!rootfs.ok()) return Fail(rootfs.status().message());
  ::printf("imported image %s: %s\n", args[0].c_str(), rootfs->c_str());
  return 0;
}

// ---- containers ----

// One call with a name argument and no reply payload (start, rm).
int SimpleCall(sd_bus* bus, const char* method, const std::string& name) {
  auto call = NewManagerCall(bus, method);
  if (!call.ok()) return Fail(call.status().message());
  sd_bus_message_append(call->get(), "s", name.c_str());
  auto reply = CallAndWait(bus, call->get());
  return reply.ok() ? 0 : Fail(reply.status().message());
}

int Create(sd_bus* bus, const std::vector<std::string>& args) {
  if (args.empty() || args[0][0] == '-') return Usage("create: which container? corralctl create NAME --image IMAGE");
  absl::StatusOr<RunOptions> parsed =
      ParseRunOptions(std::vector<std::string>(args.begin() + 1, args.end()), OptionsFor::kCreate);
  if (!parsed.ok()) return Usage(absl::StrCat("create: ", parsed.status().message()));
  const RunOptions& o = *parsed;
  // corrald does not share our working directory: a directory given as a path is sent whole.
  std::string image = o.image;
  if (image.find('/') != std::string::npos && image[0] != '/') {
    char* absolute = ::realpath(image.c_str(), nullptr);
    if (absolute == nullptr) return Fail(absl::StrCat("--image ", image, ": ", std::strerror(errno)));
    image = absolute;
    free(absolute);
  }
  auto call = NewManagerCall(bus, "CreateContainer");
  if (!call.ok()) return Fail(call.status().message());
  sd_bus_message* m = call->get();
  sd_bus_message_append(m, "ss", args[0].c_str(), image.c_str());
  sd_bus_message_open_container(m, 'a', "{sv}");
  auto uint_option = [m](const char* key, uint64_t value) { sd_bus_message_append(m, "{sv}", key, "t", value); };
  if (o.memory_bytes) uint_option("Memory", *o.memory_bytes);
  if (o.pids) uint_option("Tasks", *o.pids);
  if (o.cpu_weight) uint_option("CPUWeight", *o.cpu_weight);
  if (o.cpu_quota_percent) uint_option("CPUQuota", *o.cpu_quota_percent);
  if (!o.restart.empty()) sd_bus_message_append(m, "{sv}", "Restart", "s", o.restart.c_str());
  const char* net = o.net == NetMode::kNone ? "none" : o.net == NetMode::kHost ? "host" : "bridge";
  sd_bus_message_append(m, "{sv}", "Network", "s", net);
  if (!o.spec.hostname.empty()) sd_bus_message_append(m, "{sv}", "Hostname", "s", o.spec.hostname.c_str());
  if (!o.ports.empty()) {
    sd_bus_message_open_container(m, 'e', "sv");
    sd_bus_message_append(m, "s", "Ports");
    sd_bus_message_open_container(m, 'v', "a(sqq)");
    sd_bus_message_open_container(m, 'a', "(sqq)");
    for (const netcfg::PortForward& p : o.ports) {
      sd_bus_message_append(m, "(sqq)", p.protocol == netcfg::Protocol::kUdp ? "udp" : "tcp", p.host_port,
                            p.container_port);
    }
    sd_bus_message_close_container(m);
    sd_bus_message_close_container(m);
    sd_bus_message_close_container(m);
  }
  AppendStrvOption(m, "Command", o.spec.command);
  AppendStrvOption(m, "Environment", o.spec.env);
  if (!o.spec.devices.empty()) {
    std::vector<std::string> devices;
    for (const runtime::DeviceSpec& d : o.spec.devices) devices.push_back(runtime::FormatDeviceSpec(d));
    AppendStrvOption(m, "Devices", devices);
  }
  AppendStorageOptions(m, o);  // Binds, IdmappedBinds, Tmpfs, Volumes: tools/ctl/storage.h
  sd_bus_message_append(m, "{sv}", "Boot", "b", static_cast<int>(o.spec.init == runtime::InitMode::kBoot));
  if (o.privileged) sd_bus_message_append(m, "{sv}", "Privileged", "b", 1);
  sd_bus_message_close_container(m);
  auto reply = CallAndWait(bus, m);
  if (!reply.ok()) return Fail(reply.status().message());
  ::printf("created container %s\n", args[0].c_str());
  if (o.memory_bytes || o.pids || o.cpu_weight || o.cpu_quota_percent) WarnUnenforcedLimits(bus, args[0]);
  return 0;
}

// ---- cp (tools/ctl/copy.h) ----

sd_bus* g_cp_bus = nullptr;

// What cp needs of container `name`: running, its leader; stopped, its overlay's layers
// (from its config: corrald mounts nothing for a stopped container).
absl::StatusOr<CpTarget> FindForCopy(const std::string& name) {
  absl::StatusOr<std::vector<Property>> properties = ContainerProperties(g_cp_bus, name);
  if (!properties.ok()) return properties.status();
  CpTarget target;
  std::string state;
  for (const Property& p : *properties) {
    if (p.name == "State") state = p.text;
    if (p.name == "Leader") absl::SimpleAtoi(p.text, &target.leader);
  }
  target.running = state == "running" && target.leader > 0;
  const char* lib = ::getenv("CORRAL_LIB_DIR");
  target.lib_dir = absl::StrCat(lib != nullptr ? lib : "/var/lib/corral", "/containers/", name);
  absl::StatusOr<std::string> text = ReadFile(target.lib_dir + "/config");
  if (!text.ok()) return text.status();
  absl::StatusOr<dbus::ContainerConfig> config = dbus::ParseConfig(*text);
  if (!config.ok()) return config.status();
  target.base = config->privileged ? 0 : config->uid_base;
  target.image_rootfs = config->image_rootfs;
  target.image_layers = config->image_layers;
  if (!target.running && state != "stopped") {
    return absl::FailedPreconditionError(absl::StrCat("container ", name, " is ", state, ": try again when it runs or has stopped"));
  }
  return target;
}

// corralctl commit NAME IMAGE: a stopped container's root file system as a new image, put in
// place whole (images::BuildImage).
int Commit(const std::string& images_dir, const std::vector<std::string>& args) {
  if (args.size() != 2) return Usage("usage: corralctl commit NAME IMAGE");
  if (absl::Status valid = images::ValidateImageName(args[1]); !valid.ok()) return Usage(absl::StrCat("commit: ", valid.message()));
  if (::geteuid() != 0) return Fail("commit: only root may read a container's files");
  absl::StatusOr<CpTarget> target = FindForCopy(args[0]);
  if (!target.ok()) return Fail(absl::StrCat("commit: ", target.status().message()));
  if (target->running) return Fail(absl::StrCat("commit: container ", args[0], " is running: stop it first"));
  absl::StatusOr<std::string> rootfs = images::BuildImage(images_dir, args[1], [&](const std::string& staging) {
    return WithStoppedRoot(*target, [&](const ContainerSide& side) { return CopyRootInto(side, staging); });
  });
  if (!rootfs.ok()) return Fail(absl::StrCat("commit: ", rootfs.status().message()));
  ::printf("committed %s as image %s: %s\n", args[0].c_str(), args[1].c_str(), rootfs->c_str());
  return 0;
}

// corralctl export NAME FILE.tar[.zst]: a stopped container's root file system as a tarball
// (what `image import` takes). The tree is copied out first (RESOLVE_IN_ROOT, as cp), into a
// private directory next to FILE, and only that copy, no longer the container's, is tarred.
int Export(const std::vector<std::string>& args) {
  if (args.size() != 2) return Usage("usage: corralctl export NAME FILE.tar[.zst]");
  if (::geteuid() != 0) return Fail("export: only root may read a container's files");
  absl::StatusOr<CpTarget> target = FindForCopy(args[0]);
  if (!target.ok()) return Fail(absl::StrCat("export: ", target.status().message()));
  if (target->running) return Fail(absl::StrCat("export: container ", args[0], " is running: stop it first"));
  const std::string file = args[1];
  std::string scratch = file + ".export.XXXXXX";
  if (::mkdtemp(scratch.data()) == nullptr) return Fail(absl::StrCat("export: mkdtemp ", scratch, ": ", std::strerror(errno)));
  std::string tree = scratch + "/rootfs";
  absl::Status done = ::mkdir(tree.c_str(), 0755) == 0 ? absl::OkStatus() : absl::InternalError(std::strerror(errno));
  if (done.ok()) {
    CopyProgress progress(absl::StrCat("exporting ", args[0], ": copying"));  // tools/ctl/copy_progress.h
    done = WithStoppedRoot(*target, [&](const ContainerSide& side) { return CopyRootInto(side, tree); });
  }
  std::string partial = file + ".partial";
  if (done.ok()) {
    std::vector<std::string> argv = {"tar", "--numeric-owner", "-cp", "-f", partial, "-C", tree, "."};
    if (file.size() > 4 && file.compare(file.size() - 4, 4, ".zst") == 0) argv.insert(argv.begin() + 1, "--zstd");
    done = images::RunProgram(argv, images::RunProgress{absl::StrCat("exporting ", args[0], ": archiving"), "", false});
  }
  if (done.ok() && ::rename(partial.c_str(), file.c_str()) != 0) done = absl::InternalError(std::strerror(errno));
  ::unlink(partial.c_str());
  RemoveTree(scratch).IgnoreError();
  if (!done.ok()) return Fail(absl::StrCat("export: ", done.message()));
  ::printf("exported %s to %s\n", args[0].c_str(), file.c_str());
  return 0;
}

int Stop(sd_bus* bus, const std::vector<std::string>& args) {
  if (args.empty()) return Usage("stop: which container?");
  uint32_t timeout = 10;
  if (args.size() == 3 && args[1] == "--timeout") {
    if (!absl::SimpleAtoi(args[2], &timeout)) return Usage(absl::StrCat("stop: --timeout \"", args[2], "\" is not a number of seconds"));
  } else if (args.size() != 1) {
    return Usage("usage: corralctl stop NAME [--timeout S]");
  }
  auto call = NewManagerCall(bus, "StopContainerWithTimeout");
  if (!call.ok()) return Fail(call.status().message());
  sd_bus_message_append(call->get(), "su", args[0].c_str(), timeout);
  // Its own wait, then the kill and the scope's end.
  auto reply = CallAndWait(bus, call->get(), (uint64_t{timeout} + 60) * 1000000);
  return reply.ok() ? 0 : Fail(reply.status().message());
}

int Kill(sd_bus* bus, const std::vector<std::string>& args) {
  if (args.empty() || args.size() > 2) return Usage("usage: corralctl kill NAME [SIGNAL]");
  int signal = SIGTERM;
  if (args.size() == 2 && !ParseSignal(args[1], &signal)) return Usage(absl::StrCat("kill: no signal \"", args[1], "\""));
  auto call = NewManagerCall(bus, "KillContainer");
  if (!call.ok()) return Fail(call.status().message());
  sd_bus_message_append(call->get(), "si", args[0].c_str(), signal);
  auto reply = CallAndWait(bus, call->get());
  return reply.ok() ? 0 : Fail(reply.status().message());
}

int List(sd_bus* bus, const std::vector<std::string>& args) {
  bool json = args.size() == 1 && args[0] == "--json";
  if (!args.empty() && !json) return Usage("usage: corralctl ls [--json]");
  auto call = NewManagerCall(bus, "ListContainers");
  if (!call.ok()) return Fail(call.status().message());
  auto reply = CallAndWait(bus, call->get());
  if (!reply.ok()) return Fail(reply.status().message());
  struct Row {
    std::string name, state, address, unit;
    uint32_t pid;
  };
  std::vector<Row> rows;
  sd_bus_message* m = reply->get();
  sd_bus_message_enter_container(m, 'a', "(ssuo)");
  const char *name, *state, *path;
  uint32_t pid;
  while (sd_bus_message_read(m, "(ssuo)", &name, &state, &pid, &path) > 0) rows.push_back({name, state, "", "", pid});
  for (Row& row : rows) {
    absl::StatusOr<std::vector<Property>> properties = ContainerProperties(bus, row.name);
    if (!properties.ok()) continue;
    for (const Property& p : *properties) {
      if (p.name == "Addresses") row.address = p.text;
      if (p.name == "Unit") row.unit = p.text;
    }
  }
  if (json) {
    std::vector<std::string> objects;
    for (const Row& r : rows) {
      objects.push_back(absl::StrCat("{\"name\": ", JsonString(r.name), ", \"state\": ", JsonString(r.state),
                                     ", \"pid\": ", r.pid, ", \"address\": ", JsonString(r.address),
                                     ", \"unit\": ", JsonString(r.unit), "}"));
    }
    ::printf("[%s]\n", absl::StrJoin(objects, ",\n ").c_str());
    return 0;
  }
  ::printf("%-20s %-9s %-8s %-18s %s\n", "NAME", "STATE", "PID", "ADDRESS", "UNIT");
  for (const Row& r : rows) {
    ::printf("%-20s %-9s %-8s %-18s %s\n", r.name.c_str(), r.state.c_str(), r.pid ? absl::StrCat(r.pid).c_str() : "-",
             r.address.empty() ? "-" : r.address.c_str(), r.unit.c_str());
  }
  return 0;
}

int Info(sd_bus* bus, const std::vector<std::string>& args) {
  if (args.empty() || args.size() > 2 || (args.size() == 2 && args[1] != "--json")) {
    return Usage("usage: corralctl info NAME [--json]");
  }
  absl::StatusOr<std::vector<Property>> properties = ContainerProperties(bus, args[0]);
  if (!properties.ok()) return Fail(properties.status().message());
  if (args.size() == 2) {
    std::vector<std::string> fields;
    for (const Property& p : *properties) {
      std::string value;
      if (p.is_list) {
        std::vector<std::string> items;
        for (const std::string& item : p.list) items.push_back(JsonString(item));
        value = absl::StrCat("[", absl::StrJoin(items, ", "), "]");
      } else {
        value = p.is_number || p.text == "true" || p.text == "false" ? p.text : JsonString(p.text);
      }
      fields.push_back(absl::StrCat(JsonString(p.name), ": ", value));
    }
    ::printf("{%s}\n", absl::StrJoin(fields, ",\n ").c_str());
    return 0;
  }
  for (const Property& p : *properties) ::printf("%-11s %s\n", (p.name + ":").c_str(), p.text.c_str());
  return 0;
}

int CheckConfig(sd_bus* bus) {
  auto call = NewManagerCall(bus, "CheckConfig");
  if (!call.ok()) return Fail(call.status().message());
  auto reply = CallAndWait(bus, call->get());
  if (!reply.ok()) return Fail(reply.status().message());
  char** warnings = nullptr;
  sd_bus_message_read_strv(reply->get(), &warnings);
  int count = 0;
  for (char** w = warnings; w && *w; ++w, ++count) {
    ::printf("warning: %s\n", *w);
    free(*w);
  }
  free(warnings);
  if (count == 0) ::printf("no problems found\n");
  return count == 0 ? 0 : kExitFailed;
}

int Console(sd_bus* bus, const std::vector<std::string>& args) {
  if (args.size() != 1) return Usage("usage: corralctl console NAME");
  auto call = NewManagerCall(bus, "OpenConsole");
  if (!call.ok()) return Fail(call.status().message());
  sd_bus_message_append(call->get(), "s", args[0].c_str());
  auto reply = CallAndWait(bus, call->get());
  if (!reply.ok()) return Fail(reply.status().message());
  int master = -1;
  const char* pty = nullptr;
  if (sd_bus_message_read(reply->get(), "hs", &master, &pty) < 0) return Fail("bad OpenConsole reply");
  UniqueFd console(::fcntl(master, F_DUPFD_CLOEXEC, 3));
  ::fprintf(stderr, "Connected to the console of %s. Type Ctrl-a q to detach.\n", args[0].c_str());
  runtime::CopyWindowSize(0, console.get());
  runtime::RawTerminal raw(0);
  runtime::RelayOptions relay;
  relay.detach_keys = true;
  absl::StatusOr<runtime::RelayEnd> end = runtime::RelayConsole(console.get(), 0, 1, relay);
  if (!end.ok()) return Fail(end.status().message());
  ::fprintf(stderr, "\r\n%s\r\n", *end == runtime::RelayEnd::kDetached ? "Detached." : "The console closed.");
  return 0;
}

// exec: pipes or a pty relayed to the caller's stdio (ExecStdio), passed to corrald as unix
// fds; the reply carries the command's exit status.
// The reply of the Exec call, waited for while the stdio is relayed.
class BusReplyWait : public ReplyWait {
 public:
  BusReplyWait(sd_bus* bus, const bool* done) : bus_(bus), done_(done) {}
  pollfd PollFd() override { return {sd_bus_get_fd(bus_), static_cast<short>(sd_bus_get_events(bus_)), 0}; }
  uint64_t DeadlineUsec() override {
    uint64_t usec = UINT64_MAX;
    sd_bus_get_timeout(bus_, &usec);
    return usec;
  }
  absl::StatusOr<bool> Process() override {
    int r;
    while ((r = sd_bus_process(bus_, nullptr)) > 0) {
    }
    if (r < 0) return ErrnoError(-r, "process the bus");
    return *done_;
  }

 private:
  sd_bus* bus_;
  const bool* done_;
};

int Exec(sd_bus* bus, const std::vector<std::string>& args) {
  absl::StatusOr<ExecArgs> parsed = ParseExecArgs(args);
  if (!parsed.ok()) return Usage(parsed.status().message());
  const std::vector<std::string>& env = parsed->env;
  const std::string &name = parsed->name, &user = parsed->user, &cwd = parsed->cwd;
  const std::vector<std::string>& command = parsed->command;
  bool tty = parsed->tty;

  // The command gets pipes and ptys made here, never our own stdio (see ExecStdio); with -t
  // corrald allocates the pty inside the container, so ttyname() there finds /dev/pts/N as
  // `docker exec -t` gives it, and sends us its master.
  absl::StatusOr<std::unique_ptr<ExecStdio>> io = ExecStdio::Prepare(tty);
  if (!io.ok()) return Fail(io.status().message());
  auto call = NewManagerCall(bus, "Exec");
  if (!call.ok()) return Fail(call.status().message());
  sd_bus_message* m = call->get();
  sd_bus_message_append(m, "s", name.c_str());
  sd_bus_message_open_container(m, 'a', "s");
  for (const std::string& c : command) sd_bus_message_append(m, "s", c.c_str());
  sd_bus_message_close_container(m);
  sd_bus_message_open_container(m, 'a', "{sv}");
  if (!env.empty()) {
    sd_bus_message_open_container(m, 'e', "sv");
    sd_bus_message_append(m, "s", "Environment");
    sd_bus_message_open_container(m, 'v', "as");
    sd_bus_message_open_container(m, 'a', "s");
    for (const std::string& e : env) sd_bus_message_append(m, "s", e.c_str());
    sd_bus_message_close_container(m);
    sd_bus_message_close_container(m);
    sd_bus_message_close_container(m);
  }
  if (!user.empty()) sd_bus_message_append(m, "{sv}", "User", "s", user.c_str());
  if (!cwd.empty()) sd_bus_message_append(m, "{sv}", "Cwd", "s", cwd.c_str());
  if ((*io)->controlling_tty()) sd_bus_message_append(m, "{sv}", "Tty", "b", 1);
  if ((*io)->pty_receiver() >= 0) sd_bus_message_append(m, "{sv}", "PtyReceiver", "h", (*io)->pty_receiver());
  sd_bus_message_close_container(m);
  int r = sd_bus_message_append(m, "hhh", (*io)->command_fd(0), (*io)->command_fd(1), (*io)->command_fd(2));
  if (r < 0) return Fail(ErrorSentence(nullptr, r));

  // Call asynchronously and relay until the reply comes.
  struct Outcome {
    bool done = false;
    int status = kExitFailed;
    std::string error;
  } outcome;
  r = sd_bus_call_async(
      bus, nullptr, m,
      [](sd_bus_message* reply, void* data, sd_bus_error*) -> int {
        auto* out = static_cast<Outcome*>(data);
        out->done = true;
        const sd_bus_error* e = sd_bus_message_get_error(reply);
        if (e != nullptr) {
          out->error = ErrorSentence(e, -sd_bus_message_get_errno(reply));
        } else {
          int32_t s = kExitFailed;
          sd_bus_message_read(reply, "i", &s);
          out->status = s;
        }
        return 0;
      },
      &outcome, UINT64_MAX);
  if (r < 0) return Fail(ErrorSentence(nullptr, r));
  call->reset();  // the message holds copies of the command's fds until it is freed
  (*io)->CallSent();
  BusReplyWait reply(bus, &outcome.done);
  absl::Status relayed = (*io)->Relay(reply);
  io->reset();  // the terminal back to how it was before any message
  if (!relayed.ok()) return Fail(relayed.message());
  if (!outcome.error.empty()) return Fail(outcome.error);
  return outcome.status;
}

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
  g_cp_bus = b;
  if (verb == "cp") return CpCommand(rest, FindForCopy);
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
