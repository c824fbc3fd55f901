#include "tools/ctl/clone.h"

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/files.h"
#include "dbus/container_config.h"
#include "runtime/spec.h"
#include "runtime/storage_spec.h"
#include "tools/ctl/bus.h"
#include "tools/images/image_store.h"

namespace corral::tools {

namespace {

constexpr uint32_t kRange = 65536;
uint32_t g_from = 0, g_to = 0;
int g_errno = 0;
std::string* g_failed = nullptr;

uint32_t Remap(uint32_t id) {
  if (id >= g_from && id - g_from < kRange) return g_to + (id - g_from);
  return id;
}

int RemapOne(const char* path, const struct stat* st, int, struct FTW*) {
  uid_t uid = Remap(st->st_uid);
  gid_t gid = Remap(st->st_gid);
  if (uid == st->st_uid && gid == st->st_gid) return 0;
  if (::lchown(path, uid, gid) != 0) {
    g_errno = errno;
    *g_failed = path;
    return 1;
  }
  if (!S_ISLNK(st->st_mode) && (st->st_mode & (S_ISUID | S_ISGID)) != 0 && ::chmod(path, st->st_mode & 07777) != 0) {
    g_errno = errno;
    *g_failed = path;
    return 1;
  }
  return 0;
}

int Fail(const std::string& message, int code = 1) {
  ::fprintf(stderr, "corralctl: clone: %s\n", message.c_str());
  return code;
}

// Binds (plain and idmapped), Tmpfs and Volumes from their stored text.
void AppendStorage(sd_bus_message* m, const dbus::ContainerConfig& c) {
  auto rows = [m](const char* key, const char* type, const char* row, auto fill) {
    sd_bus_message_open_container(m, 'e', "sv");
    sd_bus_message_append(m, "s", key);
    sd_bus_message_open_container(m, 'v', type);
    sd_bus_message_open_container(m, 'a', row);
    fill();
    sd_bus_message_close_container(m);
    sd_bus_message_close_container(m);
    sd_bus_message_close_container(m);
  };
  std::vector<runtime::BindSpec> plain, idmapped;
  for (const std::string& text : c.binds) {
    absl::StatusOr<runtime::BindSpec> b = runtime::ParseBindSpec(text);
    if (b.ok()) (b->idmap ? idmapped : plain).push_back(*b);
  }
  for (auto* list : {&plain, &idmapped}) {
    if (list->empty()) continue;
    rows(list == &plain ? "Binds" : "IdmappedBinds", "a(ssb)", "(ssb)", [&] {
      for (const runtime::BindSpec& b : *list) {
        sd_bus_message_append(m, "(ssb)", b.source.c_str(), b.target.c_str(), static_cast<int>(b.read_only));
      }
    });
  }
  if (!c.tmpfs.empty()) {
    rows("Tmpfs", "a(ss)", "(ss)", [&] {
      for (const std::string& text : c.tmpfs) {
        size_t colon = text.find(':');
        sd_bus_message_append(m, "(ss)", text.substr(0, colon).c_str(),
                              colon == std::string::npos ? "" : text.substr(colon + 1).c_str());
      }
    });
  }
  if (!c.volumes.empty()) {
    rows("Volumes", "a(ssb)", "(ssb)", [&] {
      for (const std::string& text : c.volumes) {
        absl::StatusOr<runtime::VolumeMountSpec> v = runtime::ParseVolumeMountSpec(text);
        if (v.ok()) sd_bus_message_append(m, "(ssb)", v->name.c_str(), v->target.c_str(), static_cast<int>(v->read_only));
      }
    });
  }
}

absl::StatusOr<dbus::ContainerConfig> LoadConfig(const std::string& lib_root, const std::string& name) {
  absl::StatusOr<std::string> text = ReadFile(absl::StrCat(lib_root, "/containers/", name, "/config"));
  if (!text.ok()) return text.status();
  return dbus::ParseConfig(*text);
}

}  // namespace

absl::Status RemapOwners(const std::string& dir, uint32_t from, uint32_t to) {
  std::string failed;
  g_from = from;
  g_to = to;
  g_errno = 0;
  g_failed = &failed;
  int rc = ::nftw(dir.c_str(), RemapOne, 64, FTW_PHYS | FTW_MOUNT | FTW_DEPTH);
  g_failed = nullptr;
  if (rc < 0) return ErrnoError(absl::StrCat("walk ", dir));
  if (rc != 0) return ErrnoError(g_errno, absl::StrCat("chown ", failed));
  return absl::OkStatus();
}

int CloneCommand(sd_bus* bus, const std::vector<std::string>& args, const std::string& lib_root) {
  if (args.size() != 2) return Fail("usage: corralctl clone SRC NEW", 2);
  const std::string& src = args[0];
  const std::string& name = args[1];
  if (absl::Status valid = runtime::ValidateContainerName(name); !valid.ok()) return Fail(std::string(valid.message()), 2);
  if (::geteuid() != 0) return Fail("only root may clone a container (its files are copied)");
  absl::StatusOr<std::vector<Property>> properties = ContainerProperties(bus, src);
  if (!properties.ok()) return Fail(std::string(properties.status().message()));
  for (const Property& p : *properties) {
    if (p.name == "State" && p.text != "stopped") return Fail(absl::StrCat("container ", src, " is ", p.text, ": stop it first"));
  }
  absl::StatusOr<dbus::ContainerConfig> config = LoadConfig(lib_root, src);
  if (!config.ok()) return Fail(std::string(config.status().message()));
  const dbus::ContainerConfig& c = *config;

  absl::StatusOr<MessagePtr> call = NewManagerCall(bus, "CreateContainer");
  if (!call.ok()) return Fail(std::string(call.status().message()));
  sd_bus_message* m = call->get();
  sd_bus_message_append(m, "ss", name.c_str(), c.image.c_str());
  sd_bus_message_open_container(m, 'a', "{sv}");
  if (c.memory_bytes) sd_bus_message_append(m, "{sv}", "Memory", "t", c.memory_bytes);
  if (c.tasks) sd_bus_message_append(m, "{sv}", "Tasks", "t", c.tasks);
  if (c.cpu_weight) sd_bus_message_append(m, "{sv}", "CPUWeight", "t", c.cpu_weight);
  sd_bus_message_append(m, "{sv}", "Network", "s", std::string(dbus::NetworkModeName(c.network)).c_str());
  AppendStrvOption(m, "Command", c.command);
  AppendStrvOption(m, "Environment", c.env);
  AppendStrvOption(m, "Devices", c.devices);
  AppendStorage(m, c);
  sd_bus_message_append(m, "{sv}", "Boot", "b", static_cast<int>(c.boot));
  if (c.privileged) sd_bus_message_append(m, "{sv}", "Privileged", "b", 1);
  sd_bus_message_close_container(m);
  absl::StatusOr<MessagePtr> reply = CallAndWait(bus, m);
  if (!reply.ok()) return Fail(std::string(reply.status().message()));

  // From here on a failure removes NEW again: nothing half-made stays.
  auto undo = [&](const std::string& why) {
    absl::StatusOr<MessagePtr> rm = NewManagerCall(bus, "RemoveContainer");
    if (rm.ok()) {
      sd_bus_message_append(rm->get(), "s", name.c_str());
      CallAndWait(bus, rm->get()).IgnoreError();
    }
    return Fail(why);
  };
  absl::StatusOr<dbus::ContainerConfig> made = LoadConfig(lib_root, name);
  if (!made.ok()) return undo(std::string(made.status().message()));
  std::string from = absl::StrCat(lib_root, "/containers/", src, "/upper");
  std::string to = absl::StrCat(lib_root, "/containers/", name, "/upper");
  struct stat st;
  if (::lstat(from.c_str(), &st) == 0) {
    // cp -a copies links as links, keeps modes, owners, xattrs (overlay's) and whiteouts; the
    // tree is corral's own directory, not a path inside the container.
    absl::Status copied = images::RunProgram({"cp", "-a", "--reflink=auto", from, to});
    if (!copied.ok()) return undo(std::string(copied.message()));
    uint32_t src_base = c.privileged ? 0 : c.uid_base, new_base = made->privileged ? 0 : made->uid_base;
    if (src_base != new_base) {
      absl::Status moved = RemapOwners(to, src_base, new_base);
      if (!moved.ok()) return undo(std::string(moved.message()));
    }
  }
  ::printf("cloned %s as %s%s\n", src.c_str(), name.c_str(), c.ports.empty() ? "" : " (without its port forwards)");
  return 0;
}

}  // namespace corral::tools
