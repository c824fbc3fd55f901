#include "netcfg/ipv4.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace corral::netcfg {

absl::StatusOr<uint32_t> ParseIpv4(absl::string_view text) {
  std::vector<absl::string_view> octets = absl::StrSplit(text, '.');
  auto bad = [&] { return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not an IPv4 address")); };
  if (octets.size() != 4) return bad();
  uint32_t address = 0;
  for (absl::string_view octet : octets) {
    uint32_t value = 0;
    if (octet.empty() || octet.size() > 3 || octet.find_first_not_of("0123456789") != absl::string_view::npos ||
        !absl::SimpleAtoi(octet, &value) || value > 255) {
      return bad();
    }
    address = (address << 8) | value;
  }
  return address;
}

std::string FormatIpv4(uint32_t a) {
  return absl::StrCat(a >> 24, ".", (a >> 16) & 0xff, ".", (a >> 8) & 0xff, ".", a & 0xff);
}

std::string Ipv4Interface::ToString() const { return absl::StrCat(FormatIpv4(address), "/", prefix); }

std::string Ipv4Interface::SubnetString() const { return absl::StrCat(FormatIpv4(network()), "/", prefix); }

absl::StatusOr<Ipv4Interface> ParseIpv4Interface(absl::string_view text) {
  size_t slash = text.find('/');
  if (slash == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" has no prefix length (want ADDRESS/PREFIX)"));
  }
  Ipv4Interface result;
  absl::StatusOr<uint32_t> address = ParseIpv4(text.substr(0, slash));
  if (!address.ok()) return address.status();
  result.address = *address;
  absl::string_view prefix = text.substr(slash + 1);
  if (prefix.empty() || prefix.find_first_not_of("0123456789") != absl::string_view::npos ||
      !absl::SimpleAtoi(prefix, &result.prefix) || result.prefix < 1 || result.prefix > 30) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\": the prefix length must be 1 to 30, leaving room for hosts"));
  }
  if (result.address == result.network() || result.address == result.broadcast()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\": ", FormatIpv4(result.address), " is the ",
                                                   result.address == result.network() ? "network" : "broadcast",
                                                   " address of ", result.SubnetString(), ", not a host on it"));
  }
  return result;
}

}  // namespace corral::netcfg
