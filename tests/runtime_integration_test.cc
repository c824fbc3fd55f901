// Privileged integration tests of the runtime: real clone, mounts, pivot_root, seccomp and
// setns, each checked from inside the container. They skip when not root.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "gmock/gmock.h"
#include "runtime/attach.h"
#include "runtime/capabilities.h"
#include "runtime/child_error.h"
#include "runtime/console.h"
#include "runtime/start_step.h"
#include "tests/container_fixture.h"

namespace corral::testing {
namespace {

using ::testing::HasSubstr;

constexpr const char* kNamespaces[] = {"pid", "mnt", "uts", "ipc", "net", "cgroup"};

std::string Readlink(const std::string& path) {
  char buf[128] = {};
  ssize_t n = ::readlink(path.c_str(), buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

TEST_F(ContainerTest, CommandRunsAsPid1WithItsHostname) {
  RunResult r = Sh("echo pid=$$; hostname");
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(r.output, "pid=1\nit-host\n");
}

TEST_F(ContainerTest, EveryNamespaceDiffersFromTheHost) {
  std::string script;
  for (const char* ns : kNamespaces) absl::StrAppend(&script, "readlink /proc/self/ns/", ns, "; ");
  RunResult r = Sh(script);
  ASSERT_EQ(r.exit_status, 0) << r.output;
  std::vector<std::string> inside = absl::StrSplit(r.output, '\n', absl::SkipEmpty());
  ASSERT_EQ(inside.size(), std::size(kNamespaces)) << r.output;
  for (size_t i = 0; i < inside.size(); ++i) {
    std::string host = Readlink(absl::StrCat("/proc/self/ns/", kNamespaces[i]));
    EXPECT_TRUE(absl::StartsWith(inside[i], absl::StrCat(kNamespaces[i], ":["))) << inside[i];
    EXPECT_NE(inside[i], host) << kNamespaces[i] << " namespace is shared with the host";
  }
}

TEST_F(ContainerTest, RootIsTheBusyboxTreeAndNothingOfTheHost) {
  // A file only the host has, made for this test.
  std::string marker = absl::StrCat("/tmp/corral-host-marker-", ::getpid());
  ASSERT_TRUE(WriteFileAtomically(marker, "host").ok());
  RunResult r = Sh(absl::StrCat("ls /; test -e ", marker, " && echo LEAK; test -e /work && echo LEAK; "
                                "test -e /usr/lib/os-release && echo LEAK; readlink /bin/sh"));
  ::unlink(marker.c_str());
  EXPECT_EQ(r.exit_status, 0);
  std::set<std::string> entries;
  for (absl::string_view e : absl::StrSplit(r.output, '\n', absl::SkipEmpty())) entries.emplace(e);
  for (const char* expected : {"bin", "sbin", "etc", "usr", "proc", "sys", "dev", "tmp", "run", "/bin/busybox"}) {
    EXPECT_TRUE(entries.count(expected)) << expected << " missing from " << r.output;
  }
  EXPECT_FALSE(entries.count("LEAK")) << r.output;
}

TEST_F(ContainerTest, CapabilitiesNoNewPrivsAndSeccompAreApplied) {
  RunResult r = Sh("grep -E '^(CapBnd|CapEff|NoNewPrivs|Seccomp):' /proc/self/status");
  ASSERT_EQ(r.exit_status, 0) << r.output;
  std::map<std::string, std::string> fields;
  for (absl::string_view line : absl::StrSplit(r.output, '\n', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits(':', 1));
    fields[kv.first] = std::string(absl::StripAsciiWhitespace(kv.second));
  }
  uint64_t expected = 0;
  for (int cap : runtime::DefaultCapabilities()) expected |= uint64_t{1} << cap;
  EXPECT_EQ(runtime::ParseCapabilityMask(fields["CapBnd"]), expected) << fields["CapBnd"];
  EXPECT_EQ(runtime::ParseCapabilityMask(fields["CapEff"]), expected) << fields["CapEff"];
  EXPECT_EQ(fields["NoNewPrivs"], "1");
  EXPECT_EQ(fields["Seccomp"], "2");
}

TEST_F(ContainerTest, DeniedSyscallsFailWithEperm) {
  RunResult r = Sh("/bin/syscall_probe");
  ASSERT_EQ(r.exit_status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("keyctl EPERM\n"));
  EXPECT_THAT(r.output, HasSubstr("bpf EPERM\n"));
  EXPECT_THAT(r.output, HasSubstr("perf_event_open EPERM\n"));
  EXPECT_THAT(r.output, HasSubstr("open_by_handle_at EPERM\n"));
  EXPECT_THAT(r.output, HasSubstr("getpid ok\n"));
}

TEST_F(ContainerTest, WithoutSeccompTheSameSyscallIsNotEperm) {
  runtime::ContainerSpec spec = BusyboxSpec({"/bin/syscall_probe"});
  spec.seccomp = false;
  auto r = Run(spec);
  ASSERT_TRUE(r.ok()) << r.status();
  // Without the filter, keyctl reaches the kernel: the probe's call is valid, so it succeeds.
  EXPECT_THAT(r->output, HasSubstr("keyctl ok\n"));
}

TEST_F(ContainerTest, SensitiveProcPathsAreMaskedOrReadOnly) {
  // /proc/kcore is absent on some kernels; the masked paths that exist must read empty.
  std::string probes;
  for (const char* path : {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"}) {
    if (::access(path, F_OK) == 0) absl::StrAppend(&probes, "echo ", path, " $(wc -c < ", path, "); ");
  }
  ASSERT_FALSE(probes.empty()) << "no maskable /proc path on this kernel";
  // Nothing here ever writes a kernel file: open_probe opens for writing and closes, and the
  // mount table says the rest. A regression fails the test; it cannot change the host.
  RunResult r = Sh(probes + "/bin/open_probe w /proc/sys/kernel/domainname /proc/sysrq-trigger /proc/sys/kernel/core_pattern; "
                            "cat /proc/self/mountinfo");
  ASSERT_EQ(r.exit_status, 0) << r.output;
  std::map<std::string, std::string> mount_options;  // mount point -> per-mount options
  for (absl::string_view line : absl::StrSplit(r.output, '\n', absl::SkipEmpty())) {
    // "/proc/kcore 0" from wc: a masked path reads empty.
    std::vector<absl::string_view> words = absl::StrSplit(line, ' ');
    int bytes = 0;
    if (words.size() == 2 && absl::StartsWith(line, "/proc/") && absl::SimpleAtoi(words[1], &bytes)) {
      EXPECT_EQ(bytes, 0) << line;
    }
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
    if (fields.size() > 6 && absl::StartsWith(fields[4], "/")) mount_options[std::string(fields[4])] = std::string(fields[5]);
  }
  EXPECT_THAT(r.output, HasSubstr("/proc/sys/kernel/domainname EROFS\n"));
  // Not every kernel has sysrq (CONFIG_MAGIC_SYSRQ); where it does, it is read-only inside.
  EXPECT_THAT(r.output, HasSubstr(::access("/proc/sysrq-trigger", F_OK) == 0 ? "/proc/sysrq-trigger EROFS\n"
                                                                             : "/proc/sysrq-trigger ENOENT\n"));
  EXPECT_THAT(r.output, HasSubstr("/proc/sys/kernel/core_pattern EROFS\n"));
  for (const char* ro : {"/proc/sys", "/proc/sysrq-trigger", "/proc/bus", "/proc/fs", "/proc/irq", "/sys"}) {
    if (::access(ro, F_OK) != 0) continue;
    ASSERT_TRUE(mount_options.count(ro)) << ro << " is not a mount of its own:\n" << r.output;
    EXPECT_TRUE(absl::StartsWith(mount_options[ro], "ro,")) << ro << " " << mount_options[ro];
  }
  EXPECT_TRUE(mount_options.count("/sys/firmware")) << "/sys/firmware is not masked";
}

TEST_F(ContainerTest, SymlinkInRootfsCannotRedirectAMountOutside) {
  // The image links /evil to the host's /etc, absolutely and through "..": both must resolve
  // inside the rootfs, so the tmpfs lands on ROOTFS/etc and the host's /etc is untouched.
  std::string evil = rootfs() + "/evil";
  std::string evil2 = rootfs() + "/evil2";
  ASSERT_EQ(::symlink("/etc", evil.c_str()), 0);
  ASSERT_EQ(::symlink("../../../../../../../etc", evil2.c_str()), 0);
  runtime::ContainerSpec spec = BusyboxSpec({"/bin/sh", "-c", "ls /etc | wc -l; grep -c ' /etc ' /proc/self/mountinfo"});
  spec.mounts.push_back(runtime::MountSpec::Filesystem("tmpfs", "/evil", "size=1m"));
  spec.mounts.push_back(runtime::MountSpec::Filesystem("tmpfs", "/evil2", "size=1m"));
  auto r = Run(spec);
  ::unlink(evil.c_str());
  ::unlink(evil2.c_str());
  ASSERT_TRUE(r.ok()) << r.status();
  // Inside, /etc is now the (empty) tmpfs: the mounts hit the container's own /etc.
  EXPECT_EQ(r->output, "0\n2\n");
  for (const std::string& mount : CurrentMounts()) EXPECT_NE(mount, "/etc");
  struct stat st;
  EXPECT_EQ(::stat("/etc/passwd", &st), 0);
}

TEST_F(ContainerTest, DotDotInMountTargetIsRejected) {
  runtime::ContainerSpec spec = BusyboxSpec({"/bin/true"});
  spec.mounts.push_back(runtime::MountSpec::Filesystem("tmpfs", "/tmp/../../etc"));
  auto r = Run(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("spec.mounts"));
}

TEST_F(ContainerTest, ExitStatusesComeThrough) {
  EXPECT_EQ(Sh("exit 0").exit_status, 0);
  EXPECT_EQ(Sh("exit 7").exit_status, 7);
  // Killed from outside: 128 + SIGKILL.
  auto container = runtime::Container::Start(BusyboxSpec({"/bin/sleep", "100"}));
  ASSERT_TRUE(container.ok()) << container.status();
  ASSERT_TRUE(container->Signal(SIGKILL).ok());
  auto status = container->Wait();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(*status, 137);
}

TEST_F(ContainerTest, MissingCommandIsAnExecFailureNamingIt) {
  auto r = Run(BusyboxSpec({"no-such-command", "arg"}));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(runtime::IsExecFailure(r.status()));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("no-such-command"));
}

TEST_F(ContainerTest, BadSpecsAreRejectedBeforeAnythingStarts) {
  runtime::ContainerSpec missing = BusyboxSpec({"/bin/true"});
  missing.rootfs = "/nonexistent/rootfs";
  EXPECT_THAT(std::string(Run(missing).status().message()), HasSubstr("spec.rootfs"));
  runtime::ContainerSpec file = BusyboxSpec({"/bin/true"});
  file.rootfs = rootfs() + "/bin/busybox";
  EXPECT_THAT(std::string(Run(file).status().message()), HasSubstr("not a directory"));
  runtime::ContainerSpec host = BusyboxSpec({"/bin/true"});
  host.hostname = "bad_host!";
  EXPECT_THAT(std::string(Run(host).status().message()), HasSubstr("spec.hostname"));
}

TEST_F(ContainerTest, TinyInitReapsAndReturnsTheCommandStatus) {
  runtime::ContainerSpec spec = BusyboxSpec({"/bin/sh", "-c", "sleep 0 & sleep 0 & wait; echo pid=$$; exit 3"});
  spec.init = runtime::InitMode::kTinyInit;
  auto r = Run(spec);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_status, 3);
  EXPECT_EQ(r->output, "pid=2\n");  // init is PID 1, the command its first child
}

TEST_F(ContainerTest, TinyInitForwardsSignals) {
  runtime::ContainerSpec spec = BusyboxSpec({"/bin/sleep", "100"});
  spec.init = runtime::InitMode::kTinyInit;
  auto container = runtime::Container::Start(spec);
  ASSERT_TRUE(container.ok()) << container.status();
  // A plain PID 1 would ignore SIGTERM without a handler; under init, sleep gets it and dies.
  ::usleep(50 * 1000);
  ASSERT_TRUE(container->Signal(SIGTERM).ok());
  auto status = container->Wait();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(*status, 128 + SIGTERM);
}

TEST_F(ContainerTest, TtyContainerSeesAPty) {
  runtime::ContainerSpec spec = BusyboxSpec({"/bin/sh", "-c", "tty; test -t 0 && test -t 1 && echo TTY-OK"});
  spec.tty = true;
  auto container = runtime::Container::Start(spec);
  ASSERT_TRUE(container.ok()) << container.status();
  ASSERT_GE(container->console_master(), 0);
  std::string out;
  char buf[1024];
  for (;;) {
    ssize_t n = ::read(container->console_master(), buf, sizeof(buf));
    if (n <= 0) break;  // EIO once the container has closed the slave
    out.append(buf, static_cast<size_t>(n));
  }
  auto status = container->Wait();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(*status, 0);
  EXPECT_THAT(out, HasSubstr("/dev/console"));
  EXPECT_THAT(out, HasSubstr("TTY-OK"));
}

TEST_F(ContainerTest, AttachJoinsTheSameNamespaces) {
  auto container = runtime::Container::Start(BusyboxSpec({"/bin/sleep", "100"}));
  ASSERT_TRUE(container.ok()) << container.status();
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  runtime::AttachSpec spec;
  std::string script = "echo pid=$$; cat /proc/1/comm; hostname; ";
  for (const char* ns : kNamespaces) absl::StrAppend(&script, "readlink /proc/self/ns/", ns, "; ");
  spec.command = {"/bin/sh", "-c", script};
  spec.stdout_fd = fds[1];
  auto process = runtime::Attach(container->pidfd(), spec);
  ::close(fds[1]);
  ASSERT_TRUE(process.ok()) << process.status();
  std::string out = ReadAll(fds[0]);
  ::close(fds[0]);
  auto status = runtime::WaitAttached(*process);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(*status, 0);
  std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3 + std::size(kNamespaces)) << out;
  int pid_inside = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripPrefix(lines[0], "pid="), &pid_inside));
  EXPECT_GT(pid_inside, 1);
  EXPECT_NE(pid_inside, process->pid);  // a PID of the container's namespace, not ours
  EXPECT_EQ(lines[1], "sleep");
  EXPECT_EQ(lines[2], "it-host");
  for (size_t i = 0; i < std::size(kNamespaces); ++i) {
    EXPECT_EQ(lines[3 + i], Readlink(absl::StrCat("/proc/", container->pid(), "/ns/", kNamespaces[i])));
  }
  ASSERT_TRUE(container->Signal(SIGKILL).ok());
  ASSERT_TRUE(container->Wait().ok());
}

TEST_F(ContainerTest, AttachPropagatesExitStatusAndMissingCommand) {
  auto container = runtime::Container::Start(BusyboxSpec({"/bin/sleep", "100"}));
  ASSERT_TRUE(container.ok()) << container.status();
  runtime::AttachSpec spec;
  spec.command = {"/bin/sh", "-c", "exit 9"};
  auto process = runtime::Attach(container->pidfd(), spec);
  ASSERT_TRUE(process.ok()) << process.status();
  EXPECT_EQ(*runtime::WaitAttached(*process), 9);
  spec.command = {"no-such-tool"};
  auto missing = runtime::Attach(container->pidfd(), spec);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(runtime::IsExecFailure(missing.status()));
  ASSERT_TRUE(container->Signal(SIGKILL).ok());
  ASSERT_TRUE(container->Wait().ok());
}

TEST_F(ContainerTest, UserNamespaceMapsRootToAnUnprivilegedRange) {
  runtime::ContainerSpec spec = BusyboxSpec({"/bin/sh", "-c", "cat /proc/self/uid_map; id -u; ls /dev/null"});
  spec.namespaces |= CLONE_NEWUSER;
  spec.uid_map = {{0, 200000, 65536}};
  spec.gid_map = {{0, 200000, 65536}};
  auto r = Run(spec);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_status, 0) << r->output;
  EXPECT_THAT(r->output, HasSubstr("200000"));
  EXPECT_THAT(r->output, HasSubstr("\n0\n/dev/null\n"));
}

TEST_F(ContainerTest, HostNetworkModeSharesTheNetworkNamespaceOnly) {
  runtime::ContainerSpec spec = BusyboxSpec({"/bin/sh", "-c", "readlink /proc/self/ns/net; readlink /proc/self/ns/mnt"});
  spec.namespaces &= ~static_cast<uint64_t>(CLONE_NEWNET);
  auto r = Run(spec);
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<std::string> lines = absl::StrSplit(r->output, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], Readlink("/proc/self/ns/net"));
  EXPECT_NE(lines[1], Readlink("/proc/self/ns/mnt"));
}

// A start step whose InParent is `in_parent`, counting its Undo calls.
class FunctionStep : public runtime::StartStep {
 public:
  explicit FunctionStep(std::function<absl::Status(const runtime::StartedChild&)> in_parent)
      : in_parent_(std::move(in_parent)) {}
  absl::Status InParent(const runtime::StartedChild& child) override { return in_parent_(child); }
  absl::Status Undo() override {
    ++undone;
    return absl::OkStatus();
  }
  runtime::Phase InParentPhase() const override { return runtime::Phase::kNetworkAttach; }
  int undone = 0;

 private:
  std::function<absl::Status(const runtime::StartedChild&)> in_parent_;
};

TEST_F(ContainerTest, StartStepsRunInTheParentBeforeTheChildProceeds) {
  pid_t seen = 0;
  std::string self_exe = Readlink("/proc/self/exe");
  std::vector<std::string> during;  // what the child was while the step ran
  FunctionStep step([&](const runtime::StartedChild& child) {
    seen = child.pid;
    // The child must be held until the step returns: still this binary (no execve yet) with
    // the host's root (no pivot_root yet), also after a pause long enough for it to have
    // set up and exec'd had it not been waiting for us.
    for (int i = 0; i < 2; ++i) {
      during.push_back(absl::StrCat("exe=", Readlink(absl::StrCat("/proc/", child.pid, "/exe")) == self_exe ? "parent's" : "other",
                                    " root=", Readlink(absl::StrCat("/proc/", child.pid, "/root"))));
      if (i == 0) ::usleep(300 * 1000);
    }
    return absl::OkStatus();
  });
  runtime::StartSteps steps;
  steps.Add(&step);
  runtime::ContainerSpec spec = BusyboxSpec({"/bin/true"});
  ASSERT_TRUE(steps.Prepare(spec).ok());
  runtime::PhaseTimer timer;
  runtime::StartOptions options;
  options.steps = &steps;
  options.timer = &timer;
  auto container = runtime::Container::Start(spec, options);
  ASSERT_TRUE(container.ok()) << container.status();
  EXPECT_EQ(seen, container->pid());
  EXPECT_EQ(during, (std::vector<std::string>{"exe=parent's root=/", "exe=parent's root=/"}))
      << "the child proceeded before the parent's step returned";
  // The step's phase is marked after the clone and before the child's setup and exec.
  std::vector<runtime::Phase> phases;
  for (const auto& [phase, ns] : timer.phases()) phases.push_back(phase);
  auto clone = std::find(phases.begin(), phases.end(), runtime::Phase::kClone);
  auto attach = std::find(phases.begin(), phases.end(), runtime::Phase::kNetworkAttach);
  auto exec = std::find(phases.begin(), phases.end(), runtime::Phase::kSetupAndExec);
  ASSERT_TRUE(clone != phases.end() && attach != phases.end() && exec != phases.end());
  EXPECT_TRUE(clone < attach && attach < exec);
  // After Start, the child has exec'd the command.
  EXPECT_NE(Readlink(absl::StrCat("/proc/", container->pid(), "/exe")), self_exe);
  EXPECT_EQ(*container->Wait(), 0);
  EXPECT_EQ(step.undone, 0);  // the caller's to undo, once the container has ended
  ASSERT_TRUE(steps.Undo().ok());
  EXPECT_EQ(step.undone, 1);

  // A failing step aborts the start and leaves nothing running.
  FunctionStep failing([](const runtime::StartedChild&) { return absl::UnavailableError("no scope"); });
  runtime::StartSteps failing_steps;
  failing_steps.Add(&failing);
  runtime::ContainerSpec failing_spec = BusyboxSpec({"/bin/true"});
  ASSERT_TRUE(failing_steps.Prepare(failing_spec).ok());
  options.steps = &failing_steps;
  auto failed = runtime::Container::Start(failing_spec, options);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().message(), "no scope");
}

}  // namespace
}  // namespace corral::testing
