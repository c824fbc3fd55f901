#include "dbus/container_object.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/utf8.h"
#include "dbus/caller.h"
#include "dbus/interface.h"
#include "runtime/idmap.h"

namespace corral::dbus {
namespace {

int GetProperty(sd_bus* bus, const char*, const char*, const char* property, sd_bus_message* reply,
                         void* userdata, sd_bus_error*) {
  const auto* record = static_cast<const ContainerRecord*>(userdata);
  const ContainerConfig& c = record->config;
  std::string p = property;
  if (p == "Name") return sd_bus_message_append(reply, "s", c.name.c_str());
  if (p == "State") return sd_bus_message_append(reply, "s", std::string(ContainerStateName(record->state)).c_str());
  if (p == "Leader") return sd_bus_message_append(reply, "u", static_cast<uint32_t>(record->leader));
  if (p == "Unit") return sd_bus_message_append(reply, "s", record->unit().c_str());
  if (p == "Problem") return sd_bus_message_append(reply, "s", ValidUtf8(record->problem).c_str());
  if (p == "Image") return sd_bus_message_append(reply, "s", c.image.c_str());
  if (p == "Hostname") return sd_bus_message_append(reply, "s", c.EffectiveHostname().c_str());
  if (p == "ExitStatus") return sd_bus_message_append(reply, "i", record->exit_status);
  if (p == "Network") return sd_bus_message_append(reply, "s", std::string(NetworkModeName(c.network)).c_str());
  if (p == "Memory") return sd_bus_message_append(reply, "t", c.memory_bytes);
  if (p == "Tasks") return sd_bus_message_append(reply, "t", c.tasks);
  if (p == "CPUWeight") return sd_bus_message_append(reply, "t", c.cpu_weight);
  if (p == "CPUQuota") return sd_bus_message_append(reply, "t", c.cpu_quota_percent);
  if (p == "Restart") return sd_bus_message_append(reply, "s", c.restart.c_str());
  if (p == "Boot") return sd_bus_message_append(reply, "b", static_cast<int>(c.boot));
  if (p == "Privileged") return sd_bus_message_append(reply, "b", static_cast<int>(c.privileged));
  if (p == "UIDRange") {
    return sd_bus_message_append(reply, "(uu)", c.uid_base, c.uid_base == 0 ? 0u : runtime::kIdBlockSize);
  }
  if (p == "Ready") return sd_bus_message_append(reply, "b", static_cast<int>(record->ready));
  if (p == "OOMKilled") return sd_bus_message_append(reply, "b", static_cast<int>(record->oom_kills > 0));
  if (p == "OOMKills") return sd_bus_message_append(reply, "t", record->oom_kills);
  if (p == "StartedAt") return sd_bus_message_append(reply, "t", static_cast<uint64_t>(record->started_at_usec));
  if (p == "FinishedAt") return sd_bus_message_append(reply, "t", static_cast<uint64_t>(record->finished_at_usec));
  if (p == "RestartCount") return sd_bus_message_append(reply, "u", record->restart_count);
  // Command is root's (MayReadPrivateProperties): others read an empty list, not an error, so
  // GetAll, and with it `corralctl ls` and `info`, keeps working for every user.
  static const std::vector<std::string> kWithheld;
  const std::vector<std::string>* strings = p == "Addresses" ? &record->addresses : nullptr;
  if (p == "Command") strings = MayReadPrivateProperties(bus, reply) ? &c.command : &kWithheld;
  if (p == "Devices") strings = &c.devices;
  if (p == "Binds") strings = MayReadPrivateProperties(bus, reply) ? &c.binds : &kWithheld;  // host paths: root's
  if (p == "Tmpfs") strings = &c.tmpfs;
  if (p == "Volumes") strings = &c.volumes;
  if (p == "UnenforcedLimits") strings = &record->unenforced_limits;
  if (strings != nullptr) {
    int r = sd_bus_message_open_container(reply, 'a', "s");
    for (const std::string& s : *strings) {
      if (r >= 0) r = sd_bus_message_append(reply, "s", s.c_str());
    }
    return r < 0 ? r : sd_bus_message_close_container(reply);
  }
  if (p == "StartPhases") {
    int r = sd_bus_message_open_container(reply, 'a', "(st)");
    for (const auto& [phase, us] : record->start_phases) {
      if (r >= 0) r = sd_bus_message_append(reply, "(st)", phase.c_str(), us);
    }
    return r < 0 ? r : sd_bus_message_close_container(reply);
  }
  if (p == "Ports") {
    int r = sd_bus_message_open_container(reply, 'a', "(sqq)");
    for (const netcfg::PortForward& f : c.ports) {
      if (r >= 0) {
        r = sd_bus_message_append(reply, "(sqq)", f.protocol == netcfg::Protocol::kUdp ? "udp" : "tcp", f.host_port,
                                  f.container_port);
      }
    }
    return r < 0 ? r : sd_bus_message_close_container(reply);
  }
  return -ENOENT;
}

}  // namespace

const sd_bus_vtable kContainerVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Name", "s", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("State", "s", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Leader", "u", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Unit", "s", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Image", "s", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Hostname", "s", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Addresses", "as", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("ExitStatus", "i", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Ready", "b", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("OOMKilled", "b", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("OOMKills", "t", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("StartedAt", "t", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("FinishedAt", "t", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("RestartCount", "u", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Network", "s", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Ports", "a(sqq)", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Memory", "t", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Tasks", "t", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("CPUWeight", "t", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("CPUQuota", "t", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    // Its limits this host's cgroups have no controller for ("Memory: no memory controller").
    SD_BUS_PROPERTY("UnenforcedLimits", "as", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Restart", "s", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Boot", "b", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Privileged", "b", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("UIDRange", "(uu)", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Command", "as", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Devices", "as", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Binds", "as", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Tmpfs", "as", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Volumes", "as", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    // Where the last start's time went: (phase, microseconds) in order, e.g. "scope",
    // "overlay rootfs", "network attach", "clone", "machined registration".
    SD_BUS_PROPERTY("StartPhases", "a(st)", GetProperty, 0, 0),
    // Why a "broken" container's config did not load (empty otherwise).
    SD_BUS_PROPERTY("Problem", "s", GetProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_VTABLE_END,
};

std::string ContainerPath(const std::string& name) {
  char* path = nullptr;
  if (sd_bus_path_encode(kContainerPathPrefix, name.c_str(), &path) < 0) return kContainerPathPrefix;
  std::string result = path;
  free(path);
  return result;
}

int FindContainer(sd_bus*, const char* path, const char*, void* userdata, void** found, sd_bus_error*) {
  auto* registry = static_cast<Registry*>(userdata);
  char* name = nullptr;
  if (sd_bus_path_decode(path, kContainerPathPrefix, &name) <= 0) return 0;
  ContainerRecord* record = registry->Find(name);
  free(name);
  if (record == nullptr) return 0;
  *found = record;
  return 1;
}

int EnumerateContainers(sd_bus*, const char*, void* userdata, char*** nodes, sd_bus_error*) {
  auto* registry = static_cast<Registry*>(userdata);
  std::vector<ContainerRecord*> records = registry->List();
  char** list = static_cast<char**>(calloc(records.size() + 1, sizeof(char*)));
  if (list == nullptr) return -ENOMEM;
  for (size_t i = 0; i < records.size(); ++i) list[i] = strdup(ContainerPath(records[i]->config.name).c_str());
  *nodes = list;
  return 0;
}

void EmitContainerChanged(sd_bus* bus, const ContainerRecord& record, std::vector<const char*> properties) {
  properties.push_back(nullptr);
  sd_bus_emit_properties_changed_strv(bus, ContainerPath(record.config.name).c_str(), kContainerInterface,
                                      const_cast<char**>(properties.data()));
}

}  // namespace corral::dbus
