#include "runtime/volume_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <linux/loop.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "runtime/storage_spec.h"

namespace corral::runtime {

namespace {

constexpr char kMetaFile[] = "volume";
constexpr char kDataDir[] = "data";
constexpr char kImageFile[] = "disk.ext4";
constexpr uint64_t kMinSize = uint64_t{8} << 20;
constexpr int kLoopMajor = 7;

int64_t NowUsec() {
  timespec now;
  ::clock_gettime(CLOCK_REALTIME, &now);
  return int64_t{now.tv_sec} * 1000000 + now.tv_nsec / 1000;
}

uint64_t g_used = 0;
int AddBlocks(const char*, const struct stat* st, int, struct FTW*) {
  g_used += static_cast<uint64_t>(st->st_blocks) * 512;
  return 0;
}

// Runs `argv` (absolute program path), its output captured; an error quotes it.
absl::Status RunProgram(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoError("pipe");
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return ErrnoError("fork");
  }
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string out;
  char buf[1024];
  for (;;) {
    ssize_t n = ::read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (out.size() < 4096) out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(argv[0], " failed (status ", status, "): ", absl::StripAsciiWhitespace(out)));
  }
  return absl::OkStatus();
}

std::string FindProgram(const char* name) {
  for (const char* dir : {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"}) {
    std::string path = absl::StrCat(dir, name);
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

// The loop device's node; a sandbox's own /dev (a tmpfs, no devtmpfs) may lack it.
absl::Status EnsureLoopNode(const std::string& path, int number) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISBLK(st.st_mode) && major(st.st_rdev) == kLoopMajor && minor(st.st_rdev) == static_cast<unsigned>(number)) {
      return absl::OkStatus();
    }
    return absl::FailedPreconditionError(absl::StrCat(path, " is not loop device ", number));
  }
  if (::mknod(path.c_str(), S_IFBLK | 0600, makedev(kLoopMajor, number)) != 0 && errno != EEXIST) {
    return ErrnoError(absl::StrCat("mknod ", path));
  }
  return absl::OkStatus();
}

bool SameBacking(int loop_fd, const struct stat& image) {
  struct loop_info64 info = {};
  if (::ioctl(loop_fd, LOOP_GET_STATUS64, &info) != 0) return false;
  return info.lo_inode == image.st_ino && info.lo_device == image.st_dev;
}

struct Loop {
  UniqueFd fd;
  std::string path;
};

// The image's loop device: the one it is attached to already (another container uses the
// volume: the same block device, so the same ext4 superblock), else a free one configured
// with LO_FLAGS_AUTOCLEAR (detached by the kernel when its file system's last mount goes).
absl::StatusOr<Loop> AttachLoop(const std::string& image) {
  UniqueFd file(::open(image.c_str(), O_RDWR | O_CLOEXEC));
  if (!file.valid()) return ErrnoError(absl::StrCat("open the volume image ", image));
  struct stat st;
  if (::fstat(file.get(), &st) != 0) return ErrnoError(absl::StrCat("fstat ", image));
  if (std::string existing = FindLoopDeviceOf(image); !existing.empty()) {
    Loop loop{UniqueFd(::open(existing.c_str(), O_RDWR | O_CLOEXEC)), existing};
    // Opened, it cannot be cleared under us; checked, it is still this image's.
    if (loop.fd.valid() && SameBacking(loop.fd.get(), st)) return loop;
  }
  UniqueFd control(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (!control.valid()) return ErrnoError("open /dev/loop-control (a sized volume needs loop devices)");
  for (int attempt = 0; attempt < 16; ++attempt) {
    int number = ::ioctl(control.get(), LOOP_CTL_GET_FREE);
    if (number < 0) return ErrnoError("LOOP_CTL_GET_FREE");
    Loop loop;
    loop.path = absl::StrCat("/dev/loop", number);
    RETURN_IF_ERROR(EnsureLoopNode(loop.path, number));
    loop.fd.reset(::open(loop.path.c_str(), O_RDWR | O_CLOEXEC));
    if (!loop.fd.valid()) return ErrnoError(absl::StrCat("open ", loop.path));
    struct loop_config config = {};
    config.fd = static_cast<uint32_t>(file.get());
    config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
    ::strncpy(reinterpret_cast<char*>(config.info.lo_file_name), image.c_str(), LO_NAME_SIZE - 1);
    if (::ioctl(loop.fd.get(), LOOP_CONFIGURE, &config) == 0) return loop;
    if (errno != EBUSY) return ErrnoError(absl::StrCat("LOOP_CONFIGURE ", loop.path, " with ", image));
    // Taken by someone else between GET_FREE and CONFIGURE: ask again.
  }
  return absl::UnavailableError("no free loop device after 16 attempts");
}

}  // namespace

std::string DefaultVolumesDir() {
  const char* dir = ::getenv("CORRAL_VOLUMES_DIR");
  return dir != nullptr && *dir != '\0' ? dir : "/var/lib/corral/volumes";
}

std::string FindLoopDeviceOf(const std::string& image) {
  DIR* dir = ::opendir("/sys/block");
  if (dir == nullptr) return "";
  std::string found;
  while (struct dirent* entry = ::readdir(dir)) {
    absl::string_view name = entry->d_name;
    if (!absl::StartsWith(name, "loop")) continue;
    absl::StatusOr<std::string> backing = ReadFile(absl::StrCat("/sys/block/", name, "/loop/backing_file"));
    if (backing.ok() && absl::StripTrailingAsciiWhitespace(*backing) == image) {
      found = absl::StrCat("/dev/", name);
      break;
    }
  }
  ::closedir(dir);
  return found;
}

absl::StatusOr<VolumeInfo> VolumeStore::Create(const std::string& name, uint64_t size_bytes) {
  RETURN_IF_ERROR(ValidateVolumeName(name));
  if (size_bytes != 0 && size_bytes < kMinSize) {
    return absl::InvalidArgumentError(absl::StrCat("volume ", name, ": --size ", size_bytes, " is below the 8M minimum"));
  }
  std::string mkfs;
  if (size_bytes != 0) {
    // The image is sparse, but mkfs writes its metadata and the container its data into the
    // store's file system: a size it cannot hold is refused before anything is made (a random
    // 2^60 once had mkfs run in corrald's loop until the watchdog killed it; issue 13's D-Bus
    // bad-input test).
    std::string where = root_;
    struct statvfs fs {};
    while (::statvfs(where.c_str(), &fs) != 0 && where.size() > 1) {
      size_t slash = where.find_last_of('/');
      where = slash == 0 || slash == std::string::npos ? "/" : where.substr(0, slash);
    }
    uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
    if (size_bytes > free_bytes || size_bytes > static_cast<uint64_t>(INT64_MAX)) {
      return absl::InvalidArgumentError(absl::StrCat("volume ", name, ": --size ", size_bytes, " is more than the ",
                                                     free_bytes, " bytes free on ", where));
    }
    mkfs = FindProgram("mkfs.ext4");
    if (mkfs.empty()) return absl::FailedPreconditionError("a sized volume needs mkfs.ext4 (e2fsprogs)");
  }
  // Only root may walk the store: the data keeps the ids containers see, host root's among them.
  RETURN_IF_ERROR(MakeDirectories(root_, 0700));
  std::string dir = DirOf(name);
  struct stat st;
  if (::lstat(dir.c_str(), &st) == 0) return absl::AlreadyExistsError(absl::StrCat("volume ", name, " exists"));
  // Made aside and renamed in: a failure leaves nothing, and a volume is there whole or not at all.
  std::string staging = absl::StrCat(root_, "/.", name, ".new-", ::getpid());
  RemoveTree(staging).IgnoreError();
  RETURN_IF_ERROR(MakeDirectories(staging, 0700));
  auto fail = [&](absl::Status status) {
    RemoveTree(staging).IgnoreError();
    return status;
  };
  if (size_bytes == 0) {
    if (::mkdir((staging + "/" + kDataDir).c_str(), 0755) != 0) return fail(ErrnoError("mkdir the volume's data"));
  } else {
    std::string image = staging + "/" + kImageFile;
    UniqueFd fd(::open(image.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd.valid()) return fail(ErrnoError(absl::StrCat("create ", image)));
    if (::ftruncate(fd.get(), static_cast<off_t>(size_bytes)) != 0) return fail(ErrnoError(absl::StrCat("truncate ", image)));
    fd.reset();
    // No reserved blocks (the volume is the container's whole), root's top directory.
    absl::Status made = RunProgram({mkfs, "-q", "-F", "-m", "0", "-E", "root_owner=0:0", image});
    if (!made.ok()) return fail(Annotate(made, absl::StrCat("make the ext4 file system of volume ", name)));
  }
  VolumeInfo info;
  info.name = name;
  info.size_bytes = size_bytes;
  info.created_usec = NowUsec();
  absl::Status meta = WriteFileAtomically(staging + "/" + kMetaFile,
                                          absl::StrCat("size=", size_bytes, "\ncreated_usec=", info.created_usec, "\n"), 0600);
  if (!meta.ok()) return fail(meta);
  if (::rename(staging.c_str(), dir.c_str()) != 0) {
    int err = errno;
    return fail(err == EEXIST || err == ENOTEMPTY ? absl::AlreadyExistsError(absl::StrCat("volume ", name, " exists"))
                                                  : ErrnoError(err, absl::StrCat("rename ", staging, " to ", dir)));
  }
  return Get(name);
}

absl::StatusOr<VolumeInfo> VolumeStore::Get(const std::string& name) const {
  RETURN_IF_ERROR(ValidateVolumeName(name));
  std::string dir = DirOf(name);
  absl::StatusOr<std::string> meta = ReadFile(dir + "/" + kMetaFile);
  if (!meta.ok()) {
    if (meta.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(absl::StrCat("no volume ", name, " (corralctl volume create ", name, ")"));
    }
    return meta.status();
  }
  VolumeInfo info;
  info.name = name;
  for (absl::string_view line : absl::StrSplit(*meta, '\n', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&line, "size=")) {
      if (!absl::SimpleAtoi(line, &info.size_bytes)) return absl::DataLossError(absl::StrCat("volume ", name, ": bad size"));
    } else if (absl::ConsumePrefix(&line, "created_usec=")) {
      absl::SimpleAtoi(line, &info.created_usec);
    }
  }
  if (info.size_bytes != 0) {
    struct stat st;
    if (::stat((dir + "/" + kImageFile).c_str(), &st) == 0) info.used_bytes = static_cast<uint64_t>(st.st_blocks) * 512;
  } else {
    g_used = 0;
    ::nftw((dir + "/" + kDataDir).c_str(), AddBlocks, 32, FTW_PHYS | FTW_MOUNT);
    info.used_bytes = g_used;
  }
  return info;
}

absl::StatusOr<std::vector<VolumeInfo>> VolumeStore::List() const {
  std::vector<VolumeInfo> out;
  DIR* dir = ::opendir(root_.c_str());
  if (dir == nullptr) {
    if (errno == ENOENT) return out;
    return ErrnoError(absl::StrCat("open ", root_));
  }
  std::vector<std::string> names;
  while (struct dirent* entry = ::readdir(dir)) {
    if (ValidateVolumeName(entry->d_name).ok()) names.emplace_back(entry->d_name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    absl::StatusOr<VolumeInfo> info = Get(name);
    if (info.ok()) out.push_back(*info);
  }
  return out;
}

absl::Status VolumeStore::Remove(const std::string& name) {
  ASSIGN_OR_RETURN(VolumeInfo info, Get(name));
  std::string dir = DirOf(name);
  if (info.size_bytes != 0 && !FindLoopDeviceOf(dir + "/" + kImageFile).empty()) {
    return absl::FailedPreconditionError(absl::StrCat("volume ", name, " is mounted by a running container"));
  }
  std::string doomed = absl::StrCat(root_, "/.", name, ".rm-", ::getpid());
  if (::rename(dir.c_str(), doomed.c_str()) != 0) return ErrnoError(absl::StrCat("rename ", dir));
  return RemoveTree(doomed);
}

absl::StatusOr<UniqueFd> VolumeStore::OpenTree(const std::string& name) const {
  ASSIGN_OR_RETURN(VolumeInfo info, Get(name));
  std::string dir = DirOf(name);
  if (info.size_bytes == 0) {
    std::string data = dir + "/" + kDataDir;
    UniqueFd tree(static_cast<int>(::open_tree(AT_FDCWD, data.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)));
    if (!tree.valid()) return ErrnoError(absl::StrCat("open_tree(OPEN_TREE_CLONE) of volume ", name, " at ", data));
    return tree;
  }
  std::string image = dir + "/" + kImageFile;
  ASSIGN_OR_RETURN(Loop loop, AttachLoop(image));
  // A detached mount of the file system (the new mount API): never attached in the host's
  // namespace, so nothing is left mounted there; when the container's last mount of it goes,
  // the file system is unmounted and the loop device cleared.
  UniqueFd fs(::fsopen("ext4", FSOPEN_CLOEXEC));
  if (!fs.valid()) return ErrnoError("fsopen ext4");
  if (::fsconfig(fs.get(), FSCONFIG_SET_STRING, "source", loop.path.c_str(), 0) != 0) {
    return ErrnoError(absl::StrCat("fsconfig source ", loop.path));
  }
  if (::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    return ErrnoError(absl::StrCat("mount the ext4 file system of volume ", name, " (", image, " on ", loop.path, ")"));
  }
  UniqueFd mount(static_cast<int>(::fsmount(fs.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID)));
  if (!mount.valid()) return ErrnoError(absl::StrCat("fsmount volume ", name));
  return mount;  // loop.fd closes: the mount holds the device now
}

}  // namespace corral::runtime

namespace corral::runtime {

absl::Status AddVolumeBinds(const VolumeStore& store, const std::vector<VolumeMountSpec>& volumes,
                            ContainerSpec* spec, std::vector<UniqueFd>* trees) {
  for (const VolumeMountSpec& volume : volumes) {
    absl::StatusOr<UniqueFd> tree = store.OpenTree(volume.name);
    if (!tree.ok()) return Annotate(tree.status(), absl::StrCat("volume ", volume.name, " on ", volume.target));
    BindSpec bind;
    bind.source = store.DirOf(volume.name);  // named in messages; the tree is what is bound
    bind.target = volume.target;
    bind.read_only = volume.read_only;
    bind.idmap = (spec->namespaces & CLONE_NEWUSER) != 0;
    bind.corral_store = true;
    bind.ready_tree = tree->get();
    trees->push_back(std::move(*tree));
    spec->binds.push_back(bind);
  }
  return absl::OkStatus();
}

}  // namespace corral::runtime
