// A D-Bus bad-input run against corrald (tests/system/bus_fuzz_test.sh, issue 13): sends a
// bounded number of random calls to every method of org.corral1.Manager (and Get/GetAll/Set on
// container objects, unknown methods and interfaces), some well-typed with random values (bad
// names, non-UTF-8-looking escapes, odd option keys and variant types, duplicate keys, huge
// strings, every signal number), some ill-typed (random signatures). Each call must be answered
// within 1 s, with success or a named error (org.corral1.Error.* or the bus's own
// org.freedesktop.DBus.Error.*); a refused call must change nothing: ListContainers and every
// file under the state directory (names, types, sizes, small files' contents) are compared
// before and after. Prints one line per finding and a summary; exits 1 on any finding.
//
//   bus_fuzz [--count N] [--seed S] [--lib-dir /var/lib/corral] [--keep NAME]
// NAME (default fzkeep) is an existing container the run may start, stop and exec in; it is
// recreated when a random call removes it.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr char kDest[] = "org.corral1";
constexpr char kManager[] = "/org/corral1";
constexpr char kManagerInterface[] = "org.corral1.Manager";

std::mt19937_64 rng;
uint64_t Rand(uint64_t n) { return n == 0 ? 0 : rng() % n; }
template <typename T>
const T& Pick(const std::vector<T>& v) { return v[Rand(v.size())]; }

std::string keep = "fzkeep";

// Strings a caller might send where a name, image, path or value goes (all valid UTF-8: sd-bus
// refuses to send anything else, and so does the bus).
std::vector<std::string> Strings() {
  static std::vector<std::string> pool = [] {
    std::vector<std::string> p = {"", "fz-none", "fz-none2", "a", ".", "..", "-x", "x..", "a_b", "a/b", "../etc",
                                  "café", "xé", "日本", "a b", "a\tb", "a\nb", "\x01", "%s%n%x", "\\", "'\"",
                                  "busybox", "debian", "nope", "/", "/etc", "/tmp", "/var/lib/corral",
                                  "/run/corral", "/dev/null", "/dev/mem", "/dev/kmsg", "tcp", "udp", "sctp",
                                  "none", "host", "bridge", "always", "on-failure:3", "on-failure:x", "no",
                                  "K=V", "=V", "PATH=/x", "0", "-1", "4294967296", "1G", "64M", "size=1M,mode=0777",
                                  "size=-1", "mode=9", "/x:/y", "/x:/y:ro", "rwm", "/dev/null:rwm", "/dev/null:x",
                                  "0:0", "65534", "root", "nobody:nogroup", "/sbin/init"};
    p.push_back(std::string(64, 'a'));
    p.push_back(std::string(65, 'a'));
    p.push_back(std::string(255, 'h'));
    p.push_back(std::string(10000, 'z'));
    return p;
  }();
  return pool;
}

std::string RandomName() {
  switch (Rand(4)) {
    case 0:
      return keep;
    default:
      return Pick(Strings());
  }
}

// Option keys corrald knows (CreateContainer, Exec, SetLimits) and some it does not.
const std::vector<std::string> kKeys = {"Memory", "Tasks", "CPUWeight", "CPUQuota", "Network", "Hostname", "Ports",
                                        "Command", "Environment", "Boot", "Devices", "Binds", "IdmappedBinds",
                                        "Volumes", "Tmpfs", "Privileged", "Restart", "User", "Cwd", "Tty",
                                        "PtyReceiver", "Bogus", "", "memory", "Memory "};

int AppendRandomValue(sd_bus_message* m, char type);

// A variant of a random or of the right type for the key.
int AppendVariant(sd_bus_message* m, const std::string& key) {
  static const std::map<std::string, std::string> right = {
      {"Memory", "t"}, {"Tasks", "t"}, {"CPUWeight", "t"}, {"CPUQuota", "t"}, {"Network", "s"},
      {"Hostname", "s"}, {"Ports", "a(sqq)"}, {"Command", "as"}, {"Environment", "as"}, {"Boot", "b"},
      {"Devices", "as"}, {"Binds", "a(ssb)"}, {"IdmappedBinds", "a(ssb)"}, {"Volumes", "a(ssb)"},
      {"Tmpfs", "a(ss)"}, {"Privileged", "b"}, {"Restart", "s"}, {"User", "s"}, {"Cwd", "s"}, {"Tty", "b"},
      {"PtyReceiver", "h"}};
  static const std::vector<std::string> any = {"s", "t", "u", "i", "b", "as", "a(sqq)", "a(ssb)", "a(ss)", "y", "d", "o", "v"};
  std::string type = Pick(any);
  if (auto it = right.find(key); it != right.end() && Rand(3) != 0) type = it->second;
  int r = sd_bus_message_open_container(m, 'v', type.c_str());
  if (r < 0) return r;
  if (type == "s") r = sd_bus_message_append(m, "s", Pick(Strings()).c_str());
  else if (type == "t") {
    static const std::vector<uint64_t> values = {0, 1, 4096, 4 << 20, 1ull << 30, 10000, 10001, 100000, UINT64_MAX, UINT64_MAX - 1};
    r = sd_bus_message_append(m, "t", Rand(2) ? Pick(values) : static_cast<uint64_t>(rng()));
  } else if (type == "u") r = sd_bus_message_append(m, "u", static_cast<uint32_t>(rng()));
  else if (type == "i") r = sd_bus_message_append(m, "i", static_cast<int32_t>(rng()));
  else if (type == "b") r = sd_bus_message_append(m, "b", static_cast<int>(Rand(2)));
  else if (type == "y") r = sd_bus_message_append(m, "y", static_cast<uint8_t>(rng()));
  else if (type == "d") r = sd_bus_message_append(m, "d", 1.5);
  else if (type == "o") r = sd_bus_message_append(m, "o", "/org/corral1");
  else if (type == "h") r = sd_bus_message_append(m, "h", 0);  // our stdin
  else if (type == "v") r = sd_bus_message_append(m, "v", "s", "nested");
  else if (type == "as") {
    r = sd_bus_message_open_container(m, 'a', "s");
    for (uint64_t i = 0, n = Rand(4); r >= 0 && i < n; ++i) r = sd_bus_message_append(m, "s", Pick(Strings()).c_str());
    if (r >= 0) r = sd_bus_message_close_container(m);
  } else if (type == "a(sqq)") {
    r = sd_bus_message_open_container(m, 'a', "(sqq)");
    for (uint64_t i = 0, n = Rand(3); r >= 0 && i < n; ++i) {
      r = sd_bus_message_append(m, "(sqq)", Rand(2) ? "tcp" : Pick(Strings()).c_str(),
                                static_cast<uint16_t>(Rand(3) ? 20000 + Rand(100) : rng()), static_cast<uint16_t>(rng()));
    }
    if (r >= 0) r = sd_bus_message_close_container(m);
  } else if (type == "a(ssb)") {
    r = sd_bus_message_open_container(m, 'a', "(ssb)");
    for (uint64_t i = 0, n = Rand(3); r >= 0 && i < n; ++i) {
      r = sd_bus_message_append(m, "(ssb)", Pick(Strings()).c_str(), Pick(Strings()).c_str(), static_cast<int>(Rand(2)));
    }
    if (r >= 0) r = sd_bus_message_close_container(m);
  } else if (type == "a(ss)") {
    r = sd_bus_message_open_container(m, 'a', "(ss)");
    for (uint64_t i = 0, n = Rand(3); r >= 0 && i < n; ++i) {
      r = sd_bus_message_append(m, "(ss)", Pick(Strings()).c_str(), Pick(Strings()).c_str());
    }
    if (r >= 0) r = sd_bus_message_close_container(m);
  }
  if (r < 0) return r;
  return sd_bus_message_close_container(m);
}

int AppendOptions(sd_bus_message* m) {
  int r = sd_bus_message_open_container(m, 'a', "{sv}");
  std::vector<std::string> used;
  for (uint64_t i = 0, n = Rand(5); r >= 0 && i < n; ++i) {
    // Now and then a key given twice (InvalidArgument, issue 13).
    std::string key = (!used.empty() && Rand(6) == 0) ? Pick(used) : Pick(kKeys);
    used.push_back(key);
    r = sd_bus_message_open_container(m, 'e', "sv");
    if (r >= 0) r = sd_bus_message_append(m, "s", key.c_str());
    if (r >= 0) r = AppendVariant(m, key);
    if (r >= 0) r = sd_bus_message_close_container(m);
  }
  if (r < 0) return r;
  return sd_bus_message_close_container(m);
}

int AppendRandomValue(sd_bus_message* m, char type) {
  switch (type) {
    case 's':
      return sd_bus_message_append(m, "s", RandomName().c_str());
    case 'i': {
      static const std::vector<int32_t> signals = {0, 1, 9, 15, 19, 31, 32, 34, 64, 65, -1, INT32_MIN, INT32_MAX};
      return sd_bus_message_append(m, "i", Rand(2) ? Pick(signals) : static_cast<int32_t>(rng()));
    }
    case 'u':
      return sd_bus_message_append(m, "u", static_cast<uint32_t>(Rand(2) ? Rand(3) : rng()));
    case 't':
      return sd_bus_message_append(m, "t", static_cast<uint64_t>(Rand(2) ? Rand(64ull << 20) : rng()));
    case 'b':
      return sd_bus_message_append(m, "b", static_cast<int>(Rand(2)));
    case 'h':
      return sd_bus_message_append(m, "h", Rand(2) ? 0 : 1);
    case 'y':
      return sd_bus_message_append(m, "y", static_cast<uint8_t>(rng()));
    case 'o':
      return sd_bus_message_append(m, "o", "/org/corral1/container/x");
    case 'g':
      return sd_bus_message_append(m, "g", "a{sv}");
    case 'd':
      return sd_bus_message_append(m, "d", -0.0);
    case 'A': {  // as
      int r = sd_bus_message_open_container(m, 'a', "s");
      static const std::vector<std::vector<std::string>> commands = {
          {"true"}, {"/bin/false"}, {}, {"nonexistent"}, {"sh", "-c", "exit 3"}, {""}, {"/etc/passwd"}};
      for (const std::string& word : Pick(commands)) {
        if (r >= 0) r = sd_bus_message_append(m, "s", word.c_str());
      }
      if (r < 0) return r;
      return sd_bus_message_close_container(m);
    }
    case 'O':  // a{sv}
      return AppendOptions(m);
    case 'V':
      return sd_bus_message_append(m, "v", "s", "x");
    case 'S':  // (ss)
      return sd_bus_message_append(m, "(ss)", "a", "b");
  }
  return -EINVAL;
}

struct Method {
  std::string name;
  std::string args;  // in AppendRandomValue's letters: A = as, O = a{sv}
};
const std::vector<Method> kMethods = {
    {"CreateContainer", "ssO"}, {"StartContainer", "s"}, {"StopContainer", "s"},
    {"StopContainerWithTimeout", "su"}, {"KillContainer", "si"}, {"RemoveContainer", "s"},
    {"ListContainers", ""}, {"GetContainer", "s"}, {"OpenConsole", "s"}, {"Exec", "sAOhhh"},
    {"CheckConfig", ""}, {"GetStats", "s"}, {"Top", "s"}, {"SetLimits", "sO"},
    {"CreateVolume", "st"}, {"ListVolumes", ""}, {"RemoveVolume", "s"},
};

uint64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// What must not change when a call is refused.
std::string Snapshot(sd_bus* bus, const std::string& lib_dir) {
  std::string out;
  sd_bus_message* reply = nullptr;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  if (sd_bus_call_method(bus, kDest, kManager, kManagerInterface, "ListContainers", &error, &reply, "") >= 0) {
    const char *name, *state, *path;
    uint32_t leader;
    sd_bus_message_enter_container(reply, 'a', "(ssuo)");
    while (sd_bus_message_read(reply, "(ssuo)", &name, &state, &leader, &path) > 0) {
      out += std::string(name) + " " + state + " " + std::to_string(leader) + "\n";
    }
  } else {
    out += std::string("ListContainers failed: ") + (error.name ? error.name : "?") + "\n";
  }
  sd_bus_message_unref(reply);
  sd_bus_error_free(&error);
  // Every entry under the state directory but the images' trees (no call of this run writes
  // an image) and the containers' overlay trees (their processes may write them).
  std::function<void(const std::string&, int)> walk = [&](const std::string& dir, int depth) {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return;
    std::vector<std::string> names;
    while (dirent* e = readdir(d)) {
      if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names.push_back(e->d_name);
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    for (const std::string& n : names) {
      std::string path = dir + "/" + n;
      struct stat st;
      if (lstat(path.c_str(), &st) != 0) continue;
      out += path + " " + std::to_string(st.st_mode) + " " + std::to_string(S_ISDIR(st.st_mode) ? 0 : st.st_size);
      if (S_ISREG(st.st_mode) && st.st_size < 65536) {
        int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
          char buf[65536];
          ssize_t got = read(fd, buf, sizeof(buf));
          if (got > 0) out += " " + std::to_string(std::hash<std::string_view>{}(std::string_view(buf, got)));
          close(fd);
        }
      }
      out += "\n";
      bool skip = (depth == 0 && n == "images") || (depth == 2 && (n == "upper" || n == "work" || n == "rootfs"));
      if (S_ISDIR(st.st_mode) && !skip && depth < 6) walk(path, depth + 1);
    }
  };
  walk(lib_dir, 0);
  return out;
}

// The state once what a successful call set going has finished: a KillContainer or a start is
// answered before the container's end or its supervisor's report, and a refused call after it
// must not be blamed for that. Snapshots 100 ms apart until three agree, at most 5 s.
std::string SettledSnapshot(sd_bus* bus, const std::string& lib_dir) {
  std::string last = Snapshot(bus, lib_dir);
  int same = 0;
  for (int i = 0; i < 50 && same < 2; ++i) {
    usleep(100 * 1000);
    std::string now = Snapshot(bus, lib_dir);
    same = now == last ? same + 1 : 0;
    last = std::move(now);
  }
  return last;
}

// The lines only in `a` ("- ") and only in `b` ("+ ").
std::string Diff(const std::string& a, const std::string& b) {
  auto lines = [](const std::string& text) {
    std::vector<std::string> v;
    size_t start = 0;
    for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) v.push_back(text.substr(start, nl - start));
    std::sort(v.begin(), v.end());
    return v;
  };
  std::vector<std::string> la = lines(a), lb = lines(b), only_a, only_b;
  std::set_difference(la.begin(), la.end(), lb.begin(), lb.end(), std::back_inserter(only_a));
  std::set_difference(lb.begin(), lb.end(), la.begin(), la.end(), std::back_inserter(only_b));
  std::string out;
  for (const std::string& l : only_a) out += "  - " + l + "\n";
  for (const std::string& l : only_b) out += "  + " + l + "\n";
  return out;
}

bool NamedError(const char* name) {
  return name != nullptr && (strncmp(name, "org.corral1.Error.", 18) == 0 || strncmp(name, "org.freedesktop.DBus.Error.", 27) == 0);
}

void EnsureKeep(sd_bus* bus) {
  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd_bus_message* m = nullptr;
  sd_bus_message_new_method_call(bus, &m, kDest, kManager, kManagerInterface, "CreateContainer");
  sd_bus_message_append(m, "ss", keep.c_str(), "busybox");
  sd_bus_message_append(m, "a{sv}", 2, "Command", "as", 2, "sleep", "1000", "Network", "s", "none");
  sd_bus_message* reply = nullptr;
  sd_bus_call(bus, m, 10 * 1000000, &error, &reply);  // ContainerExists is fine
  sd_bus_message_unref(m);
  sd_bus_message_unref(reply);
  sd_bus_error_free(&error);
}

// A Get, GetAll or Set of a container object's properties, some of them wrong (a bogus
// interface or property, a read-only one set) in *m, described in *what; sd-bus's result.
int NewPropertiesCall(sd_bus* bus, sd_bus_message** m, std::string* what) {
  std::string name = Rand(2) ? keep : "fz-none";
  char* path = nullptr;
  sd_bus_path_encode("/org/corral1/container", name.c_str(), &path);
  const char* member = Pick(std::vector<const char*>{"Get", "GetAll", "Set"});
  int r = sd_bus_message_new_method_call(bus, m, kDest, path, "org.freedesktop.DBus.Properties", member);
  if (r >= 0) r = sd_bus_message_append(*m, "s", Rand(4) ? "org.corral1.Container" : "org.bogus");
  if (r >= 0 && strcmp(member, "GetAll") != 0) r = sd_bus_message_append(*m, "s", Pick(std::vector<const char*>{"State", "Name", "Command", "Binds", "Bogus", ""}));
  if (r >= 0 && strcmp(member, "Set") == 0) r = sd_bus_message_append(*m, "v", "s", "running");
  *what = std::string("Properties.") + member + " on " + path;
  free(path);
  return r;
}

// One of corrald's manager methods, or an unknown member or interface (kind 2, 3), with its
// arguments or (kind 4-8, counted in *ill_typed) a mangled signature; sd-bus's result.
int NewManagerCall(sd_bus* bus, uint64_t kind, sd_bus_message** m, std::string* what, uint64_t* ill_typed) {
  const Method& method = Pick(kMethods);
  bool unknown = kind == 2;
  std::string member = unknown ? Pick(std::vector<std::string>{"Bogus", "createcontainer", "CreateContainer2", ""}) : method.name;
  if (member.empty()) member = "X";
  const char* interface = (kind == 3) ? "org.corral1.Bogus" : kManagerInterface;
  int r = sd_bus_message_new_method_call(bus, m, kDest, kManager, interface, member.c_str());
  std::string args = method.args;
  if (kind >= 4 && kind < 9) {
    // Ill-typed: a random signature, or the right one with an argument missing or added.
    ++*ill_typed;
    static const std::string letters = "siutbhyogdAOVS";
    switch (Rand(3)) {
      case 0:
        args.clear();
        for (uint64_t k = 0, n = Rand(5); k < n; ++k) args += letters[Rand(letters.size())];
        break;
      case 1:
        if (!args.empty()) args.erase(Rand(args.size()), 1);
        break;
      default:
        args.insert(Rand(args.size() + 1), 1, letters[Rand(letters.size())]);
    }
  }
  for (char type : args) {
    if (r >= 0) r = AppendRandomValue(*m, type);
  }
  *what = std::string(interface) + "." + member + "(" + args + ")";
  return r;
}

// The run's counts, for its last lines.
struct Counts {
  uint64_t calls, ill_typed, succeeded, refused, worst_ms, findings, seed;
};

void PrintSummary(const Counts& c, const std::map<std::string, uint64_t>& errors) {
  printf("bus_fuzz: %llu calls (%llu ill-typed): %llu succeeded, %llu refused with a named error; worst %llu ms; %llu findings\n",
         static_cast<unsigned long long>(c.calls), static_cast<unsigned long long>(c.ill_typed),
         static_cast<unsigned long long>(c.succeeded), static_cast<unsigned long long>(c.refused),
         static_cast<unsigned long long>(c.worst_ms), static_cast<unsigned long long>(c.findings));
  for (const auto& [name, n] : errors) printf("  %s: %llu\n", name.c_str(), static_cast<unsigned long long>(n));
  printf("  seed %llu (CORRAL_BUS_FUZZ_SEED=%llu runs the same calls again)\n", static_cast<unsigned long long>(c.seed),
         static_cast<unsigned long long>(c.seed));
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t count = 3000, seed = 1;
  std::string lib_dir = "/var/lib/corral";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--count") count = strtoull(argv[i + 1], nullptr, 10);
    else if (flag == "--seed") seed = strtoull(argv[i + 1], nullptr, 10);
    else if (flag == "--lib-dir") lib_dir = argv[i + 1];
    else if (flag == "--keep") keep = argv[i + 1];
    else {
      fprintf(stderr, "usage: bus_fuzz [--count N] [--seed S] [--lib-dir DIR] [--keep NAME]\n");
      return 2;
    }
  }
  rng.seed(seed);
  sd_bus* bus = nullptr;
  if (int r = sd_bus_open_system(&bus); r < 0) {
    fprintf(stderr, "bus_fuzz: connect to the system bus: %s\n", strerror(-r));
    return 1;
  }
  EnsureKeep(bus);
  std::string before = Snapshot(bus, lib_dir);
  uint64_t findings = 0, refused = 0, succeeded = 0, ill_typed = 0, worst_ms = 0;
  std::map<std::string, uint64_t> errors;
  for (uint64_t i = 0; i < count; ++i) {
    sd_bus_message* m = nullptr;
    std::string what;
    uint64_t kind = Rand(20);
    int r = kind < 2 ? NewPropertiesCall(bus, &m, &what) : NewManagerCall(bus, kind, &m, &what, &ill_typed);
    if (r < 0) {
      sd_bus_message_unref(m);
      continue;  // the client library refused to build it: nothing sent
    }
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message* reply = nullptr;
    uint64_t t0 = NowMs();
    r = sd_bus_call(bus, m, 5 * 1000000, &error, &reply);
    uint64_t ms = NowMs() - t0;
    if (ms > worst_ms) worst_ms = ms;
    sd_bus_message_unref(m);
    if (ms > 1000) {
      ++findings;
      printf("finding: %s took %llu ms (%s)\n", what.c_str(), static_cast<unsigned long long>(ms),
             r < 0 ? (error.name ? error.name : strerror(-r)) : "success");
    }
    if (r < 0) {
      ++refused;
      if (!NamedError(error.name)) {
        ++findings;
        printf("finding: %s answered without a named error: %s (%s)\n", what.c_str(), error.name ? error.name : "none",
               strerror(-r));
      } else {
        ++errors[error.name];
        std::string after = Snapshot(bus, lib_dir);
        if (after != before) {
          ++findings;
          printf("finding: %s was refused (%s: %s) but changed the state:\n%s", what.c_str(), error.name,
                 error.message ? error.message : "", Diff(before, after).c_str());
          before = after;
        }
      }
    } else {
      ++succeeded;
      // OpenConsole's master: closed with the reply.
      sd_bus_message_unref(reply);
      reply = nullptr;
      if (what.find("RemoveContainer") != std::string::npos) EnsureKeep(bus);
      bool async = what.find("KillContainer") != std::string::npos || what.find("StartContainer") != std::string::npos ||
                   what.find("StopContainer") != std::string::npos;
      before = async ? SettledSnapshot(bus, lib_dir) : Snapshot(bus, lib_dir);
    }
    sd_bus_message_unref(reply);
    sd_bus_error_free(&error);
  }
  PrintSummary({count, ill_typed, succeeded, refused, worst_ms, findings, seed}, errors);
  sd_bus_flush_close_unref(bus);
  return findings == 0 ? 0 : 1;
}
