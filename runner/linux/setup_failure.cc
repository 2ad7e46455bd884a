#include "runner/linux/setup_failure.h"

namespace stockade::runner::linux_os {

const char* SetupStepName(SetupStep step) {
  switch (step) {
    case SetupStep::kNone:
      return "none";
    case SetupStep::kJoinCgroup:
      return "join cgroup (write tasks)";
    case SetupStep::kSetsid:
      return "setsid";
    case SetupStep::kStdio:
      return "dup2 (standard streams)";
    case SetupStep::kCloseFds:
      return "close_range(CLOSE_RANGE_CLOEXEC)";
    case SetupStep::kUserNamespace:
      return "user namespace (write uid_map/gid_map)";
    case SetupStep::kMountNamespace:
      return "unshare(CLONE_NEWNS) / mount --make-rslave /";
    case SetupStep::kProtectPath:
      return "mount (read-only bind of a protected path)";
    case SetupStep::kDenyReadDir:
      return "mount (tmpfs over a deny-read folder)";
    case SetupStep::kDenyReadFile:
      return "mount (empty file over a deny-read file)";
    case SetupStep::kBoundingSet:
      return "prctl(PR_CAPBSET_DROP)";
    case SetupStep::kSetgroups:
      return "setgroups";
    case SetupStep::kSetresgid:
      return "setresgid";
    case SetupStep::kSetresuid:
      return "setresuid";
    case SetupStep::kCapabilities:
      return "capset (drop all capabilities)";
    case SetupStep::kNoNewPrivs:
      return "prctl(PR_SET_NO_NEW_PRIVS)";
    case SetupStep::kChdir:
      return "chdir";
    case SetupStep::kLandlock:
      return "landlock_restrict_self";
    case SetupStep::kSeccomp:
      return "seccomp(SECCOMP_SET_MODE_FILTER)";
    case SetupStep::kExec:
      return "execve";
    case SetupStep::kControllingTty:
      return "ioctl(TIOCSCTTY) (controlling terminal)";
  }
  return "unknown step";
}

bool Fail(SetupFailure* failure, SetupStep step, int err, const char* detail) noexcept {
  failure->step = step;
  failure->err = err;
  std::size_t i = 0;
  if (detail != nullptr) {
    for (; i + 1 < sizeof(failure->detail) && detail[i] != '\0'; ++i) {
      failure->detail[i] = detail[i];
    }
  }
  failure->detail[i] = '\0';
  return false;
}

}  // namespace stockade::runner::linux_os
