#include "tools/ctl/storage.h"

#include <stdio.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "runtime/spec.h"
#include "tools/ctl/bus.h"

namespace corral::tools {

namespace {

// {sv} entry `key` holding an a(ssb) (with_flag) or a(ss) of `rows`.
struct Row {
  std::string first, second;
  bool flag = false;
};

void AppendRows(sd_bus_message* m, const char* key, bool with_flag, const std::vector<Row>& rows) {
  if (rows.empty()) return;
  sd_bus_message_open_container(m, 'e', "sv");
  sd_bus_message_append(m, "s", key);
  sd_bus_message_open_container(m, 'v', with_flag ? "a(ssb)" : "a(ss)");
  sd_bus_message_open_container(m, 'a', with_flag ? "(ssb)" : "(ss)");
  for (const Row& row : rows) {
    if (with_flag) {
      sd_bus_message_append(m, "(ssb)", row.first.c_str(), row.second.c_str(), static_cast<int>(row.flag));
    } else {
      sd_bus_message_append(m, "(ss)", row.first.c_str(), row.second.c_str());
    }
  }
  sd_bus_message_close_container(m);
  sd_bus_message_close_container(m);
  sd_bus_message_close_container(m);
}

}  // namespace

void AppendStorageOptions(sd_bus_message* m, const RunOptions& options) {
  std::vector<Row> binds, idmapped, tmpfs, volumes;
  for (const runtime::BindSpec& b : options.spec.binds) {
    (b.idmap ? idmapped : binds).push_back({b.source, b.target, b.read_only});
  }
  for (const runtime::TmpfsSpec& t : options.spec.tmpfs) {
    std::string text = runtime::FormatTmpfsSpec(t);  // "CTR:mode=...,size=..."
    tmpfs.push_back({t.target, text.substr(text.find(':') + 1)});
  }
  for (const runtime::VolumeMountSpec& v : options.volumes) volumes.push_back({v.name, v.target, v.read_only});
  AppendRows(m, "Binds", true, binds);
  AppendRows(m, "IdmappedBinds", true, idmapped);
  AppendRows(m, "Tmpfs", false, tmpfs);
  AppendRows(m, "Volumes", true, volumes);
}

namespace {

constexpr char kVolumeUsage[] = "usage: corralctl volume create NAME [--size S] | volume ls [--json] | volume rm NAME";

int VolumeFail(const std::string& message, int code = 1) {
  ::fprintf(stderr, "corralctl: %s\n", message.c_str());
  return code;
}

std::string HumanBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "K", "M", "G", "T"};
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 4) {
    v /= 1024;
    ++unit;
  }
  return unit == 0 ? absl::StrCat(bytes, "B") : absl::StrFormat("%.1f%s", v, kUnits[unit]);
}

}  // namespace

std::string FormatVolumeTable(const std::vector<VolumeRow>& rows) {
  std::string out = absl::StrFormat("%-24s %-8s %-8s %s\n", "NAME", "SIZE", "USED", "USED BY");
  for (const VolumeRow& r : rows) {
    absl::StrAppendFormat(&out, "%-24s %-8s %-8s %s\n", r.name, r.size_bytes == 0 ? "-" : HumanBytes(r.size_bytes),
                          HumanBytes(r.used_bytes), r.used_by.empty() ? "-" : absl::StrJoin(r.used_by, ","));
  }
  return out;
}

std::string FormatVolumeJson(const std::vector<VolumeRow>& rows) {
  std::vector<std::string> items;
  for (const VolumeRow& r : rows) {
    std::vector<std::string> users;
    for (const std::string& u : r.used_by) users.push_back(JsonString(u));
    items.push_back(absl::StrCat("{\"name\":", JsonString(r.name), ",\"size_bytes\":", r.size_bytes,
                                 ",\"used_bytes\":", r.used_bytes, ",\"used_by\":[", absl::StrJoin(users, ","), "]}"));
  }
  return absl::StrCat("[", absl::StrJoin(items, ","), "]\n");
}

int VolumeCommand(sd_bus* bus, const std::vector<std::string>& args) {
  if (args.empty()) return VolumeFail(kVolumeUsage, 2);
  const std::string& sub = args[0];
  if (sub == "create") {
    uint64_t size = 0;
    if (args.size() == 4 && args[2] == "--size") {
      absl::Status parsed = runtime::ParseByteSize(args[3], &size);
      if (!parsed.ok()) return VolumeFail(absl::StrCat("volume create: --size: ", parsed.message()), 2);
      if (size == 0) return VolumeFail("volume create: --size 0: give a size, or no --size for a directory", 2);
    } else if (args.size() != 2 || args[1][0] == '-') {
      return VolumeFail(kVolumeUsage, 2);
    }
    absl::StatusOr<MessagePtr> call = NewManagerCall(bus, "CreateVolume");
    if (!call.ok()) return VolumeFail(std::string(call.status().message()));
    sd_bus_message_append(call->get(), "st", args[1].c_str(), size);
    absl::StatusOr<MessagePtr> reply = CallAndWait(bus, call->get(), 120 * 1000000ULL);
    if (!reply.ok()) return VolumeFail(std::string(reply.status().message()));
    ::printf("created volume %s\n", args[1].c_str());
    return 0;
  }
  if (sub == "rm") {
    if (args.size() != 2) return VolumeFail(kVolumeUsage, 2);
    absl::StatusOr<MessagePtr> call = NewManagerCall(bus, "RemoveVolume");
    if (!call.ok()) return VolumeFail(std::string(call.status().message()));
    sd_bus_message_append(call->get(), "s", args[1].c_str());
    absl::StatusOr<MessagePtr> reply = CallAndWait(bus, call->get());
    if (!reply.ok()) return VolumeFail(std::string(reply.status().message()));
    return 0;
  }
  if (sub == "ls") {
    bool json = args.size() == 2 && args[1] == "--json";
    if (args.size() > 2 || (args.size() == 2 && !json)) return VolumeFail(kVolumeUsage, 2);
    absl::StatusOr<MessagePtr> call = NewManagerCall(bus, "ListVolumes");
    if (!call.ok()) return VolumeFail(std::string(call.status().message()));
    absl::StatusOr<MessagePtr> reply = CallAndWait(bus, call->get());
    if (!reply.ok()) return VolumeFail(std::string(reply.status().message()));
    sd_bus_message* m = reply->get();
    std::vector<VolumeRow> rows;
    int r = sd_bus_message_enter_container(m, 'a', "(sttas)");
    while (r >= 0 && (r = sd_bus_message_enter_container(m, 'r', "sttas")) > 0) {
      VolumeRow row;
      const char* name = nullptr;
      if ((r = sd_bus_message_read(m, "stt", &name, &row.size_bytes, &row.used_bytes)) < 0) break;
      row.name = name;
      char** users = nullptr;
      if ((r = sd_bus_message_read_strv(m, &users)) < 0) break;
      for (char** u = users; u && *u; ++u) {
        row.used_by.emplace_back(*u);
        free(*u);
      }
      free(users);
      rows.push_back(row);
      if ((r = sd_bus_message_exit_container(m)) < 0) break;
    }
    if (r < 0) return VolumeFail(absl::StrCat("volume ls: bad reply from corrald (", r, ")"));
    std::string text = json ? FormatVolumeJson(rows) : FormatVolumeTable(rows);
    ::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  return VolumeFail(absl::StrCat("volume: unknown subcommand \"", sub, "\" (", kVolumeUsage, ")"), 2);
}

}  // namespace corral::tools
