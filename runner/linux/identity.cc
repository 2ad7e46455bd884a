#include "runner/linux/identity.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "runner/linux/child_util.h"

namespace stockade::runner::linux_os {

namespace {

bool WriteProcFile(const char* path, const char* text, std::size_t len,
                   SetupFailure* failure) noexcept {
  const int fd = static_cast<int>(::syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CLOEXEC));
  if (fd < 0) return Fail(failure, SetupStep::kUserNamespace, errno, path);
  const bool ok = child::WriteAll(fd, text, len);
  const int err = errno;
  ::syscall(SYS_close, fd);
  if (!ok) return Fail(failure, SetupStep::kUserNamespace, err, path);
  return true;
}

// "<id> <id> 1\n"
std::size_t IdentityMapLine(unsigned long long id, char* buf) noexcept {
  std::size_t n = child::FormatUnsigned(id, buf);
  buf[n++] = ' ';
  n += child::FormatUnsigned(id, buf + n);
  buf[n++] = ' ';
  buf[n++] = '1';
  buf[n++] = '\n';
  buf[n] = '\0';
  return n;
}

}  // namespace

bool ApplyIdentity(const IdentityPlan& plan, SetupFailure* failure) noexcept {
  if (::syscall(SYS_setgroups, plan.group_count, plan.groups) != 0) {
    return Fail(failure, SetupStep::kSetgroups, errno, nullptr);
  }
  if (::syscall(SYS_setresgid, plan.gid, plan.gid, plan.gid) != 0) {
    return Fail(failure, SetupStep::kSetresgid, errno, nullptr);
  }
  if (::syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0) {
    return Fail(failure, SetupStep::kSetresuid, errno, nullptr);
  }
  uid_t r = 0, e = 0, s = 0;
  gid_t rg = 0, eg = 0, sg = 0;
  if (::syscall(SYS_getresuid, &r, &e, &s) != 0 || r != plan.uid || e != plan.uid ||
      s != plan.uid) {
    return Fail(failure, SetupStep::kSetresuid, EPERM, "uid reads back differently");
  }
  if (::syscall(SYS_getresgid, &rg, &eg, &sg) != 0 || rg != plan.gid || eg != plan.gid ||
      sg != plan.gid) {
    return Fail(failure, SetupStep::kSetresgid, EPERM, "gid reads back differently");
  }
  return true;
}

bool MapSelfInUserNamespace(uid_t uid, gid_t gid, SetupFailure* failure) noexcept {
  // A process that changed its credentials earlier (a caller that dropped root) is not dumpable,
  // which makes its /proc/self files root's, and the writes below fail. execve recomputes the
  // flag anyway, so nothing is loosened for the command.
  if (::syscall(SYS_prctl, PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) {
    return Fail(failure, SetupStep::kUserNamespace, errno, "prctl(PR_SET_DUMPABLE)");
  }
  static constexpr char kDeny[] = "deny";
  if (!WriteProcFile("/proc/self/setgroups", kDeny, sizeof(kDeny) - 1, failure)) return false;
  char line[64];
  std::size_t n = IdentityMapLine(uid, line);
  if (!WriteProcFile("/proc/self/uid_map", line, n, failure)) return false;
  n = IdentityMapLine(gid, line);
  return WriteProcFile("/proc/self/gid_map", line, n, failure);
}

}  // namespace stockade::runner::linux_os
