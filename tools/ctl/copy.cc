#include "tools/ctl/copy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/syscalls.h"
#include "runtime/layered_overlay.h"
#include "runtime/spec.h"
#include "runtime/userns.h"
#include "tools/ctl/copy_progress.h"

namespace corral::tools {

namespace {

constexpr uint32_t kRange = 65536;
constexpr uid_t kNobody = 65534;

int OpenInRoot(int root_fd, const std::string& path, int flags, mode_t mode = 0) {
  struct open_how how = {};
  how.flags = static_cast<uint64_t>(flags) | O_CLOEXEC;
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string relative = path.substr(path.find_first_not_of('/') == std::string::npos ? path.size()
                                                                                       : path.find_first_not_of('/'));
  if (relative.empty()) relative = ".";
  int fd;
  do {
    fd = sys::Openat2(root_fd, relative.c_str(), &how, sizeof(how));
  } while (fd < 0 && errno == EAGAIN);
  return fd;
}

std::string Dirname(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string Basename(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string Join(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

uid_t InsideToHost(const ContainerSide& c, uid_t id) {
  if (c.base == 0) return id;
  return c.base + (id < kRange ? id : 0);
}

uid_t HostToInside(const ContainerSide& c, uid_t id) {
  if (c.base == 0) return id;
  return id >= c.base && id - c.base < kRange ? id - c.base : kNobody;
}

absl::Status CopyData(int from, int to, const std::string& what) {
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(from, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(absl::StrCat("read ", what));
    if (n == 0) {
      if (CopyProgress* p = CopyProgress::Current()) p->Add(0, true);
      return absl::OkStatus();
    }
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(to, buf + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return ErrnoError(absl::StrCat("write ", what));
      done += w;
    }
    if (CopyProgress* p = CopyProgress::Current()) p->Add(static_cast<uint64_t>(n), false);
  }
}

// ---- host -> container ----

// New entries are made as the container's root (fsuid/fsgid = its host uid): a file system the
// container mounted itself (its /tmp, a --tmpfs) belongs to its user namespace and refuses an
// owner it cannot map (host root: EOVERFLOW). The fsuid goes back to 0 before the chown, which
// brings back the capabilities a non-zero fsuid drops.
class CreateAsContainerRoot {
 public:
  explicit CreateAsContainerRoot(uint32_t base) : base_(base) {
    if (base_ != 0) {
      ::setfsgid(base_);
      ::setfsuid(base_);
    }
  }
  ~CreateAsContainerRoot() {
    if (base_ != 0) {
      ::setfsuid(0);
      ::setfsgid(0);
    }
  }

 private:
  uint32_t base_;
};

absl::Status CopyInEntry(const std::string& host, const ContainerSide& c, const std::string& ctr) {
  struct stat st;
  if (::lstat(host.c_str(), &st) != 0) return ErrnoError(absl::StrCat("stat ", host));
  uid_t uid = InsideToHost(c, st.st_uid < kRange ? st.st_uid : 0);
  gid_t gid = InsideToHost(c, st.st_gid < kRange ? st.st_gid : 0);
  if (S_ISREG(st.st_mode)) {
    UniqueFd in(::open(host.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!in.valid()) return ErrnoError(absl::StrCat("open ", host));
    // Follows a symlink at the target only inside the container's root.
    UniqueFd out;
    {
      CreateAsContainerRoot as_root(c.base);
      out.reset(OpenInRoot(c.root_fd, ctr, O_WRONLY | O_CREAT | O_TRUNC | O_NOCTTY | O_NONBLOCK, 0600));
    }
    if (!out.valid()) return ErrnoError(absl::StrCat("create ", ctr, " in the container"));
    struct stat target;
    if (::fstat(out.get(), &target) != 0 || !S_ISREG(target.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(ctr, " in the container is not a regular file"));
    }
    RETURN_IF_ERROR(CopyData(in.get(), out.get(), absl::StrCat(host, " to ", ctr)));
    if (::fchown(out.get(), uid, gid) != 0) return ErrnoError(absl::StrCat("chown ", ctr));
    if (::fchmod(out.get(), st.st_mode & 07777) != 0) return ErrnoError(absl::StrCat("chmod ", ctr));
    return absl::OkStatus();
  }
  UniqueFd parent(OpenInRoot(c.root_fd, Dirname(ctr), O_PATH | O_DIRECTORY));
  if (!parent.valid()) return ErrnoError(absl::StrCat("open ", Dirname(ctr), " in the container"));
  std::string leaf = Basename(ctr);
  if (S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = ::readlink(host.c_str(), target, sizeof(target) - 1);
    if (n < 0) return ErrnoError(absl::StrCat("readlink ", host));
    target[n] = '\0';
    bool made;
    {
      CreateAsContainerRoot as_root(c.base);
      made = ::symlinkat(target, parent.get(), leaf.c_str()) == 0 ||
             (errno == EEXIST && ::unlinkat(parent.get(), leaf.c_str(), 0) == 0 &&
              ::symlinkat(target, parent.get(), leaf.c_str()) == 0);
    }
    if (!made) return ErrnoError(absl::StrCat("symlink ", ctr, " in the container"));
    if (::fchownat(parent.get(), leaf.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) return ErrnoError(absl::StrCat("chown ", ctr));
    return absl::OkStatus();
  }
  if (!S_ISDIR(st.st_mode)) {
    ::fprintf(stderr, "corralctl: cp: skipping %s (not a file, directory or symlink)\n", host.c_str());
    return absl::OkStatus();
  }
  int made_dir;
  {
    CreateAsContainerRoot as_root(c.base);
    made_dir = ::mkdirat(parent.get(), leaf.c_str(), 0700) == 0 || errno == EEXIST ? 0 : errno;
  }
  if (made_dir != 0) return ErrnoError(made_dir, absl::StrCat("mkdir ", ctr, " in the container"));
  UniqueFd dir(OpenInRoot(c.root_fd, ctr, O_RDONLY | O_DIRECTORY));
  if (!dir.valid()) return ErrnoError(absl::StrCat("open ", ctr, " in the container"));
  DIR* entries = ::opendir(host.c_str());
  if (entries == nullptr) return ErrnoError(absl::StrCat("opendir ", host));
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(entries)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(entries);
  for (const std::string& name : names) RETURN_IF_ERROR(CopyInEntry(Join(host, name), c, Join(ctr, name)));
  if (::fchown(dir.get(), uid, gid) != 0) return ErrnoError(absl::StrCat("chown ", ctr));
  if (::fchmod(dir.get(), st.st_mode & 07777) != 0) return ErrnoError(absl::StrCat("chmod ", ctr));
  return absl::OkStatus();
}

// ---- container -> host ----

struct OutOptions {
  bool keep_setid = false;       // commit and export keep setuid/setgid (the image's su, ...)
  bool one_file_system = false;  // skip mount points below the top (commit/export)
};

// `src` an O_PATH fd (no symlink followed) of a container entry, `name` its name in `src_dir`
// (for symlinks), written as `leaf` in host directory `host_dir`.
absl::Status CopyOutEntry(int src, int src_dir, const std::string& name, const ContainerSide& c, int host_dir,
                          const std::string& leaf, const std::string& what, const OutOptions& options = {}) {
  struct stat st;
  if (::fstat(src, &st) != 0) return ErrnoError(absl::StrCat("stat ", what));
  uid_t uid = HostToInside(c, st.st_uid);
  gid_t gid = HostToInside(c, st.st_gid);
  // A setuid program from a container must not become one of the host's.
  mode_t mode = st.st_mode & 07777 & ~static_cast<mode_t>(options.keep_setid ? 0 : S_ISUID | S_ISGID);
  if (S_ISREG(st.st_mode)) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", src);
    UniqueFd in(::open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (!in.valid()) return ErrnoError(absl::StrCat("open ", what));
    UniqueFd out(::openat(host_dir, leaf.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out.valid()) return ErrnoError(absl::StrCat("create ", leaf, " on the host"));
    RETURN_IF_ERROR(CopyData(in.get(), out.get(), what));
    if (::fchown(out.get(), uid, gid) != 0) return ErrnoError(absl::StrCat("chown ", leaf));
    if (::fchmod(out.get(), mode) != 0) return ErrnoError(absl::StrCat("chmod ", leaf));
    return absl::OkStatus();
  }
  if (S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = ::readlinkat(src_dir, name.c_str(), target, sizeof(target) - 1);
    if (n < 0) return ErrnoError(absl::StrCat("readlink ", what));
    target[n] = '\0';
    if (::symlinkat(target, host_dir, leaf.c_str()) != 0) return ErrnoError(absl::StrCat("symlink ", leaf, " on the host"));
    ::fchownat(host_dir, leaf.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW);
    return absl::OkStatus();
  }
  if (!S_ISDIR(st.st_mode)) {
    ::fprintf(stderr, "corralctl: cp: skipping %s (not a file, directory or symlink)\n", what.c_str());
    return absl::OkStatus();
  }
  if (::mkdirat(host_dir, leaf.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoError(absl::StrCat("mkdir ", leaf));
  UniqueFd out(::openat(host_dir, leaf.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!out.valid()) return ErrnoError(absl::StrCat("open ", leaf, " on the host"));
  UniqueFd in(::openat(src, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!in.valid()) return ErrnoError(absl::StrCat("open ", what));
  int listing = ::fcntl(in.get(), F_DUPFD_CLOEXEC, 0);
  DIR* entries = ::fdopendir(listing);
  if (entries == nullptr) {
    ::close(listing);
    return ErrnoError(absl::StrCat("opendir ", what));
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(entries)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(entries);
  for (const std::string& n : names) {
    // The entry itself, never what a symlink there names.
    UniqueFd child(::openat(in.get(), n.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!child.valid()) return ErrnoError(absl::StrCat("open ", what, "/", n));
    if (options.one_file_system) {
      struct statx sx = {};
      if (::statx(child.get(), "", AT_EMPTY_PATH, STATX_TYPE, &sx) == 0 && (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT)) continue;
    }
    RETURN_IF_ERROR(CopyOutEntry(child.get(), in.get(), n, c, out.get(), n, absl::StrCat(what, "/", n), options));
  }
  if (::fchown(out.get(), uid, gid) != 0) return ErrnoError(absl::StrCat("chown ", leaf));
  if (::fchmod(out.get(), mode) != 0) return ErrnoError(absl::StrCat("chmod ", leaf));
  return absl::OkStatus();
}

}  // namespace

absl::Status CopyIntoContainer(const std::string& source, const ContainerSide& c, const std::string& target) {
  struct stat st;
  if (::lstat(source.c_str(), &st) != 0) return ErrnoError(absl::StrCat("cp: ", source));
  std::string dest = target;
  UniqueFd existing(OpenInRoot(c.root_fd, target, O_PATH | O_DIRECTORY));
  if (existing.valid()) dest = Join(target == "/" ? "/" : target, Basename(source));
  if (dest.find("/../") != std::string::npos) return absl::InvalidArgumentError("cp: '..' in the container path");
  return CopyInEntry(source, c, dest);
}

absl::Status CopyOutOfContainer(const ContainerSide& c, const std::string& source, const std::string& target) {
  // The top path follows symlinks, inside the container's root only.
  UniqueFd src(OpenInRoot(c.root_fd, source, O_PATH));
  if (!src.valid()) return ErrnoError(absl::StrCat("cp: ", source, " in the container"));
  std::string host_dir = Dirname(target), leaf = Basename(target);
  struct stat st;
  if (::stat(target.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    host_dir = target;
    leaf = Basename(source);
    if (leaf == "/" || leaf.empty()) leaf = "rootfs";
  }
  UniqueFd dir(::open(host_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return ErrnoError(absl::StrCat("cp: open ", host_dir));
  UniqueFd src_parent(OpenInRoot(c.root_fd, Dirname(source), O_PATH | O_DIRECTORY));
  return CopyOutEntry(src.get(), src_parent.valid() ? src_parent.get() : c.root_fd, Basename(source), c, dir.get(), leaf,
                      source);
}

absl::Status CopyRootInto(const ContainerSide& c, const std::string& host_dir) {
  UniqueFd in(::openat(c.root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!in.valid()) return ErrnoError("open the container's root");
  UniqueFd out(::open(host_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!out.valid()) return ErrnoError(absl::StrCat("open ", host_dir));
  int listing = ::fcntl(in.get(), F_DUPFD_CLOEXEC, 0);
  DIR* entries = ::fdopendir(listing);
  if (entries == nullptr) {
    ::close(listing);
    return ErrnoError("list the container's root");
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(entries)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(entries);
  OutOptions options{/*keep_setid=*/true, /*one_file_system=*/true};
  for (const std::string& n : names) {
    UniqueFd child(::openat(in.get(), n.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!child.valid()) return ErrnoError(absl::StrCat("open /", n));
    RETURN_IF_ERROR(CopyOutEntry(child.get(), in.get(), n, c, out.get(), n, "/" + n, options));
  }
  // The top directory's mode and owner, as the image's.
  struct stat st;
  if (::fstat(in.get(), &st) == 0) {
    ::fchmod(out.get(), st.st_mode & 07777);
    ::fchown(out.get(), HostToInside(c, st.st_uid), HostToInside(c, st.st_gid));
  }
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> MountStoppedRoot(const std::string& image_rootfs, const std::string& lib_dir, uint32_t base,
                                          const std::string& scratch, const std::vector<std::string>& image_layers) {
  if (::unshare(CLONE_NEWNS) != 0) return ErrnoError("unshare a mount namespace for the copy");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return ErrnoError("make mounts private");
  std::string upper = lib_dir + "/upper", work = lib_dir + "/work", lower = image_rootfs;
  for (const std::string& dir : {upper, work}) {
    if (::mkdir(dir.c_str(), 0755) == 0 && dir == upper && base != 0 && ::chown(dir.c_str(), base, base) != 0) {
      return ErrnoError(absl::StrCat("chown ", dir));
    }
  }
  std::string merged = scratch + "/merged";
  ::mkdir(merged.c_str(), 0700);
  if (!image_layers.empty()) {  // as the supervisor mounts a layered image (runtime/layered_overlay.h)
    runtime::LayeredOverlay overlay;
    overlay.lowers = image_layers;
    overlay.upper = upper;
    overlay.work = work;
    overlay.target = merged;
    overlay.mount_attrs = MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID;
    UniqueFd ns;
    if (base != 0) {
      ASSIGN_OR_RETURN(ns, runtime::MakeUserNamespace(runtime::BlockMap(base), runtime::BlockMap(base)));
      overlay.userns_fd = ns.get();
      overlay.scratch = scratch + "/layers";
    }
    RETURN_IF_ERROR(Annotate(runtime::MountLayeredOverlay(overlay), "mount the stopped container's overlay"));
    UniqueFd root(::open(merged.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root.valid()) return ErrnoError(absl::StrCat("open ", merged));
    return root;
  }
  if (base != 0) {
    // As the supervisor mounts it: the image seen through the container's map.
    std::string idmapped = scratch + "/lower";
    ::mkdir(idmapped.c_str(), 0700);
    ASSIGN_OR_RETURN(UniqueFd ns, runtime::MakeUserNamespace(runtime::BlockMap(base), runtime::BlockMap(base)));
    ASSIGN_OR_RETURN(UniqueFd tree, runtime::OpenIdmappedTree(image_rootfs, ns.get(), /*read_only=*/true));
    RETURN_IF_ERROR(runtime::AttachTree(tree.get(), idmapped));
    lower = idmapped;
  }
  std::string options = absl::StrCat("lowerdir=", lower, ",upperdir=", upper, ",workdir=", work);
  if (::mount("overlay", merged.c_str(), "overlay", MS_NODEV | MS_NOSUID, options.c_str()) != 0) {
    return ErrnoError(absl::StrCat("mount the stopped container's overlay (", options, ")",
                                   errno == EBUSY ? ": the container is starting; try again" : ""));
  }
  UniqueFd root(::open(merged.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return ErrnoError(absl::StrCat("open ", merged));
  return root;
}

namespace {

// "NAME:PATH" with a valid name and an absolute path, else not a container side.
bool SplitContainerPath(const std::string& text, std::string* name, std::string* path) {
  size_t colon = text.find(':');
  if (colon == std::string::npos || colon + 1 >= text.size() || text[colon + 1] != '/') return false;
  if (!runtime::ValidateContainerName(text.substr(0, colon)).ok()) return false;
  *name = text.substr(0, colon);
  *path = text.substr(colon + 1);
  return true;
}

int CpFail(const std::string& message, int code = 1) {
  ::fprintf(stderr, "corralctl: cp: %s\n", message.c_str());
  return code;
}

}  // namespace

int CpCommand(const std::vector<std::string>& args, absl::StatusOr<CpTarget> (*find)(const std::string& name)) {
  constexpr char kUsage[] = "usage: corralctl cp HOSTPATH NAME:/PATH | corralctl cp NAME:/PATH HOSTPATH";
  if (args.size() != 2) return CpFail(kUsage, 2);
  std::string name, path;
  bool in = SplitContainerPath(args[1], &name, &path);
  bool out = !in && SplitContainerPath(args[0], &name, &path);
  if (!in && !out) return CpFail(absl::StrCat("one side must be NAME:/PATH (", kUsage, ")"), 2);
  std::string other;
  if (in && SplitContainerPath(args[0], &other, &other)) return CpFail("copy between two containers: go through the host", 2);
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == "..") return CpFail(absl::StrCat("\"", path, "\": '..' in the container path"), 2);
  }
  if (::geteuid() != 0) return CpFail("only root may copy into or out of containers");
  const std::string host = in ? args[0] : args[1];
  if (in) {
    struct stat st;
    if (::lstat(host.c_str(), &st) != 0) return CpFail(std::string(ErrnoError(host).message()));
  }
  absl::StatusOr<CpTarget> target = find(name);
  if (!target.ok()) return CpFail(std::string(target.status().message()));
  CopyProgress progress(absl::StrCat("copying ", in ? args[0] : args[1]));
  auto copy = [&](int root_fd) -> absl::Status {
    ContainerSide side{root_fd, target->base};
    return in ? CopyIntoContainer(host, side, path) : CopyOutOfContainer(side, path, host);
  };
  if (target->running) {
    absl::StatusOr<UniqueFd> root = OpenRunningRoot(target->leader);
    if (!root.ok()) return CpFail(std::string(root.status().message()));
    absl::Status copied = copy(root->get());
    return copied.ok() ? 0 : CpFail(std::string(copied.message()));
  }
  absl::Status copied = WithStoppedRoot(*target, [&](const ContainerSide& side) { return copy(side.root_fd); });
  return copied.ok() ? 0 : CpFail(std::string(copied.message()));
}

absl::Status WithStoppedRoot(const CpTarget& target, const std::function<absl::Status(const ContainerSide&)>& work) {
  if (target.running) return absl::FailedPreconditionError("the container is running: stop it first");
  // In a child with its own mount namespace, which takes the overlay with it.
  char scratch[] = "/run/corralctl-cp.XXXXXX";
  if (::mkdtemp(scratch) == nullptr) return ErrnoError("mkdtemp /run/corralctl-cp.*");
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return ErrnoError("pipe");
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(report[0]);
    absl::StatusOr<UniqueFd> root = MountStoppedRoot(target.image_rootfs, target.lib_dir, target.base, scratch, target.image_layers);
    absl::Status done = root.ok() ? work(ContainerSide{root->get(), target.base}) : root.status();
    std::string message(done.message());
    if (!done.ok() && ::write(report[1], message.data(), message.size()) < 0) ::_exit(3);
    ::_exit(done.ok() ? 0 : 1);
  }
  ::close(report[1]);
  std::string message;
  char buf[512];
  for (ssize_t n; (n = ::read(report[0], buf, sizeof(buf))) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    message.append(buf, static_cast<size_t>(n));
  }
  ::close(report[0]);
  int status = 0;
  while (pid > 0 && ::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::rmdir((std::string(scratch) + "/merged").c_str());
  ::rmdir((std::string(scratch) + "/lower").c_str());
  ::rmdir(scratch);
  if (pid < 0) return absl::InternalError("fork");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(message.empty() ? "the copy failed" : message);
  }
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> OpenRunningRoot(pid_t leader) {
  UniqueFd pidfd(sys::PidfdOpen(leader, 0));
  if (!pidfd.valid()) return ErrnoError(absl::StrCat("pidfd_open of the container's leader ", leader));
  UniqueFd root(::open(absl::StrCat("/proc/", leader, "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return ErrnoError(absl::StrCat("open /proc/", leader, "/root"));
  // Still the same process (the pidfd would say it exited): the root is the container's.
  if (sys::PidfdSendSignal(pidfd.get(), 0, nullptr, 0) != 0) return ErrnoError("the container's leader exited");
  return root;
}

}  // namespace corral::tools
