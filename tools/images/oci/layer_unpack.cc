#include "tools/images/oci/layer_unpack.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/syscalls.h"
#include "common/unique_fd.h"

namespace corral::images::oci {
namespace {

constexpr size_t kBlock = 512;
constexpr uint64_t kMaxMetaBytes = 1 << 20;  // a PAX header or GNU long name
constexpr size_t kMaxNameBytes = 4096;

// Reads exactly `size` bytes; `*eof` when the stream ended before the first byte.
absl::Status ReadFull(Reader* r, char* buf, size_t size, bool* eof) {
  size_t got = 0;
  if (eof != nullptr) *eof = false;
  while (got < size) {
    ASSIGN_OR_RETURN(size_t n, r->Read(buf + got, size - got));
    if (n == 0) {
      if (got == 0 && eof != nullptr) {
        *eof = true;
        return absl::OkStatus();
      }
      return absl::DataLossError("the tar is cut short");
    }
    got += n;
  }
  return absl::OkStatus();
}

absl::Status Skip(Reader* r, uint64_t size) {
  char buf[65536];
  while (size > 0) {
    size_t step = static_cast<size_t>(std::min<uint64_t>(size, sizeof(buf)));
    RETURN_IF_ERROR(ReadFull(r, buf, step, nullptr));
    size -= step;
  }
  return absl::OkStatus();
}

uint64_t Padding(uint64_t size) { return (kBlock - size % kBlock) % kBlock; }

// Octal, or base-256 (GNU) when the first byte's high bit is set.
absl::StatusOr<uint64_t> ParseNumber(const char* field, size_t size, absl::string_view what) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(field);
  if (p[0] & 0x80) {
    if (p[0] == 0xff) return absl::InvalidArgumentError(absl::StrCat("tar header: negative ", what));
    uint64_t value = p[0] & 0x7f;
    for (size_t i = 1; i < size; ++i) {
      if (value >> 56) return absl::InvalidArgumentError(absl::StrCat("tar header: ", what, " is too large"));
      value = value << 8 | p[i];
    }
    return value;
  }
  size_t i = 0;
  while (i < size && (field[i] == ' ' || field[i] == '\0')) ++i;
  uint64_t value = 0;
  for (; i < size && field[i] >= '0' && field[i] <= '7'; ++i) {
    if (value >> 60) return absl::InvalidArgumentError(absl::StrCat("tar header: ", what, " is too large"));
    value = value * 8 + static_cast<uint64_t>(field[i] - '0');
  }
  for (; i < size; ++i) {
    if (field[i] != ' ' && field[i] != '\0') {
      return absl::InvalidArgumentError(absl::StrCat("tar header: ", what, " is not an octal number"));
    }
  }
  return value;
}

std::string Field(const char* p, size_t size) { return std::string(p, strnlen(p, size)); }

struct Entry {
  std::string name, linkname;
  char type = '0';
  uint32_t mode = 0;
  uint64_t uid = 0, gid = 0, size = 0;
  int64_t mtime = 0;
  uint32_t devmajor = 0, devminor = 0;
  std::map<std::string, std::string> xattrs;
};

// "LEN KEY=VALUE\n" records into `out` (path, linkpath, size, uid, gid, mtime, xattrs).
absl::Status ParsePax(absl::string_view data, std::map<std::string, std::string>* out) {
  while (!data.empty()) {
    size_t space = data.find(' ');
    uint64_t len = 0;
    if (space == absl::string_view::npos || !absl::SimpleAtoi(data.substr(0, space), &len) || len <= space + 1 ||
        len > data.size() || data[len - 1] != '\n') {
      return absl::InvalidArgumentError("tar: a PAX header record is malformed");
    }
    absl::string_view record = data.substr(space + 1, len - space - 2);
    size_t eq = record.find('=');
    if (eq == absl::string_view::npos) return absl::InvalidArgumentError("tar: a PAX header record has no '='");
    (*out)[std::string(record.substr(0, eq))] = std::string(record.substr(eq + 1));
    data.remove_prefix(len);
  }
  return absl::OkStatus();
}

bool AllowedXattr(absl::string_view name) {
  // Never trusted.* (overlay's own: a layer must not set redirects or opaque by xattr) nor
  // security.selinux or system.*; user.* and file capabilities (ping's cap_net_raw) stay.
  return absl::StartsWith(name, "user.") || name == "security.capability";
}

// The header's checksum: the sum of its bytes with the checksum field as spaces, unsigned (POSIX)
// or signed (what some old tars wrote).
absl::Status CheckHeaderSum(const char* h) {
  ASSIGN_OR_RETURN(uint64_t sum, ParseNumber(h + 148, 8, "checksum"));
  uint64_t unsigned_sum = 0;
  int64_t signed_sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    char c = (i >= 148 && i < 156) ? ' ' : h[i];
    unsigned_sum += static_cast<uint8_t>(c);
    signed_sum += static_cast<signed char>(c);
  }
  if (sum != unsigned_sum && static_cast<int64_t>(sum) != signed_sum) {
    return absl::DataLossError("tar header checksum mismatch (not a tar, or a corrupt one)");
  }
  return absl::OkStatus();
}

// The ustar fields of header `h` (of `type`, its data `size` bytes) into a fresh *e.
absl::Status ParseHeaderFields(const char* h, char type, uint64_t size, Entry* e) {
  *e = Entry();
  e->type = type == '\0' ? '0' : type;
  e->name = Field(h, 100);
  e->linkname = Field(h + 157, 100);
  // POSIX ustar ("ustar\0") has a name prefix; GNU's old format ("ustar  ") uses the field
  // for times.
  if (std::memcmp(h + 257, "ustar\0", 6) == 0 && h[345] != '\0') e->name = Field(h + 345, 155) + "/" + e->name;
  ASSIGN_OR_RETURN(uint64_t mode, ParseNumber(h + 100, 8, "mode"));
  e->mode = static_cast<uint32_t>(mode & 07777);
  ASSIGN_OR_RETURN(e->uid, ParseNumber(h + 108, 8, "uid"));
  ASSIGN_OR_RETURN(e->gid, ParseNumber(h + 116, 8, "gid"));
  e->size = size;
  ASSIGN_OR_RETURN(uint64_t mtime, ParseNumber(h + 136, 12, "mtime"));
  e->mtime = static_cast<int64_t>(mtime & 0x7fffffffffffffffULL);
  if (e->type == '3' || e->type == '4') {
    ASSIGN_OR_RETURN(uint64_t major, ParseNumber(h + 329, 8, "devmajor"));
    ASSIGN_OR_RETURN(uint64_t minor, ParseNumber(h + 337, 8, "devminor"));
    e->devmajor = static_cast<uint32_t>(major);
    e->devminor = static_cast<uint32_t>(minor);
  }
  return absl::OkStatus();
}

// The PAX records that override the header's fields, and the entry's xattrs.
absl::Status ApplyPax(const std::map<std::string, std::string>& pax, Entry* e) {
  for (const auto& [key, value] : pax) {
    if (key == "path") {
      e->name = value;
    } else if (key == "linkpath") {
      e->linkname = value;
    } else if (key == "size" || key == "uid" || key == "gid") {
      uint64_t v = 0;
      if (!absl::SimpleAtoi(value, &v)) return absl::InvalidArgumentError(absl::StrCat("tar: PAX ", key, " is not a number"));
      (key == "size" ? e->size : key == "uid" ? e->uid : e->gid) = v;
    } else if (key == "mtime") {
      int64_t v = 0;
      if (absl::SimpleAtoi(value.substr(0, value.find('.')), &v) && v >= 0) e->mtime = v;
    } else if (absl::StartsWith(key, "SCHILY.xattr.")) {
      e->xattrs[key.substr(13)] = value;
    } else if (absl::StartsWith(key, "GNU.sparse.")) {
      return absl::UnimplementedError(absl::StrCat("tar entry ", e->name.substr(0, 200), ": sparse files are not supported"));
    }
  }
  return absl::OkStatus();
}

// Reads the next entry's header, folding PAX and GNU long-name headers into it. False at the
// end of the archive.
absl::StatusOr<bool> NextEntry(Reader* r, Entry* e) {
  std::map<std::string, std::string> pax;
  std::string long_name, long_link;
  bool have_long_name = false, have_long_link = false;
  for (;;) {
    char h[kBlock];
    bool eof = false;
    RETURN_IF_ERROR(ReadFull(r, h, kBlock, &eof));
    if (eof) {
      if (!pax.empty() || have_long_name || have_long_link) return absl::DataLossError("the tar ends after an extended header");
      return false;
    }
    if (std::all_of(h, h + kBlock, [](char c) { return c == 0; })) return false;
    RETURN_IF_ERROR(CheckHeaderSum(h));
    char type = h[156];
    ASSIGN_OR_RETURN(uint64_t size, ParseNumber(h + 124, 12, "size"));
    if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
      if (size > kMaxMetaBytes) return absl::InvalidArgumentError("tar: an extended header is larger than 1 MiB");
      std::string data(size, '\0');
      RETURN_IF_ERROR(ReadFull(r, data.data(), size, nullptr));
      RETURN_IF_ERROR(Skip(r, Padding(size)));
      if (type == 'x') {
        RETURN_IF_ERROR(ParsePax(data, &pax));
      } else if (type == 'L') {
        long_name = std::string(data.c_str());
        have_long_name = true;
      } else if (type == 'K') {
        long_link = std::string(data.c_str());
        have_long_link = true;
      }
      continue;  // 'g' (global) headers carry nothing a layer needs
    }
    RETURN_IF_ERROR(ParseHeaderFields(h, type, size, e));
    if (have_long_name) e->name = long_name;
    if (have_long_link) e->linkname = long_link;
    RETURN_IF_ERROR(ApplyPax(pax, e));
    if (e->uid > 4294967294ULL || e->gid > 4294967294ULL) {
      return absl::InvalidArgumentError(absl::StrCat("tar entry ", e->name.substr(0, 200), ": owner out of range"));
    }
    if (e->type == '0' && absl::EndsWith(e->name, "/")) e->type = '5';  // pre-POSIX directories
    return true;
  }
}

absl::Status EntryError(const Entry& e, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("layer entry \"", e.name.substr(0, 200), "\": ", what));
}

class Unpacker {
 public:
  Unpacker(Reader* tar, int root_fd) : tar_(tar), root_(root_fd) {}
  absl::StatusOr<UnpackStats> Run();

 private:
  absl::Status One(Entry& e);
  absl::StatusOr<int> Parent(const Entry& e, absl::string_view parent);
  absl::Status RemoveExisting(int parent, const std::string& leaf, bool keep_dir, bool* is_dir);
  absl::Status WriteFile(Entry& e, int parent, const std::string& leaf);
  absl::Status Whiteout(const Entry& e, int parent, const std::string& leaf);
  absl::Status WhiteoutEntry(const Entry& e, int parent, const std::string& parent_path, const std::string& leaf);
  absl::Status Symlink(const Entry& e, int parent, const std::string& leaf);
  absl::Status HardLink(const Entry& e, int parent, const std::string& leaf, const std::string& path);
  absl::Status SkipData(const Entry& e) { return Skip(tar_, e.size + Padding(e.size)); }
  absl::Status SetXattrs(const Entry& e, int fd);

  struct DirMeta {
    std::string path;
    uint32_t mode;
    uint64_t uid, gid;
    int64_t mtime;
    std::map<std::string, std::string> xattrs;
  };

  Reader* tar_;
  int root_;
  std::string cached_parent_ = "\x01";
  UniqueFd cached_fd_;
  std::vector<DirMeta> dirs_;
  UnpackStats stats_;
};

constexpr uint64_t kResolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;

int OpenBeneath(int root, const std::string& path, uint64_t flags) {
  struct open_how how = {};
  how.flags = flags | O_CLOEXEC;
  how.resolve = kResolve;
  return sys::Openat2(root, path.empty() ? "." : path.c_str(), &how, sizeof(how));
}

absl::Status ResolveError(const Entry& e, absl::string_view path, int err) {
  if (err == ELOOP) {
    return EntryError(e, absl::StrCat("its path goes through a symbolic link (\"", path.substr(0, 200),
                                      "\") the layer planted: refused (a layer's paths are never resolved through links)"));
  }
  if (err == EXDEV) return EntryError(e, "its path escapes the layer: refused");
  if (err == ENOTDIR) return EntryError(e, absl::StrCat("\"", path.substr(0, 200), "\" is not a directory"));
  return ErrnoError(err, absl::StrCat("layer entry \"", e.name.substr(0, 200), "\": open ", path.substr(0, 200)));
}

absl::StatusOr<int> Unpacker::Parent(const Entry& e, absl::string_view parent) {
  if (cached_fd_.valid() && parent == cached_parent_) return cached_fd_.get();
  std::string path(parent);
  int fd = OpenBeneath(root_, path, O_PATH | O_DIRECTORY);
  if (fd < 0 && errno == ENOENT) {
    // Parents the tar does not list are made as they are needed (root's, 0755).
    UniqueFd at(OpenBeneath(root_, "", O_PATH | O_DIRECTORY));
    std::string walked;
    for (absl::string_view part : absl::StrSplit(parent, '/')) {
      walked = walked.empty() ? std::string(part) : absl::StrCat(walked, "/", part);
      std::string name(part);
      if (::mkdirat(at.get(), name.c_str(), 0755) != 0 && errno != EEXIST) {
        return ErrnoError(absl::StrCat("layer entry \"", e.name.substr(0, 200), "\": mkdir ", walked));
      }
      struct open_how how = {};
      how.flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
      how.resolve = kResolve;
      UniqueFd next(sys::Openat2(at.get(), name.c_str(), &how, sizeof(how)));
      if (!next.valid()) return ResolveError(e, walked, errno == ENOTDIR ? ELOOP : errno);
      at = std::move(next);
    }
    fd = at.release();
  }
  if (fd < 0) return ResolveError(e, path, errno);
  cached_fd_.reset(fd);
  cached_parent_ = path;
  return fd;
}

// Removes what is at `leaf` (a directory with its contents) unless it is a directory and
// `keep_dir`.
absl::Status RemoveAt(int parent, const std::string& leaf) {
  if (::unlinkat(parent, leaf.c_str(), 0) == 0 || errno == ENOENT) return absl::OkStatus();
  if (errno != EISDIR) return ErrnoError(absl::StrCat("unlink ", leaf));
  UniqueFd dir(::openat(parent, leaf.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid()) return ErrnoError(absl::StrCat("open ", leaf));
  DIR* d = ::fdopendir(::dup(dir.get()));
  if (d == nullptr) return ErrnoError(absl::StrCat("list ", leaf));
  std::vector<std::string> names;
  while (dirent* entry = ::readdir(d)) {
    std::string n = entry->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  for (const std::string& n : names) RETURN_IF_ERROR(RemoveAt(dir.get(), n));
  if (::unlinkat(parent, leaf.c_str(), AT_REMOVEDIR) != 0) return ErrnoError(absl::StrCat("rmdir ", leaf));
  return absl::OkStatus();
}

absl::Status Unpacker::RemoveExisting(int parent, const std::string& leaf, bool keep_dir, bool* is_dir) {
  struct stat st;
  *is_dir = false;
  if (::fstatat(parent, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoError(absl::StrCat("stat ", leaf));
  }
  if (S_ISDIR(st.st_mode) && keep_dir) {
    *is_dir = true;
    return absl::OkStatus();
  }
  return RemoveAt(parent, leaf);
}

absl::Status Unpacker::SetXattrs(const Entry& e, int fd) {
  for (const auto& [name, value] : e.xattrs) {
    if (!AllowedXattr(name)) continue;
    if (::fsetxattr(fd, name.c_str(), value.data(), value.size(), 0) != 0 && errno != ENOTSUP) {
      return ErrnoError(absl::StrCat("layer entry \"", e.name.substr(0, 200), "\": set xattr ", name));
    }
  }
  return absl::OkStatus();
}

absl::Status Unpacker::WriteFile(Entry& e, int parent, const std::string& leaf) {
  UniqueFd fd(::openat(parent, leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoError(absl::StrCat("layer entry \"", e.name.substr(0, 200), "\": create"));
  std::vector<char> buf(std::min<uint64_t>(e.size, 1 << 20));
  uint64_t left = e.size;
  while (left > 0) {
    size_t step = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
    RETURN_IF_ERROR(ReadFull(tar_, buf.data(), step, nullptr));
    for (size_t done = 0; done < step;) {
      ssize_t n = ::write(fd.get(), buf.data() + done, step - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoError(absl::StrCat("layer entry \"", e.name.substr(0, 200), "\": write"));
      done += static_cast<size_t>(n);
    }
    left -= step;
  }
  RETURN_IF_ERROR(Skip(tar_, Padding(e.size)));
  stats_.file_bytes += static_cast<int64_t>(e.size);
  // Owner first: chown clears setuid bits and file capabilities, so mode and xattrs follow.
  if (::fchown(fd.get(), static_cast<uid_t>(e.uid), static_cast<gid_t>(e.gid)) != 0 ||
      ::fchmod(fd.get(), e.mode) != 0) {
    return ErrnoError(absl::StrCat("layer entry \"", e.name.substr(0, 200), "\": chown/chmod"));
  }
  RETURN_IF_ERROR(SetXattrs(e, fd.get()));
  struct timespec times[2] = {{e.mtime, 0}, {e.mtime, 0}};
  ::futimens(fd.get(), times);
  return absl::OkStatus();
}

absl::Status Unpacker::Whiteout(const Entry& e, int parent, const std::string& leaf) {
  bool is_dir = false;
  RETURN_IF_ERROR(RemoveExisting(parent, leaf, /*keep_dir=*/false, &is_dir));
  if (::mknodat(parent, leaf.c_str(), S_IFCHR | 0, ::makedev(0, 0)) != 0) {
    return ErrnoError(absl::StrCat("layer entry \"", e.name.substr(0, 200), "\": make the whiteout of ", leaf));
  }
  ::fchownat(parent, leaf.c_str(), static_cast<uid_t>(e.uid), static_cast<gid_t>(e.gid), AT_SYMLINK_NOFOLLOW);
  ++stats_.whiteouts;
  return absl::OkStatus();
}

// A ".wh." entry: the opaque marker of its directory, aufs' metadata, or the whiteout of a name.
absl::Status Unpacker::WhiteoutEntry(const Entry& e, int parent, const std::string& parent_path,
                                     const std::string& leaf) {
  RETURN_IF_ERROR(SkipData(e));
  if (leaf == ".wh..wh..opq") {
    UniqueFd dir(::openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir.valid() || ::fsetxattr(dir.get(), "trusted.overlay.opaque", "y", 1, 0) != 0) {
      return ErrnoError(absl::StrCat("layer entry \"", e.name.substr(0, 200), "\": mark ", parent_path,
                                     " opaque (trusted.overlay.opaque)"));
    }
    ++stats_.opaque_dirs;
    return absl::OkStatus();
  }
  if (absl::StartsWith(leaf, ".wh..wh.")) return absl::OkStatus();  // aufs' own metadata
  std::string hidden = leaf.substr(4);
  if (hidden.empty() || hidden == "." || hidden == "..") return EntryError(e, "a whiteout of nothing");
  return Whiteout(e, parent, hidden);
}

absl::Status Unpacker::Symlink(const Entry& e, int parent, const std::string& leaf) {
  bool is_dir = false;
  RETURN_IF_ERROR(SkipData(e));
  if (e.linkname.empty()) return EntryError(e, "a symbolic link to nothing");
  RETURN_IF_ERROR(RemoveExisting(parent, leaf, /*keep_dir=*/false, &is_dir));
  // The target is stored as written: it is only ever resolved inside the container.
  if (::symlinkat(e.linkname.c_str(), parent, leaf.c_str()) != 0) {
    return ErrnoError(absl::StrCat("layer entry \"", e.name.substr(0, 200), "\": symlink"));
  }
  ::fchownat(parent, leaf.c_str(), static_cast<uid_t>(e.uid), static_cast<gid_t>(e.gid), AT_SYMLINK_NOFOLLOW);
  struct timespec times[2] = {{e.mtime, 0}, {e.mtime, 0}};
  ::utimensat(parent, leaf.c_str(), times, AT_SYMLINK_NOFOLLOW);
  return absl::OkStatus();
}

// A hard link at `path` to an entry already unpacked (resolved beneath the root, never a
// directory).
absl::Status Unpacker::HardLink(const Entry& e, int parent, const std::string& leaf, const std::string& path) {
  bool is_dir = false;
  RETURN_IF_ERROR(SkipData(e));
  absl::StatusOr<std::string> target = CleanEntryName(e.linkname);
  if (!target.ok()) return EntryError(e, absl::StrCat("hard link target: ", target.status().message()));
  if (target->empty()) return EntryError(e, "a hard link to the layer's root");
  UniqueFd source(OpenBeneath(root_, *target, O_PATH | O_NOFOLLOW));
  if (!source.valid()) {
    if (errno == ENOENT) return EntryError(e, absl::StrCat("a hard link to \"", target->substr(0, 200), "\", which the layer does not hold"));
    return ResolveError(e, *target, errno);
  }
  struct stat st;
  if (::fstat(source.get(), &st) != 0 || S_ISDIR(st.st_mode)) return EntryError(e, "a hard link to a directory");
  if (*target == path) return absl::OkStatus();
  RETURN_IF_ERROR(RemoveExisting(parent, leaf, /*keep_dir=*/false, &is_dir));
  if (::linkat(source.get(), "", parent, leaf.c_str(), AT_EMPTY_PATH) != 0) {
    return ErrnoError(absl::StrCat("layer entry \"", e.name.substr(0, 200), "\": link to ", *target));
  }
  return absl::OkStatus();
}

absl::Status Unpacker::One(Entry& e) {
  if (e.name.size() > kMaxNameBytes) return EntryError(e, "the name is longer than 4096 bytes");
  absl::StatusOr<std::string> clean = CleanEntryName(e.name);
  if (!clean.ok()) return EntryError(e, clean.status().message());
  const std::string& path = *clean;
  size_t slash = path.rfind('/');
  std::string parent_path = slash == std::string::npos ? "" : path.substr(0, slash);
  std::string leaf = slash == std::string::npos ? path : path.substr(slash + 1);

  if (path.empty()) {  // the layer's root itself
    if (e.type != '5') return EntryError(e, "the layer's root is not a directory");
    dirs_.push_back({"", e.mode, e.uid, e.gid, e.mtime, e.xattrs});
    return SkipData(e);
  }
  ASSIGN_OR_RETURN(int parent, Parent(e, parent_path));
  if (absl::StartsWith(leaf, ".wh.")) return WhiteoutEntry(e, parent, parent_path, leaf);
  bool is_dir = false;
  switch (e.type) {
    case '5': {
      RETURN_IF_ERROR(RemoveExisting(parent, leaf, /*keep_dir=*/true, &is_dir));
      if (!is_dir && ::mkdirat(parent, leaf.c_str(), 0700) != 0) {
        return ErrnoError(absl::StrCat("layer entry \"", e.name.substr(0, 200), "\": mkdir"));
      }
      dirs_.push_back({path, e.mode, e.uid, e.gid, e.mtime, e.xattrs});
      return SkipData(e);
    }
    case '0':
    case '7':
      RETURN_IF_ERROR(RemoveExisting(parent, leaf, /*keep_dir=*/false, &is_dir));
      return WriteFile(e, parent, leaf);
    case '2':
      return Symlink(e, parent, leaf);
    case '1':
      return HardLink(e, parent, leaf, path);
    case '3':
    case '4':
      RETURN_IF_ERROR(SkipData(e));
      if (e.type == '3' && e.devmajor == 0 && e.devminor == 0) return Whiteout(e, parent, leaf);  // overlay's own form
      // Device nodes in an image would be the host's devices; containers get theirs from
      // corral's /dev, so the image's are not made.
      ++stats_.skipped_devices;
      return absl::OkStatus();
    case '6': {
      RETURN_IF_ERROR(SkipData(e));
      RETURN_IF_ERROR(RemoveExisting(parent, leaf, /*keep_dir=*/false, &is_dir));
      if (::mknodat(parent, leaf.c_str(), S_IFIFO | 0600, 0) != 0) {
        return ErrnoError(absl::StrCat("layer entry \"", e.name.substr(0, 200), "\": mkfifo"));
      }
      ::fchownat(parent, leaf.c_str(), static_cast<uid_t>(e.uid), static_cast<gid_t>(e.gid), AT_SYMLINK_NOFOLLOW);
      ::fchmodat(parent, leaf.c_str(), e.mode, 0);
      return absl::OkStatus();
    }
    default:
      return EntryError(e, absl::StrCat("entry type '", std::string(1, e.type), "' is not supported"));
  }
}

absl::StatusOr<UnpackStats> Unpacker::Run() {
  Entry e;
  for (;;) {
    ASSIGN_OR_RETURN(bool more, NextEntry(tar_, &e));
    if (!more) break;
    ++stats_.entries;
    RETURN_IF_ERROR(One(e));
  }
  cached_fd_.reset();
  // Directories last, deepest first: their times would change with every entry made in them.
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    UniqueFd dir(OpenBeneath(root_, it->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
    if (!dir.valid()) {
      Entry named;
      named.name = it->path;
      return ResolveError(named, it->path, errno);
    }
    if (::fchown(dir.get(), static_cast<uid_t>(it->uid), static_cast<gid_t>(it->gid)) != 0 ||
        ::fchmod(dir.get(), it->mode) != 0) {
      return ErrnoError(absl::StrCat("layer directory \"", it->path.substr(0, 200), "\": chown/chmod"));
    }
    Entry named;
    named.name = it->path;
    named.xattrs = it->xattrs;
    RETURN_IF_ERROR(SetXattrs(named, dir.get()));
    struct timespec times[2] = {{it->mtime, 0}, {it->mtime, 0}};
    ::futimens(dir.get(), times);
  }
  return stats_;
}

}  // namespace

absl::StatusOr<std::string> CleanEntryName(absl::string_view name) {
  if (name.find('\0') != absl::string_view::npos) return absl::InvalidArgumentError("a NUL in the name");
  if (absl::StartsWith(name, "/")) return absl::InvalidArgumentError("an absolute path: refused");
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(name, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") return absl::InvalidArgumentError("\"..\" in the path: refused (it would escape the layer)");
    parts.push_back(part);
  }
  return absl::StrJoin(parts, "/");
}

absl::StatusOr<std::vector<TarMember>> IndexTar(int fd, int64_t size) {
  FdRangeReader reader(fd, 0, size);
  std::vector<TarMember> members;
  Entry e;
  for (;;) {
    ASSIGN_OR_RETURN(bool more, NextEntry(&reader, &e));
    if (!more) break;
    absl::StatusOr<std::string> clean = CleanEntryName(e.name);
    if (clean.ok() && (e.type == '0' || e.type == '7' || e.type == '1' || e.type == '2')) {
      members.push_back({*clean, reader.offset(), e.type == '1' || e.type == '2' ? 0 : static_cast<int64_t>(e.size),
                         e.type == '7' ? '0' : e.type, e.linkname});
    }
    uint64_t data = e.size + Padding(e.size);
    if (static_cast<int64_t>(data) > size - reader.offset()) return absl::DataLossError("the archive is cut short");
    reader.Advance(static_cast<int64_t>(data));
  }
  return members;
}

absl::StatusOr<UnpackStats> UnpackLayer(Reader* tar, int root_fd) {
  Unpacker unpacker(tar, root_fd);
  return unpacker.Run();
}

}  // namespace corral::images::oci
