#include "runtime/storage_spec.h"

#include <cstdio>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "runtime/spec.h"

namespace corral::runtime {

namespace {

absl::Status Bad(absl::string_view what, absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(what, " \"", text, "\": ", why));
}

absl::StatusOr<std::string> NormalizeHostPath(absl::string_view what, absl::string_view path) {
  if (path.empty() || path[0] != '/') return Bad(what, path, "the host path must be absolute");
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (part == "..") return Bad(what, path, "the host path contains '..'");
    if (part != ".") parts.push_back(part);
  }
  if (path.find('\0') != absl::string_view::npos) return Bad(what, path, "contains a NUL byte");
  return absl::StrCat("/", absl::StrJoin(parts, "/"));
}

// The error of a part, said of the whole option text.
absl::Status Whole(absl::string_view what, absl::string_view text, const absl::Status& part) {
  return absl::InvalidArgumentError(absl::StrCat(what, " \"", text, "\": ", part.message()));
}

}  // namespace

absl::StatusOr<std::string> NormalizeMountTarget(absl::string_view what, absl::string_view path) {
  if (path.empty() || path[0] != '/') return Bad(what, path, "the container path must be absolute");
  if (path.find('\0') != absl::string_view::npos) return Bad(what, path, "contains a NUL byte");
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    // Resolution stays inside the rootfs anyway (RESOLVE_IN_ROOT); a ".." is refused so that
    // what is mounted where is plain from the text.
    if (part == "..") return Bad(what, path, "the container path contains '..'");
    if (part != ".") parts.push_back(part);
  }
  if (parts.empty()) return Bad(what, path, "cannot mount over the container's root");
  if (parts[0] == "proc" || parts[0] == "sys") {
    return Bad(what, path, "/proc and /sys are the kernel's interfaces, masked by corral: mount elsewhere");
  }
  std::string joined = absl::StrCat("/", absl::StrJoin(parts, "/"));
  if (joined.size() > 240) return Bad(what, path, "the container path is too long (at most 240 bytes)");
  return joined;
}

absl::StatusOr<BindSpec> ParseBindSpec(absl::string_view text) {
  std::vector<absl::string_view> fields = absl::StrSplit(text, ':');
  if (fields.size() < 2 || fields.size() > 3) {
    return Bad("--bind", text, "expected HOST:CTR[:ro|rw][,idmap] (paths may not contain ':')");
  }
  BindSpec bind;
  absl::StatusOr<std::string> source = NormalizeHostPath("source", fields[0]);
  if (!source.ok()) return Whole("--bind", text, source.status());
  absl::StatusOr<std::string> target = NormalizeMountTarget("target", fields[1]);
  if (!target.ok()) return Whole("--bind", text, target.status());
  bind.source = *source;
  bind.target = *target;
  if (fields.size() == 3) {
    bool mode_given = false;
    for (absl::string_view option : absl::StrSplit(fields[2], ',')) {
      if (option == "ro" || option == "rw") {
        if (mode_given) return Bad("--bind", text, "give ro or rw once");
        mode_given = true;
        bind.read_only = option == "ro";
      } else if (option == "idmap") {
        bind.idmap = true;
      } else {
        return Bad("--bind", text, absl::StrCat("unknown option \"", option, "\" (ro, rw, idmap)"));
      }
    }
  }
  return bind;
}

std::string FormatBindSpec(const BindSpec& bind) {
  return absl::StrCat(bind.source, ":", bind.target, bind.read_only ? ":ro" : ":rw", bind.idmap ? ",idmap" : "");
}

absl::StatusOr<TmpfsSpec> ParseTmpfsSpec(absl::string_view text) {
  size_t colon = text.find(':');
  TmpfsSpec tmpfs;
  absl::StatusOr<std::string> target = NormalizeMountTarget("target", text.substr(0, colon));
  if (!target.ok()) return Whole("--tmpfs", text, target.status());
  tmpfs.target = *target;
  if (colon == absl::string_view::npos) return tmpfs;
  absl::string_view options = text.substr(colon + 1);
  for (absl::string_view option : absl::StrSplit(options, ',')) {
    if (absl::ConsumePrefix(&option, "size=")) {
      absl::Status parsed = ParseByteSize(option, &tmpfs.size_bytes);
      if (!parsed.ok()) return Bad("--tmpfs", text, parsed.message());
      if (tmpfs.size_bytes < 4096) return Bad("--tmpfs", text, "size must be at least 4k");
    } else if (absl::ConsumePrefix(&option, "mode=")) {
      uint32_t mode = 0;
      if (option.empty() || option.size() > 4) return Bad("--tmpfs", text, "mode must be octal, at most 7777");
      for (char c : option) {
        if (c < '0' || c > '7') return Bad("--tmpfs", text, "mode must be octal, at most 7777");
        mode = mode * 8 + static_cast<uint32_t>(c - '0');
      }
      tmpfs.mode = mode;
    } else {
      return Bad("--tmpfs", text, absl::StrCat("unknown option \"", option, "\" (size=S, mode=OCTAL)"));
    }
  }
  return tmpfs;
}

std::string FormatTmpfsSpec(const TmpfsSpec& tmpfs) {
  return absl::StrCat(tmpfs.target, ":", TmpfsMountData(tmpfs));
}

std::string TmpfsMountData(const TmpfsSpec& tmpfs) {
  char mode[8];
  snprintf(mode, sizeof(mode), "%04o", tmpfs.mode);
  std::string out = absl::StrCat("mode=", mode);
  if (tmpfs.size_bytes != 0) absl::StrAppend(&out, ",size=", tmpfs.size_bytes);
  return out;
}

absl::Status ValidateVolumeName(absl::string_view name) {
  bool ok = !name.empty() && name.size() <= 64 && absl::ascii_isalnum(static_cast<unsigned char>(name[0]));
  for (char c : name) ok &= absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("volume name \"", name, "\" is not a name: use [A-Za-z0-9][A-Za-z0-9_.-]{0,63}"));
  }
  return absl::OkStatus();
}

absl::StatusOr<VolumeMountSpec> ParseVolumeMountSpec(absl::string_view text) {
  std::vector<absl::string_view> fields = absl::StrSplit(text, ':');
  if (fields.size() < 2 || fields.size() > 3) return Bad("--volume", text, "expected NAME:CTR[:ro|rw]");
  VolumeMountSpec volume;
  if (absl::Status name = ValidateVolumeName(fields[0]); !name.ok()) return Whole("--volume", text, name);
  volume.name = std::string(fields[0]);
  absl::StatusOr<std::string> target = NormalizeMountTarget("target", fields[1]);
  if (!target.ok()) return Whole("--volume", text, target.status());
  volume.target = *target;
  if (fields.size() == 3) {
    if (fields[2] != "ro" && fields[2] != "rw") return Bad("--volume", text, "the option must be ro or rw");
    volume.read_only = fields[2] == "ro";
  }
  return volume;
}

std::string FormatVolumeMountSpec(const VolumeMountSpec& volume) {
  return absl::StrCat(volume.name, ":", volume.target, volume.read_only ? ":ro" : ":rw");
}

absl::Status CheckDistinctTargets(const std::vector<std::string>& targets) {
  std::set<std::string> seen;
  for (const std::string& target : targets) {
    if (!seen.insert(target).second) {
      return absl::InvalidArgumentError(absl::StrCat("two mounts on ", target, ": give each container path once"));
    }
  }
  return absl::OkStatus();
}

}  // namespace corral::runtime
