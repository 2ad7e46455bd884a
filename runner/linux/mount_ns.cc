#include "runner/linux/mount_ns.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <optional>

#include "runner/linux/child_util.h"
#include "runner/linux/unique_fd.h"

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

namespace stockade::runner::linux_os {

namespace {

// <linux/mount.h> conflicts with <sys/mount.h> on Debian 12: the few constants are spelt here.
constexpr unsigned long long kMountAttrRdonly = 0x1;
constexpr unsigned long long kMountAttrNosuid = 0x2;
constexpr unsigned long long kMountAttrNodev = 0x4;
constexpr unsigned long long kMountAttrNoexec = 0x8;
constexpr unsigned kAtRecursive = 0x8000;

struct MountAttr {
  unsigned long long attr_set;
  unsigned long long attr_clr;
  unsigned long long propagation;
  unsigned long long userns_fd;
};

// Resolves `path`; std::nullopt when it does not exist.
Expected<std::optional<std::string>> Resolve(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<std::string>();
    return ErrnoError(ErrorCode::kPathInvalid, "lstat " + path, errno);
  }
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) {
    // A dangling symlink: nothing to protect or hide behind it.
    if (errno == ENOENT) return std::optional<std::string>();
    return ErrnoError(ErrorCode::kPathInvalid, "realpath " + path, errno);
  }
  return std::optional<std::string>(std::string(buf));
}

std::atomic<unsigned> g_tmp_counter{0};

Expected<std::string> EnsureInaccessibleFile(const std::string& runtime_dir) {
  if (::mkdir(runtime_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoError(ErrorCode::kIo, "mkdir runtime folder " + runtime_dir, errno);
  }
  struct stat st {};
  if (::lstat(runtime_dir.c_str(), &st) != 0) {
    return ErrnoError(ErrorCode::kIo, "lstat runtime folder " + runtime_dir, errno);
  }
  // Someone else's folder (e.g. pre-created in /tmp) could swap the file under us.
  if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 022) != 0) {
    return Error(ErrorCode::kPermissionDenied,
                 "runtime folder " + runtime_dir +
                     " is not a folder owned by this user and writable by it alone");
  }
  const std::string file = runtime_dir + "/inaccessible";
  if (::lstat(file.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0 &&
      (st.st_mode & 07777) == 0 && st.st_uid == ::geteuid()) {
    return file;
  }
  const std::string tmp =
      file + "." + std::to_string(::getpid()) + "." + std::to_string(g_tmp_counter.fetch_add(1));
  UniqueFd fd(::open(tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoError(ErrorCode::kIo, "create " + tmp, errno);
  if (::fchmod(fd.get(), 0) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoError(ErrorCode::kIo, "chmod 000 " + tmp, err);
  }
  fd.Reset();
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoError(ErrorCode::kIo, "rename " + tmp + " to " + file, err);
  }
  return file;
}

void SortUnique(std::vector<std::string>* v) {
  std::sort(v->begin(), v->end());
  v->erase(std::unique(v->begin(), v->end()), v->end());
}

// --- child side ------------------------------------------------------------------------------

bool IsReadOnly(int fd) noexcept {
  struct statfs sfs {};
  if (::syscall(SYS_fstatfs, fd, &sfs) != 0) return false;
  return (sfs.f_flags & ST_RDONLY) != 0;
}

// Makes the mount whose root `fd` is read-only (recursively when the kernel can), keeping
// nosuid/nodev/noexec on it. Returns false with errno set.
bool MakeReadOnly(int fd, unsigned long long extra_attrs) noexcept {
  MountAttr attr{};
  attr.attr_set = kMountAttrRdonly | extra_attrs;
  if (::syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | kAtRecursive, &attr, sizeof(attr)) ==
      0) {
    return true;
  }
  if (errno != ENOSYS) return false;
  // Kernels before 5.12: a remount of the bind, which must repeat the flags it keeps.
  struct statfs sfs {};
  if (::syscall(SYS_fstatfs, fd, &sfs) != 0) return false;
  unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY;
  if ((sfs.f_flags & ST_NOSUID) != 0 || (extra_attrs & kMountAttrNosuid) != 0) flags |= MS_NOSUID;
  if ((sfs.f_flags & ST_NODEV) != 0 || (extra_attrs & kMountAttrNodev) != 0) flags |= MS_NODEV;
  if ((sfs.f_flags & ST_NOEXEC) != 0 || (extra_attrs & kMountAttrNoexec) != 0) flags |= MS_NOEXEC;
  char link[32];
  child::FdPath(fd, link);
  return ::syscall(SYS_mount, nullptr, link, nullptr, flags, nullptr) == 0;
}

bool Close(int fd) noexcept { return ::syscall(SYS_close, fd) == 0; }

bool ProtectPath(const char* path, SetupFailure* failure) noexcept {
  const int fd = child::OpenExact(path, false);
  if (fd < 0) return Fail(failure, SetupStep::kProtectPath, errno, path);
  char link[32];
  child::FdPath(fd, link);
  if (::syscall(SYS_mount, link, link, nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    const int err = errno;
    Close(fd);
    return Fail(failure, SetupStep::kProtectPath, err, path);
  }
  Close(fd);
  // Reopen: the new descriptor lands on the root of the bind mount just made.
  const int top = child::OpenExact(path, false);
  if (top < 0) return Fail(failure, SetupStep::kProtectPath, errno, path);
  if (!MakeReadOnly(top, kMountAttrNosuid | kMountAttrNodev)) {
    const int err = errno;
    Close(top);
    return Fail(failure, SetupStep::kProtectPath, err, path);
  }
  const bool ro = IsReadOnly(top);
  Close(top);
  if (!ro) return Fail(failure, SetupStep::kProtectPath, EROFS, path);  // did not read back
  return true;
}

bool HideDir(const char* path, SetupFailure* failure) noexcept {
  const int fd = child::OpenExact(path, true);
  if (fd < 0) return Fail(failure, SetupStep::kDenyReadDir, errno, path);
  char link[32];
  child::FdPath(fd, link);
  const long rc = ::syscall(SYS_mount, "tmpfs", link, "tmpfs",
                            MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=000,size=4k");
  const int err = errno;
  Close(fd);
  if (rc != 0) return Fail(failure, SetupStep::kDenyReadDir, err, path);
  const int top = child::OpenExact(path, true);
  if (top < 0) return Fail(failure, SetupStep::kDenyReadDir, errno, path);
  struct statfs sfs {};
  const bool ok = ::syscall(SYS_fstatfs, top, &sfs) == 0 &&
                  static_cast<unsigned long>(sfs.f_type) == TMPFS_MAGIC &&
                  (sfs.f_flags & ST_RDONLY) != 0;
  Close(top);
  if (!ok) return Fail(failure, SetupStep::kDenyReadDir, EIO, path);
  return true;
}

bool HideFile(const char* path, const char* empty_file, SetupFailure* failure) noexcept {
  const int fd = child::OpenExact(path, false);
  if (fd < 0) return Fail(failure, SetupStep::kDenyReadFile, errno, path);
  char link[32];
  child::FdPath(fd, link);
  const long rc = ::syscall(SYS_mount, empty_file, link, nullptr, MS_BIND, nullptr);
  const int err = errno;
  Close(fd);
  if (rc != 0) return Fail(failure, SetupStep::kDenyReadFile, err, path);
  const int top = child::OpenExact(path, false);
  if (top < 0) return Fail(failure, SetupStep::kDenyReadFile, errno, path);
  if (!MakeReadOnly(top, kMountAttrNosuid | kMountAttrNodev | kMountAttrNoexec)) {
    const int err2 = errno;
    Close(top);
    return Fail(failure, SetupStep::kDenyReadFile, err2, path);
  }
  struct stat st {};
  const bool ok = ::syscall(SYS_fstat, top, &st) == 0 && st.st_size == 0 &&
                  (st.st_mode & 07777) == 0 && IsReadOnly(top);
  Close(top);
  if (!ok) return Fail(failure, SetupStep::kDenyReadFile, EIO, path);
  return true;
}

}  // namespace

Expected<MountPlan> PlanMounts(const LaunchSpec& spec, const std::string& runtime_dir) {
  MountPlan plan;
  for (const auto& p : spec.protected_paths) {
    std::vector<std::string> candidates;
    if (p[0] == '/') {
      candidates.push_back(p);
    } else {
      for (const auto& root : spec.writable_roots) {
        candidates.push_back(root == "/" ? "/" + p : root + "/" + p);
      }
    }
    for (const auto& c : candidates) {
      auto resolved = Resolve(c);
      if (!resolved.ok()) return resolved.error().Wrap("protected path");
      if (resolved->has_value()) plan.read_only.push_back(**resolved);
    }
  }
  for (const auto& p : spec.deny_read) {
    auto resolved = Resolve(p);
    if (!resolved.ok()) return resolved.error().Wrap("deny-read path");
    if (!resolved->has_value()) continue;
    struct stat st {};
    if (::stat((*resolved)->c_str(), &st) != 0) {
      return ErrnoError(ErrorCode::kPathInvalid, "deny-read path: stat " + **resolved, errno);
    }
    (S_ISDIR(st.st_mode) ? plan.deny_dirs : plan.deny_files).push_back(**resolved);
  }
  SortUnique(&plan.read_only);
  SortUnique(&plan.deny_dirs);
  SortUnique(&plan.deny_files);
  if (!plan.deny_files.empty()) {
    auto file = EnsureInaccessibleFile(runtime_dir);
    if (!file.ok()) return file.error().Wrap("deny-read file cover");
    plan.empty_file = *file;
  }
  return plan;
}

bool ApplyMountPlan(const MountPlan& plan, SetupFailure* failure) noexcept {
  if (::syscall(SYS_unshare, CLONE_NEWNS) != 0) {
    return Fail(failure, SetupStep::kMountNamespace, errno, "unshare(CLONE_NEWNS)");
  }
  // Mounts made below must not propagate back into the parent's namespace; the parent's later
  // mounts may still propagate in.
  if (::syscall(SYS_mount, nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) {
    return Fail(failure, SetupStep::kMountNamespace, errno, "/ (make rslave)");
  }
  for (const auto& p : plan.read_only) {
    if (!ProtectPath(p.c_str(), failure)) return false;
  }
  for (const auto& p : plan.deny_dirs) {
    if (!HideDir(p.c_str(), failure)) return false;
  }
  for (const auto& p : plan.deny_files) {
    if (!HideFile(p.c_str(), plan.empty_file.c_str(), failure)) return false;
  }
  return true;
}

}  // namespace stockade::runner::linux_os
