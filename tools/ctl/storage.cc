#include "tools/ctl/storage.h"

#include <string>
#include <vector>

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

}  // namespace corral::tools
