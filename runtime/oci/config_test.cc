#include "runtime/oci/config.h"

#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include <string>

#include "gtest/gtest.h"

namespace corral::runtime::oci {
namespace {

// A minimal valid config with `linux` extras spliced in.
std::string Config(const std::string& process_extra = "", const std::string& linux_extra = "",
                   const std::string& top_extra = "") {
  return R"({"ociVersion": "1.0.2-dev", "root": {"path": "rootfs", "readonly": true},
    "process": {"args": ["/bin/sh", "-c", "true"], "cwd": "/", "env": ["PATH=/bin"],
                "user": {"uid": 1000, "gid": 100, "additionalGids": [5, 6], "umask": 18})" +
         process_extra + R"(},
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
               {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
               {"destination": "/data", "source": "data", "options": ["rbind", "ro", "nosuid", "rprivate"]}],
    "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "network", "path": "/run/netns/x"}, {"type": "uts"}])" +
         linux_extra + "}" + top_extra + "}";
}

absl::StatusOr<oci::Config> Parse(const std::string& text) { return ParseConfig(text, "/b"); }

void ExpectError(const std::string& text, const std::string& needle) {
  absl::StatusOr<oci::Config> config = Parse(text);
  ASSERT_FALSE(config.ok()) << "parsed: " << text;
  EXPECT_NE(std::string(config.status().message()).find(needle), std::string::npos) << config.status();
}

TEST(OciConfigTest, ParsesTheCommonFields) {
  absl::StatusOr<oci::Config> config = Parse(Config(
      R"(, "terminal": true, "noNewPrivileges": true, "oomScoreAdj": 100,
         "capabilities": {"bounding": ["CAP_CHOWN", "CAP_KILL"], "effective": ["CAP_KILL"]},
         "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048}])",
      R"(, "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "network", "path": "/run/netns/x"}, {"type": "uts"}, {"type": "user"}],
         "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
         "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
         "resources": {"memory": {"limit": 67108864}, "pids": {"limit": 64}, "cpu": {"shares": 512}},
         "cgroupsPath": "/corral-test/c1", "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"],
         "sysctl": {"net.ipv4.ip_forward": "1"})",
      R"(, "hostname": "box", "annotations": {"a": "b"},
         "hooks": {"prestart": [{"path": "/bin/true", "args": ["true"], "timeout": 5}]})"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->root_path, "/b/rootfs");
  EXPECT_TRUE(config->root_readonly);
  EXPECT_EQ(config->process.args.size(), 3u);
  EXPECT_EQ(config->process.uid, 1000u);
  EXPECT_EQ(config->process.gid, 100u);
  EXPECT_EQ(config->process.additional_gids, (std::vector<gid_t>{5, 6}));
  EXPECT_EQ(config->process.umask, 18u);
  EXPECT_TRUE(config->process.terminal);
  EXPECT_TRUE(config->process.no_new_privileges);
  EXPECT_EQ(config->process.oom_score_adj, 100);
  ASSERT_TRUE(config->process.capabilities.has_value());
  EXPECT_EQ(config->process.capabilities->bounding, (1ull << 0) | (1ull << 5));
  EXPECT_EQ(config->process.capabilities->effective, 1ull << 5);
  ASSERT_EQ(config->process.rlimits.size(), 1u);
  EXPECT_EQ(config->process.rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(config->process.rlimits[0].hard, 2048u);
  ASSERT_EQ(config->mounts.size(), 3u);
  EXPECT_EQ(config->mounts[1].flags, static_cast<unsigned long>(MS_NOSUID | MS_STRICTATIME));
  EXPECT_EQ(config->mounts[1].data, "mode=755,size=65536k");
  EXPECT_TRUE(config->mounts[2].is_bind());
  EXPECT_EQ(config->mounts[2].source, "/b/data");
  EXPECT_EQ(config->mounts[2].flags, static_cast<unsigned long>(MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID));
  EXPECT_EQ(config->mounts[2].propagation, static_cast<unsigned long>(MS_PRIVATE | MS_REC));
  EXPECT_EQ(config->NewNamespaces(), static_cast<uint64_t>(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWUSER));
  ASSERT_NE(config->FindNamespace(CLONE_NEWNET), nullptr);
  EXPECT_EQ(config->FindNamespace(CLONE_NEWNET)->path, "/run/netns/x");
  EXPECT_EQ(config->resources.memory_limit, 67108864);
  EXPECT_EQ(config->resources.pids_limit, 64);
  EXPECT_EQ(config->resources.cpu_shares, 512u);
  EXPECT_EQ(config->cgroups_path, "/corral-test/c1");
  EXPECT_EQ(config->hostname, "box");
  EXPECT_EQ(config->annotations.at("a"), "b");
  ASSERT_EQ(config->hooks.prestart.size(), 1u);
  EXPECT_EQ(config->hooks.prestart[0].timeout, 5);
}

TEST(OciConfigTest, NotJson) { ExpectError("{\"ociVersion\": ", "not valid JSON"); }

TEST(OciConfigTest, BadVersion) {
  ExpectError(R"({"ociVersion": "2.0.0"})", "ociVersion: \"2.0.0\"");
  ExpectError(R"({"ociVersion": "1.10.0"})", "ociVersion");
}

TEST(OciConfigTest, MissingRootAndProcess) {
  ExpectError(R"({"ociVersion": "1.0.0", "process": {"args": ["x"]}})", "root: missing");
  ExpectError(R"({"ociVersion": "1.0.0", "root": {"path": "r"}})", "process: missing");
}

TEST(OciConfigTest, BadProcessFields) {
  ExpectError(R"({"ociVersion": "1.0.0", "root": {"path": "r"}, "process": {"args": []}})", "process.args");
  ExpectError(R"({"ociVersion": "1.0.0", "root": {"path": "r"}, "process": {"args": ["x"], "cwd": "rel"}})",
              "process.cwd: must be an absolute path, got \"rel\"");
  ExpectError(R"({"ociVersion": "1.0.0", "root": {"path": "r"}, "process": {"args": ["x"], "user": {"uid": -1}}})",
              "process.user.uid");
  ExpectError(R"({"ociVersion": "1.0.0", "root": {"path": "r"}, "process": {"args": ["x"], "user": {"uid": "root"}}})",
              "process.user.uid: expected an integer, got \"root\"");
  ExpectError(Config(R"(, "capabilities": {"bounding": ["CAP_FLY"]})"),
              "process.capabilities.bounding[0]: unknown capability, got \"CAP_FLY\"");
  ExpectError(Config(R"(, "rlimits": [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}])"),
              "process.rlimits[0].type: unknown rlimit");
  ExpectError(Config(R"(, "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 1}])"),
              "process.rlimits[0].soft: is above hard");
  ExpectError(Config(R"(, "oomScoreAdj": 5000)"), "process.oomScoreAdj");
  ExpectError(Config(R"(, "env": ["NOEQUALS"])"), "process.env[0]: expected KEY=VALUE");
}

TEST(OciConfigTest, BadNamespaces) {
  std::string base = R"({"ociVersion": "1.0.0", "root": {"path": "r"}, "process": {"args": ["x"]}, "linux": {"namespaces": )";
  ExpectError(base + R"([{"type": "mount"}, {"type": "pidd"}]}})",
              "linux.namespaces[1].type: unknown namespace type (pid, network, mount, ipc, uts, user, cgroup, time), got \"pidd\"");
  ExpectError(base + R"([{"type": "mount"}, {"type": "mount"}]}})", "linux.namespaces[1].type: given twice");
  ExpectError(base + R"([{"type": "pid"}]}})", "a mount namespace is required");
  ExpectError(base + R"([{"type": "mount"}, {"type": "user"}]}})", "needs uidMappings");
  ExpectError(base + R"([{"type": "mount"}, {"type": "net", "path": "x"}]}})", "linux.namespaces[1].type");
  ExpectError(base + R"([{"type": "mount"}, {"type": "network", "path": "rel"}]}})",
              "linux.namespaces[1].path: must be an absolute path");
}

TEST(OciConfigTest, BadMounts) {
  std::string base = R"({"ociVersion": "1.0.0", "root": {"path": "r"}, "process": {"args": ["x"]},
      "linux": {"namespaces": [{"type": "mount"}]}, "mounts": )";
  ExpectError(base + R"([{"destination": "rel", "type": "tmpfs"}]})", "mounts[0].destination: must be an absolute path");
  ExpectError(base + R"([{"destination": "/a/../../etc", "type": "tmpfs"}]})", "mounts[0].destination: must not contain");
  ExpectError(base + R"([{"destination": "/a", "options": ["bind"]}]})", "mounts[0].source: a bind mount needs a source");
  ExpectError(base + R"([{"destination": "/a", "source": "x"}]})", "mounts[0].type: missing");
  ExpectError(base + R"([{"destination": "/a", "type": "tmpfs", "options": "ro"}]})",
              "mounts[0].options: expected an array of strings, got \"ro\"");
}

TEST(OciConfigTest, BadLinuxFields) {
  ExpectError(Config("", R"(, "uidMappings": [{"containerID": 0, "hostID": 1, "size": 0}])"),
              "linux.uidMappings[0].size: must be at least 1");
  ExpectError(Config("", R"(, "uidMappings": [{"containerID": 0, "hostID": 1, "size": 5}], "gidMappings": [{"containerID": 0, "hostID": 1, "size": 5}])"),
              "id mappings without a user namespace");
  ExpectError(Config("", R"(, "sysctl": {"kernel.panic": "1"})"), "linux.sysctl.kernel.panic: not a namespaced sysctl");
  ExpectError(Config("", R"(, "sysctl": {"kernel.shmmax": "1"})"), "needs a ipc namespace");
  ExpectError(Config("", R"(, "resources": {"memory": {"limit": "1G"}})"),
              "linux.resources.memory.limit: expected an integer, got \"1G\"");
  ExpectError(Config("", R"(, "resources": {"cpu": {"shares": 1}})"), "linux.resources.cpu.shares");
  ExpectError(Config("", R"(, "maskedPaths": ["/etc/../x"])"), "linux.maskedPaths[0]: must be an absolute path without");
  ExpectError(Config("", R"(, "readonlyPaths": ["/"])"), "linux.readonlyPaths[0]: cannot be the root itself");
  ExpectError(Config("", R"(, "cgroupsPath": "/a/../../b")"), "linux.cgroupsPath");
  ExpectError(Config("", R"(, "devices": [{"path": "/etc/x", "type": "c", "major": 1, "minor": 3}])"),
              "linux.devices[0].path: must be a path under /dev/");
  ExpectError(Config("", R"(, "seccomp": {"syscalls": []})"), "linux.seccomp.defaultAction: missing");
  ExpectError(Config("", R"(, "rootfsPropagation": "sideways")"), "linux.rootfsPropagation: unknown propagation");
  ExpectError(Config("", "", R"(, "hostname": "bad_host!")"), "hostname:");
  ExpectError(Config("", "", R"(, "hooks": {"prestart": [{"path": "rel"}]})"), "hooks.prestart[0].path");
}

// docker writes zeros for limits nobody asked for: runc reads them as not set, and so do we
// (a memory limit of 0 written to memory.max would kill the container at once).
TEST(OciConfigTest, ZeroLimitsAreNotSet) {
  absl::StatusOr<Resources> res = ParseResources(
      R"({"memory": {"limit": 0, "reservation": 0, "swap": 0}, "cpu": {"shares": 0, "quota": 0, "period": 0},
          "pids": {"limit": 0}})");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_FALSE(res->memory_limit.has_value());
  EXPECT_FALSE(res->cpu_shares.has_value());
  EXPECT_FALSE(res->cpu_quota.has_value());
  EXPECT_FALSE(res->cpu_period.has_value());
  EXPECT_FALSE(res->pids_limit.has_value());
  EXPECT_TRUE(res->empty());
}

TEST(OciConfigTest, HostnameNeedsUts) {
  ExpectError(R"({"ociVersion": "1.0.0", "root": {"path": "r"}, "process": {"args": ["x"]}, "hostname": "h",
      "linux": {"namespaces": [{"type": "mount"}]}})",
              "hostname: needs a uts namespace");
}

TEST(OciConfigTest, DefaultSpecParses) {
  absl::StatusOr<oci::Config> config = ParseConfig(DefaultConfigJson(), "/b");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->process.args[0], "sh");
  EXPECT_NE(config->FindNamespace(CLONE_NEWIPC), nullptr);
}

TEST(OciConfigTest, Signals) {
  EXPECT_EQ(ParseSignal("KILL"), SIGKILL);
  EXPECT_EQ(ParseSignal("SIGTERM"), SIGTERM);
  EXPECT_EQ(ParseSignal("9"), 9);
  EXPECT_EQ(ParseSignal("sigusr1"), SIGUSR1);
  EXPECT_EQ(ParseSignal("RTMIN+2"), SIGRTMIN + 2);
  EXPECT_EQ(ParseSignal("BOGUS"), -1);
  EXPECT_EQ(ParseSignal("0"), -1);
  EXPECT_EQ(CapabilityNumber("CAP_SYS_ADMIN"), 21);
  EXPECT_EQ(CapabilityNumber("net_raw"), 13);
  EXPECT_EQ(CapabilityNumber("CAP_45"), -1);
}

TEST(OciConfigTest, ProcessAlone) {
  absl::StatusOr<Process> p = ParseProcess(R"({"args": ["ls"], "cwd": "/tmp", "user": {"uid": 5}})");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->uid, 5u);
  EXPECT_FALSE(ParseProcess(R"({"args": "ls"})").ok());
}

}  // namespace
}  // namespace corral::runtime::oci
