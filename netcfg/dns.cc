#include "netcfg/dns.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace corral::netcfg {

std::string ContainerResolvConf(absl::string_view host, const std::vector<std::string>& servers) {
  std::string out = "# written by corral from the host's resolv.conf\n";
  for (absl::string_view line : absl::StrSplit(host, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    std::vector<absl::string_view> words = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (words[0] == "nameserver") {
      if (!servers.empty() || words.size() < 2) continue;
      absl::string_view server = words[1];
      if (absl::StartsWith(server, "127.") || server == "::1" || server == "0.0.0.0") continue;
      absl::StrAppend(&out, "nameserver ", server, "\n");
    } else if (words[0] == "search" || words[0] == "domain" || words[0] == "options") {
      absl::StrAppend(&out, line, "\n");
    }
  }
  for (const std::string& server : servers) absl::StrAppend(&out, "nameserver ", server, "\n");
  return out;
}

std::string ContainerHosts(absl::string_view hostname, absl::string_view address) {
  return absl::StrCat("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n", address, "\t", hostname,
                      "\n");
}

}  // namespace corral::netcfg
