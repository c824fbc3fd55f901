// corral-oci driven as conmon drives it: create/state/start/kill/delete on a bundle of the
// fixture's busybox rootfs, checking status, pid, that a created container has not run its
// process, that its init is the caller's child, and that root.readonly, maskedPaths and
// readonlyPaths hold from inside (probes only open for writing and close, or read mountinfo).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/container_fixture.h"

namespace corral::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

constexpr char kCorralOci[] = "tools/corral-oci";

class OciTest : public ContainerTest {
 protected:
  void SetUp() override {
    ContainerTest::SetUp();
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    dir_ = temp_dir() + "/oci-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_TRUE(MakeDirectories(dir_ + "/bundle").ok());
    state_root_ = dir_ + "/state";
    // Start from `corral-oci spec` output.
    CliResult spec = Oci({"spec", "--bundle", dir_ + "/bundle"});
    ASSERT_EQ(spec.exit_status, 0) << spec.output;
    absl::StatusOr<std::string> text = ReadFile(dir_ + "/bundle/config.json");
    ASSERT_TRUE(text.ok());
    config_ = json::parse(*text);
    config_["root"]["path"] = rootfs();
    config_["process"]["terminal"] = false;
  }

  void TearDown() override {
    for (pid_t pid : children_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (!dir_.empty()) RemoveTree(dir_).IgnoreError();
    ContainerTest::TearDown();
  }

  void WriteConfig() {
    ASSERT_TRUE(WriteFileAtomically(dir_ + "/bundle/config.json", config_.dump()).ok());
  }

  // corral-oci with --root in the test dir; its stdout and stderr (and so the container's,
  // which inherits them as a shim's would) go to `out` appended, which is returned whole.
  CliResult Oci(std::vector<std::string> args, const std::string& out_name = "cli.out") {
    std::string out = dir_ + "/" + out_name;
    ::unlink(out.c_str());
    pid_t pid = ::fork();
    if (pid == 0) {
      int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      int null = ::open("/dev/null", O_RDONLY);
      ::dup2(null, 0);
      std::vector<std::string> full = {kCorralOci, "--root", state_root_};
      full.insert(full.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (std::string& a : full) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(kCorralOci, argv.data());
      ::_exit(98);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    CliResult result;
    result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.output = ReadFile(out).value_or("");
    return result;
  }

  json State(const std::string& id) {
    CliResult r = Oci({"state", id});
    EXPECT_EQ(r.exit_status, 0) << r.output;
    return json::parse(r.output, nullptr, false);
  }

  std::string ContainerOutput() { return ReadFile(dir_ + "/container.out").value_or(""); }

  // Waits up to 5 s for `needle` in the container's output.
  bool WaitForOutput(const std::string& needle) {
    for (int i = 0; i < 250; ++i) {
      if (absl::StrContains(ContainerOutput(), needle)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // create with the container's stdio on container.out; remembers the init to reap it.
  CliResult Create(const std::string& id, const std::string& out_name = "container.out") {
    ::unlink((dir_ + "/pid").c_str());
    CliResult r = Oci({"create", "--bundle", dir_ + "/bundle", "--pid-file", dir_ + "/pid", id}, out_name);
    absl::StatusOr<std::string> pid_text = ReadFile(dir_ + "/pid");
    pid_t pid;
    if (pid_text.ok() && absl::SimpleAtoi(*pid_text, &pid)) children_.push_back(pid);
    return r;
  }

  std::string dir_;
  std::string state_root_;
  json config_;
  std::vector<pid_t> children_;
};

TEST_F(OciTest, CreateStartStateKillDelete) {
  config_["process"]["args"] = {"sh", "-c", "echo RAN-THE-PROCESS; exec sleep 1000"};
  WriteConfig();
  CliResult created = Create("life");
  ASSERT_EQ(created.exit_status, 0) << created.output;
  ASSERT_EQ(children_.size(), 1u);
  pid_t pid = children_[0];

  json state = State("life");
  EXPECT_EQ(state["status"], "created");
  EXPECT_EQ(state["pid"], pid);
  EXPECT_EQ(state["id"], "life");
  EXPECT_EQ(state["bundle"], dir_ + "/bundle");
  EXPECT_EQ(state["ociVersion"], "1.2.0");
  // The init is the caller's child (as conmon needs, to reap it), and corral-oci is gone.
  absl::StatusOr<std::string> status = ReadFile(absl::StrCat("/proc/", pid, "/status"));
  ASSERT_TRUE(status.ok());
  EXPECT_THAT(*status, HasSubstr(absl::StrCat("PPid:\t", ::getpid(), "\n")));
  // Created is not started: the process has not run.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_THAT(ContainerOutput(), Not(HasSubstr("RAN-THE-PROCESS")));
  EXPECT_EQ(State("life")["status"], "created");

  CliResult again = Create("life", "second.out");
  EXPECT_NE(again.exit_status, 0);
  EXPECT_THAT(again.output, HasSubstr("already exists"));

  CliResult started = Oci({"start", "life"});
  ASSERT_EQ(started.exit_status, 0) << started.output;
  EXPECT_TRUE(WaitForOutput("RAN-THE-PROCESS")) << ContainerOutput();
  state = State("life");
  EXPECT_EQ(state["status"], "running");
  EXPECT_EQ(state["pid"], pid);

  CliResult restart = Oci({"start", "life"});
  EXPECT_NE(restart.exit_status, 0);
  CliResult busy = Oci({"delete", "life"});
  EXPECT_NE(busy.exit_status, 0);
  EXPECT_THAT(busy.output, HasSubstr("running"));

  CliResult list = Oci({"list", "--format", "json"});
  EXPECT_EQ(list.exit_status, 0);
  EXPECT_THAT(list.output, HasSubstr("\"life\""));

  CliResult killed = Oci({"kill", "life", "KILL"});
  EXPECT_EQ(killed.exit_status, 0) << killed.output;
  int wstatus = 0;
  ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
  children_.clear();
  EXPECT_TRUE(WIFSIGNALED(wstatus));
  state = State("life");
  EXPECT_EQ(state["status"], "stopped");
  EXPECT_EQ(state["pid"], 0);

  CliResult dead = Oci({"kill", "life", "TERM"});
  EXPECT_NE(dead.exit_status, 0);
  EXPECT_THAT(dead.output, HasSubstr("container not running"));

  CliResult deleted = Oci({"delete", "life"});
  EXPECT_EQ(deleted.exit_status, 0) << deleted.output;
  struct stat st;
  EXPECT_NE(::stat((state_root_ + "/life").c_str(), &st), 0);
  CliResult gone = Oci({"state", "life"});
  EXPECT_NE(gone.exit_status, 0);
  EXPECT_THAT(gone.output, HasSubstr("does not exist"));
  EXPECT_THAT(Oci({"kill", "life", "KILL"}).output, HasSubstr("does not exist"));
  EXPECT_THAT(Oci({"delete", "life"}).output, HasSubstr("does not exist"));
  EXPECT_EQ(Oci({"delete", "--force", "life"}).exit_status, 0);
}

TEST_F(OciTest, DeleteForceKillsARunningContainer) {
  config_["process"]["args"] = {"sleep", "1000"};
  WriteConfig();
  ASSERT_EQ(Create("forced").exit_status, 0);
  ASSERT_EQ(Oci({"start", "forced"}).exit_status, 0);
  pid_t pid = children_[0];
  // Reap the init as its parent would while delete waits for it to die.
  std::thread reaper([pid] { ::waitpid(pid, nullptr, 0); });
  CliResult deleted = Oci({"delete", "--force", "forced"});
  reaper.join();
  children_.clear();
  EXPECT_EQ(deleted.exit_status, 0) << deleted.output;
  EXPECT_NE(::kill(pid, 0), 0);
  EXPECT_THAT(Oci({"state", "forced"}).output, HasSubstr("does not exist"));
}

TEST_F(OciTest, ReadonlyRootMaskedAndReadonlyPathsHoldInside) {
  config_["root"]["readonly"] = true;
  // (This VM's kernel has no /proc/kcore or /proc/sysrq-trigger; absent paths are skipped.)
  config_["linux"]["maskedPaths"] = {"/proc/timer_list", "/proc/acpi", "/sys/firmware", "/proc/kcore"};
  config_["linux"]["readonlyPaths"] = {"/proc/sys", "/proc/sysrq-trigger"};
  // open_probe opens for writing and closes; nothing is written. touch on the read-only root
  // would create a file in the test's own rootfs copy only.
  config_["process"]["args"] = {
      "sh", "-c",
      "open_probe w /proc/sys/kernel/hostname /proc/sys/vm/drop_caches; "
      "echo TIMER_LIST:$(wc -c < /proc/timer_list); "
      "if touch /probe-root-rw 2>/dev/null; then echo ROOT-WRITABLE; rm -f /probe-root-rw; else echo ROOT-RO; fi; "
      "echo FIRMWARE:$(ls -A /sys/firmware | wc -l); cat /proc/self/mountinfo; echo DONE"};
  WriteConfig();
  CliResult run = Oci({"run", "--bundle", dir_ + "/bundle", "masks"}, "container.out");
  ASSERT_EQ(run.exit_status, 0) << run.output;
  std::string out = ContainerOutput();
  ASSERT_THAT(out, HasSubstr("DONE"));
  EXPECT_THAT(out, HasSubstr("/proc/sys/kernel/hostname EROFS"));
  EXPECT_THAT(out, HasSubstr("/proc/sys/vm/drop_caches EROFS"));
  EXPECT_THAT(out, HasSubstr("TIMER_LIST:0"));
  EXPECT_THAT(out, HasSubstr("ROOT-RO"));
  EXPECT_THAT(out, Not(HasSubstr("ROOT-WRITABLE")));
  EXPECT_THAT(out, HasSubstr("FIRMWARE:0"));
  // /proc/timer_list has /dev/null over it, /proc/acpi an empty tmpfs; / is mounted read-only.
  EXPECT_THAT(out, HasSubstr(" /proc/timer_list "));
  EXPECT_THAT(out, HasSubstr(" /proc/acpi "));
  bool root_ro = false;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    if (f.size() > 5 && f[4] == "/") root_ro = absl::StartsWith(f[5], "ro");
  }
  EXPECT_TRUE(root_ro) << out;
  // run leaves nothing behind.
  struct stat st;
  EXPECT_NE(::stat((state_root_ + "/masks").c_str(), &st), 0);
}

// maskedPaths and readonlyPaths of the image itself (runtime-tools' linux_masked_paths and
// linux_readonly_paths): resolved inside the root, an absent one skipped.
TEST_F(OciTest, MaskedAndReadonlyPathsOfTheImage) {
  ASSERT_TRUE(MakeDirectories(rootfs() + "/m-dir").ok());
  ASSERT_TRUE(WriteFileAtomically(rootfs() + "/m-dir/secret", "SECRET-IN-DIR").ok());
  ASSERT_TRUE(WriteFileAtomically(rootfs() + "/m-file", "SECRET-IN-FILE").ok());
  ASSERT_TRUE(MakeDirectories(rootfs() + "/ro-dir").ok());
  config_["root"]["readonly"] = false;
  config_["linux"]["maskedPaths"] = {"/m-dir", "/m-file", "/not-in-the-image"};
  config_["linux"]["readonlyPaths"] = {"/ro-dir"};
  config_["process"]["args"] = {
      "sh", "-c",
      "echo DIR:$(ls -A /m-dir | wc -l); echo FILE:$(cat /m-file | wc -c); "
      "if touch /ro-dir/probe 2>/dev/null; then echo RO-DIR-WRITABLE; else echo RO-DIR-RO; fi; "
      "if touch /probe-root 2>/dev/null; then echo ROOT-RW; fi; echo DONE"};
  WriteConfig();
  CliResult run = Oci({"run", "--bundle", dir_ + "/bundle", "imagemasks"}, "container.out");
  ASSERT_EQ(run.exit_status, 0) << run.output;
  std::string out = ContainerOutput();
  ASSERT_THAT(out, HasSubstr("DONE"));
  EXPECT_THAT(out, HasSubstr("DIR:0"));
  EXPECT_THAT(out, HasSubstr("FILE:0"));
  EXPECT_THAT(out, HasSubstr("RO-DIR-RO"));
  EXPECT_THAT(out, HasSubstr("ROOT-RW"));  // the root itself stays writable: only /ro-dir is not
  EXPECT_EQ(ReadFile(rootfs() + "/m-dir/secret").value_or(""), "SECRET-IN-DIR");
}

TEST_F(OciTest, RunReturnsTheExitStatusAndSetsProcessFields) {
  config_["hostname"] = "oci-box";
  config_["process"]["cwd"] = "/tmp";
  config_["process"]["user"] = {{"uid", 1234}, {"gid", 4321}, {"additionalGids", {77}}};
  config_["process"]["env"] = {"PATH=/bin:/sbin", "FOO=bar"};
  config_["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 123}, {"hard", 456}}};
  config_["process"]["args"] = {"sh", "-c",
                                "echo H=$(hostname) U=$(id -u) G=$(id -g) GS=$(id -G) CWD=$(pwd) FOO=$FOO "
                                "NOFILE=$(ulimit -n); grep CapEff /proc/self/status; exit 7"};
  WriteConfig();
  CliResult run = Oci({"run", "--bundle", dir_ + "/bundle", "status"}, "container.out");
  EXPECT_EQ(run.exit_status, 7) << run.output;
  std::string out = ContainerOutput();
  EXPECT_THAT(out, HasSubstr("H=oci-box U=1234 G=4321 GS=4321 77 CWD=/tmp FOO=bar NOFILE=123"));
  // A non-root process keeps only what the ambient set carries: nothing effective here.
  EXPECT_THAT(out, HasSubstr("CapEff:\t0000000000000000"));
}

// Without linux.uidMappings the container shares the caller's user namespace (as runc, and
// what podman as root asks for); with them it gets its own, root inside mapped to the block.
TEST_F(OciTest, UidMappingsGiveAUserNamespace) {
  config_["linux"]["namespaces"].push_back({{"type", "user"}});
  config_["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 300000}, {"size", 65536}}};
  config_["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 300000}, {"size", 65536}}};
  config_["process"]["args"] = {"sh", "-c", "echo MAP:$(cat /proc/self/uid_map); echo ID:$(id -u)"};
  WriteConfig();
  CliResult run = Oci({"run", "--bundle", dir_ + "/bundle", "userns"}, "container.out");
  ASSERT_EQ(run.exit_status, 0) << run.output << ContainerOutput();
  std::string out = ContainerOutput();
  EXPECT_THAT(out, ::testing::ContainsRegex("MAP: *0 +300000 +65536"));
  EXPECT_THAT(out, HasSubstr("ID:0"));

  config_ = json::parse(ReadFile(dir_ + "/bundle/config.json").value());
  config_["linux"].erase("uidMappings");
  config_["linux"].erase("gidMappings");
  json namespaces = json::array();
  for (const json& ns : config_["linux"]["namespaces"]) {
    if (ns["type"] != "user") namespaces.push_back(ns);
  }
  config_["linux"]["namespaces"] = namespaces;
  WriteConfig();
  run = Oci({"run", "--bundle", dir_ + "/bundle", "hostns"}, "container.out");
  ASSERT_EQ(run.exit_status, 0) << run.output;
  EXPECT_THAT(ContainerOutput(), ::testing::ContainsRegex("MAP: *0 +0 +4294967295"));
}

TEST_F(OciTest, BadBundlesFailWithOneClearErrorAndCreateNothing) {
  struct Case {
    std::function<void(json&)> change;
    std::string error;
  };
  std::vector<Case> cases = {
      {[](json& c) { c["root"]["path"] = "/nonexistent-rootfs"; }, "root.path: /nonexistent-rootfs is not a directory"},
      {[](json& c) { c["linux"]["namespaces"].push_back({{"type", "bogus"}}); }, "unknown namespace type"},
      {[](json& c) { c["process"]["user"]["uid"] = "root"; }, "process.user.uid: expected an integer, got \"root\""},
      {[](json& c) { c["ociVersion"] = "3.0"; }, "ociVersion"},
  };
  for (const Case& c : cases) {
    json config = config_;
    c.change(config);
    ASSERT_TRUE(WriteFileAtomically(dir_ + "/bundle/config.json", config.dump()).ok());
    CliResult r = Create("bad");
    EXPECT_NE(r.exit_status, 0);
    EXPECT_THAT(r.output, HasSubstr(c.error));
    struct stat st;
    EXPECT_NE(::stat((state_root_ + "/bad").c_str(), &st), 0) << c.error;
  }
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/bundle/config.json", "{not json").ok());
  CliResult r = Create("bad");
  EXPECT_THAT(r.output, HasSubstr("not valid JSON"));
  // A command missing from the rootfs is refused at create, before the container counts as created.
  config_["process"]["args"] = {"/no/such/command"};
  WriteConfig();
  r = Create("missing");
  EXPECT_NE(r.exit_status, 0);
  EXPECT_THAT(r.output, HasSubstr("/no/such/command"));
  EXPECT_THAT(Oci({"state", "missing"}).output, HasSubstr("does not exist"));
  // The inits a failed create killed are our children (CLONE_PARENT): reap them all.
  while (::waitpid(-1, nullptr, 0) > 0) {
  }
  children_.clear();
}

TEST_F(OciTest, SeccompProfileFromTheConfigIsEnforced) {
  // mkdir fails with EPERM (errnoRet 1), everything else is allowed; /dev/shm is the
  // container's own tmpfs, so a filter that did not hold would change nothing of the host.
  config_["linux"]["seccomp"] = {
      {"defaultAction", "SCMP_ACT_ALLOW"},
      {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
      {"syscalls", {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 1}}}}};
  config_["process"]["args"] = {"sh", "-c", "mkdir /dev/shm/blocked && echo MKDIR-OK; echo BEFORE > /dev/shm/f && echo WRITE-OK"};
  WriteConfig();
  CliResult run = Oci({"run", "--bundle", dir_ + "/bundle", "seccomp"}, "container.out");
  EXPECT_EQ(run.exit_status, 0) << run.output;
  std::string out = ContainerOutput();
  EXPECT_THAT(out, HasSubstr("Operation not permitted"));
  EXPECT_THAT(out, Not(HasSubstr("MKDIR-OK")));
  EXPECT_THAT(out, HasSubstr("WRITE-OK"));

  config_["linux"]["seccomp"]["syscalls"][0]["action"] = "SCMP_ACT_FLY";
  WriteConfig();
  CliResult bad = Oci({"run", "--bundle", dir_ + "/bundle", "seccomp2"});
  EXPECT_NE(bad.exit_status, 0);
  EXPECT_THAT(bad.output, HasSubstr("linux.seccomp.syscalls[0].action: unsupported seccomp action \"SCMP_ACT_FLY\""));
}

TEST_F(OciTest, HooksGetTheStateOnStdin) {
  std::string prestart = dir_ + "/prestart.out", poststop = dir_ + "/poststop.out";
  config_["hooks"] = {
      {"prestart", {{{"path", "/bin/sh"}, {"args", {"sh", "-c", "cat > " + prestart}}, {"timeout", 10}}}},
      {"poststop", {{{"path", "/bin/sh"}, {"args", {"sh", "-c", "cat > " + poststop}}}}}};
  config_["process"]["args"] = {"true"};
  WriteConfig();
  CliResult run = Oci({"run", "--bundle", dir_ + "/bundle", "hooked"}, "container.out");
  EXPECT_EQ(run.exit_status, 0) << run.output;
  json pre = json::parse(ReadFile(prestart).value_or(""), nullptr, false);
  ASSERT_FALSE(pre.is_discarded());
  EXPECT_EQ(pre["id"], "hooked");
  EXPECT_EQ(pre["status"], "creating");
  EXPECT_GT(pre["pid"].get<int>(), 0);
  json post = json::parse(ReadFile(poststop).value_or(""), nullptr, false);
  ASSERT_FALSE(post.is_discarded());
  EXPECT_EQ(post["status"], "stopped");

  // A hook that never reads its stdin: the state (made larger than a pipe holds) meets a closed
  // pipe, which must not kill corral-oci with SIGPIPE (runtime-tools' prestart test).
  config_["hooks"] = {{"prestart", {{{"path", "/bin/true"}}}}};
  config_["annotations"] = {{"big", std::string(256 * 1024, 'x')}};
  WriteConfig();
  CliResult unread = Oci({"run", "--bundle", dir_ + "/bundle", "unread"}, "container.out");
  EXPECT_EQ(unread.exit_status, 0) << unread.output.substr(0, 500);
  config_.erase("annotations");

  // A failing prestart hook stops the create, and nothing stays.
  config_["hooks"] = {{"prestart", {{{"path", "/bin/false"}}}}};
  WriteConfig();
  CliResult failed = Oci({"run", "--bundle", dir_ + "/bundle", "hookfail"});
  EXPECT_NE(failed.exit_status, 0);
  EXPECT_THAT(failed.output, HasSubstr("prestart hook /bin/false"));
  struct stat st;
  EXPECT_NE(::stat((state_root_ + "/hookfail").c_str(), &st), 0);
}

TEST_F(OciTest, CreateContainerAndStartContainerHooksRunInTheContainerAtTheirTime) {
  // createContainer: at create, in the container's mount namespace before pivot_root (the path
  // and what it writes are the host's); startContainer: at start, inside the container (the
  // path is the container's), before the process. Both read the state on stdin.
  std::string cc = dir_ + "/cc";
  config_["hooks"] = {
      {"createContainer",
       {{{"path", "/bin/sh"},
         {"args", {"sh", "-c", "cat > " + cc + ".state; readlink /proc/self/ns/mnt > " + cc + ".mnt"}},
         {"timeout", 10}}}},
      {"startContainer", {{{"path", "/bin/sh"}, {"args", {"sh", "-c", "echo START-HOOK $(cat | wc -c)"}}}}}};
  config_["process"]["args"] = {"sh", "-c", "echo THE-PROCESS; exec sleep 1000"};
  WriteConfig();
  CliResult created = Create("hooks2");
  ASSERT_EQ(created.exit_status, 0) << created.output;
  json state = json::parse(ReadFile(cc + ".state").value_or(""), nullptr, false);
  ASSERT_FALSE(state.is_discarded()) << ReadFile(cc + ".state").value_or("(none)");
  EXPECT_EQ(state["id"], "hooks2");
  EXPECT_GT(state["pid"].get<int>(), 0);
  char own[64] = {};
  ASSERT_GT(::readlink("/proc/self/ns/mnt", own, sizeof(own) - 1), 0);
  std::string hook_mnt = ReadFile(cc + ".mnt").value_or("");
  EXPECT_FALSE(hook_mnt.empty());
  EXPECT_THAT(hook_mnt, Not(HasSubstr(own))) << "the createContainer hook ran in the host's mount namespace";
  EXPECT_THAT(ContainerOutput(), Not(HasSubstr("START-HOOK"))) << "startContainer ran at create";
  ASSERT_EQ(Oci({"start", "hooks2"}).exit_status, 0);
  ASSERT_TRUE(WaitForOutput("THE-PROCESS")) << ContainerOutput();
  std::string out = ContainerOutput();
  ASSERT_THAT(out, HasSubstr("START-HOOK "));
  EXPECT_LT(out.find("START-HOOK"), out.find("THE-PROCESS"));
  EXPECT_THAT(out, Not(HasSubstr("START-HOOK 0"))) << "the startContainer hook read no state";
  EXPECT_EQ(Oci({"delete", "--force", "hooks2"}).exit_status, 0);

  // A failing createContainer hook fails the create, says which, and leaves nothing; one that
  // outlives its timeout is killed and fails it too.
  config_["hooks"] = {{"createContainer", {{{"path", "/bin/false"}}}}};
  WriteConfig();
  CliResult failed = Oci({"run", "--bundle", dir_ + "/bundle", "hooks3"});
  EXPECT_NE(failed.exit_status, 0);
  EXPECT_THAT(failed.output, HasSubstr("createContainer hook exited 1 `/bin/false`"));
  struct stat st;
  EXPECT_NE(::stat((state_root_ + "/hooks3").c_str(), &st), 0);
  config_["hooks"] = {{"createContainer", {{{"path", "/bin/sleep"}, {"args", {"sleep", "30"}}, {"timeout", 1}}}}};
  WriteConfig();
  CliResult slow = Oci({"run", "--bundle", dir_ + "/bundle", "hooks4"});
  EXPECT_NE(slow.exit_status, 0);
  EXPECT_THAT(slow.output, HasSubstr("createContainer hook timed out after (s) 1"));
  EXPECT_NE(::stat((state_root_ + "/hooks4").c_str(), &st), 0);
}

TEST_F(OciTest, ErrorsGoToTheJsonLog) {
  std::string log = dir_ + "/log.json";
  CliResult r = Oci({"--log", log, "--log-format", "json", "state", "nosuch"});
  EXPECT_NE(r.exit_status, 0);
  json line = json::parse(ReadFile(log).value_or(""), nullptr, false);
  ASSERT_FALSE(line.is_discarded()) << ReadFile(log).value_or("");
  EXPECT_EQ(line["level"], "error");
  EXPECT_EQ(line["msg"], "container \"nosuch\" does not exist");
  EXPECT_TRUE(line["time"].is_string());
  EXPECT_NE(Oci({"--log-format", "xml", "list"}).exit_status, 0);
}

TEST_F(OciTest, VersionAndFeatures) {
  CliResult v = Oci({"--version"});
  EXPECT_THAT(v.output, HasSubstr("corral-oci version "));
  EXPECT_THAT(v.output, HasSubstr("spec: 1."));
  CliResult f = Oci({"features"});
  json features = json::parse(f.output, nullptr, false);
  ASSERT_FALSE(features.is_discarded()) << f.output;
  EXPECT_EQ(features["ociVersionMax"], "1.2.0");
}

}  // namespace
}  // namespace corral::testing
