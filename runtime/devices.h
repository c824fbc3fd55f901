// The device allow-list of a container: one table for the nodes its /dev gets and for what the
// kernel lets it open (the scope's DevicePolicy=closed + DeviceAllow=), plus `--device` specs.
#ifndef CORRAL_RUNTIME_DEVICES_H_
#define CORRAL_RUNTIME_DEVICES_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace corral::runtime {

// One device a container may use. `path` is both the host's node (bound into the container)
// and the node's place in the container's /dev.
struct DeviceSpec {
  std::string path;       // "/dev/fuse"
  char type = 'c';        // 'c' (character) or 'b' (block)
  uint32_t major = 0;
  uint32_t minor = 0;
  std::string access = "rwm";  // a non-empty subset of "rwm", in that order

  bool operator==(const DeviceSpec&) const = default;
};

// One entry of the kernel-enforced allow-list.
struct DeviceRule {
  char type = 'c';
  int64_t major = -1;  // -1: any
  int64_t minor = -1;  // -1: any
  std::string access;  // subset of "rwm"
  // systemd's name for it in DeviceAllow=: a /dev path, or "char-pts" for a whole major.
  std::string systemd_name;
};

// The nodes every container's /dev holds, as the OCI runtime spec lists them: null, zero, full,
// random, urandom, tty (rwm). /dev/ptmx and /dev/pts/* come from the container's own devpts and
// /dev/console from its console pty; they are on the allow-list (DeviceAllowList) but not here.
const std::vector<DeviceSpec>& DefaultDevices();

// The allow-list for a container with `extra` (--device) nodes: DefaultDevices(), /dev/console
// (5:1), /dev/ptmx (5:2), every pts (136:* rw, "char-pts"), then `extra` with their access.
std::vector<DeviceRule> DeviceAllowList(const std::vector<DeviceSpec>& extra);

// DeviceAllowList as systemd's DeviceAllow= pairs (name, access), for a scope with
// DevicePolicy=closed.
std::vector<std::pair<std::string, std::string>> SystemdDeviceAllow(const std::vector<DeviceSpec>& extra);

// "/dev/X[:ACCESS]": checks the text (a path under /dev/ without "..", access letters r, w, m
// each at most once) and that the host has a character device there (a block device is
// refused: it would hand over a raw disk); the node's type and numbers come from the host. Errors say which part is wrong; nothing is created.
absl::StatusOr<DeviceSpec> ParseDeviceSpec(absl::string_view text);

// The text only, without looking at the host (for a stored config, whose device may be
// absent until the container starts): path and access set, type and numbers left zero.
absl::StatusOr<DeviceSpec> ParseDeviceSpecText(absl::string_view text);

// "/dev/fuse:rwm": what ParseDeviceSpec reads back.
std::string FormatDeviceSpec(const DeviceSpec& device);

// Checks a spec's device list: paths, access, type, no duplicates, no default node again.
absl::Status ValidateDevices(const std::vector<DeviceSpec>& devices);

}  // namespace corral::runtime

#endif  // CORRAL_RUNTIME_DEVICES_H_
