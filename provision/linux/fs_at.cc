#include "provision/linux/fs_at.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>

namespace stockade::provision::linux_os {
namespace {

// Not yet in Debian 12's headers. The numbers are the same on every architecture that uses the
// generic syscall table (x86_64 and arm64 included).
#ifndef SYS_setxattrat
constexpr long kSysSetxattrat = 463;
constexpr long kSysGetxattrat = 464;
constexpr long kSysRemovexattrat = 466;
#else
constexpr long kSysSetxattrat = SYS_setxattrat;
constexpr long kSysGetxattrat = SYS_getxattrat;
constexpr long kSysRemovexattrat = SYS_removexattrat;
#endif

struct XattrArgs {  // struct xattr_args (include/uapi/linux/xattr.h)
  std::uint64_t value;
  std::uint32_t size;
  std::uint32_t flags;
};

// -1 unknown, 0 absent, 1 present.
std::atomic<int> g_have_xattrat{-1};

bool ProbeXattrAt() {
  int known = g_have_xattrat.load(std::memory_order_relaxed);
  if (known >= 0) return known == 1;
  // A harmless read of a name that never exists: ENOSYS means the call is missing.
  XattrArgs args{0, 0, 0};
  long rc = syscall(kSysGetxattrat, AT_FDCWD, "/", AT_SYMLINK_NOFOLLOW, "user.stockade.probe",
                    &args, sizeof args);
  bool have = !(rc < 0 && errno == ENOSYS);
  g_have_xattrat.store(have ? 1 : 0, std::memory_order_relaxed);
  return have;
}

// "/proc/self/fd/<dirfd>/<name>", for the fallback path.
void ProcPath(char* out, size_t size, int dirfd, const char* name) {
  std::snprintf(out, size, "/proc/self/fd/%d/%s", dirfd, name);
}

}  // namespace

bool HaveXattrAtSyscalls() { return ProbeXattrAt(); }

void ForceXattrFallbackForTesting(bool force) {
  g_have_xattrat.store(force ? 0 : -1, std::memory_order_relaxed);
}

Expected<std::vector<std::string>> SplitAbsolute(const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return Error(ErrorCode::kPathInvalid, "'" + path + "' is not an absolute path");
  }
  std::vector<std::string> parts;
  size_t i = 1;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string part = path.substr(i, j - i);
    if (part.empty()) {
      if (j == path.size()) break;  // trailing "/"
      return Error(ErrorCode::kPathInvalid, "'" + path + "' has an empty component");
    }
    if (part == "." || part == "..") {
      return Error(ErrorCode::kPathInvalid, "'" + path + "' is not normalised ('" + part + "')");
    }
    parts.push_back(std::move(part));
    i = j + 1;
  }
  return parts;
}

Expected<UniqueFd> OpenDirNoFollow(const std::string& path, std::vector<UniqueFd>* ancestors) {
  auto parts = SplitAbsolute(path);
  if (!parts.ok()) return parts.error();
  UniqueFd fd(open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError(ErrorCode::kIo, "open /", errno);
  std::string so_far;
  for (const std::string& part : *parts) {
    so_far += "/" + part;
    UniqueFd next(openat(fd.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid()) {
      int e = errno;
      // With O_DIRECTORY the kernel reports a symlink as ENOTDIR: look at what it is.
      struct stat st;
      if ((e == ENOTDIR || e == ELOOP) &&
          fstatat(fd.get(), part.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
        e = ELOOP;
      }
      if (e == ELOOP) {
        return ErrnoError(ErrorCode::kPathInvalid,
                          so_far + " is a symbolic link (refused: links are never followed)", e);
      }
      if (e == ENOTDIR)
        return ErrnoError(ErrorCode::kPathInvalid, so_far + " is not a directory", e);
      if (e == ENOENT) return ErrnoError(ErrorCode::kNotFound, so_far + " does not exist", e);
      return ErrnoError(ErrorCode::kIo, "open " + so_far, e);
    }
    if (ancestors != nullptr) ancestors->push_back(std::move(fd));
    fd = std::move(next);
  }
  return fd;
}

ssize_t GetXattrAt(int dirfd, const char* name, const char* attr, void* value, size_t size) {
  if (ProbeXattrAt()) {
    XattrArgs args{reinterpret_cast<std::uintptr_t>(value), static_cast<std::uint32_t>(size), 0};
    return syscall(kSysGetxattrat, dirfd, name, AT_SYMLINK_NOFOLLOW, attr, &args, sizeof args);
  }
  char path[4200];
  ProcPath(path, sizeof path, dirfd, name);
  return lgetxattr(path, attr, value, size);
}

int SetXattrAt(int dirfd, const char* name, const char* attr, const void* value, size_t size) {
  if (ProbeXattrAt()) {
    XattrArgs args{reinterpret_cast<std::uintptr_t>(value), static_cast<std::uint32_t>(size), 0};
    return static_cast<int>(
        syscall(kSysSetxattrat, dirfd, name, AT_SYMLINK_NOFOLLOW, attr, &args, sizeof args));
  }
  char path[4200];
  ProcPath(path, sizeof path, dirfd, name);
  return lsetxattr(path, attr, value, size, 0);
}

int RemoveXattrAt(int dirfd, const char* name, const char* attr) {
  if (ProbeXattrAt()) {
    return static_cast<int>(syscall(kSysRemovexattrat, dirfd, name, AT_SYMLINK_NOFOLLOW, attr));
  }
  char path[4200];
  ProcPath(path, sizeof path, dirfd, name);
  return lremovexattr(path, attr);
}

}  // namespace stockade::provision::linux_os
