#include "runner/linux/caps.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

namespace stockade::runner::linux_os {

int LastCapability() {
  std::ifstream in("/proc/sys/kernel/cap_last_cap");
  int last = 0;
  if (in >> last && last > 0 && last < 64) return last;
  return 40;
}

bool DropBoundingSet(int last_cap, SetupFailure* failure) noexcept {
  for (int cap = 0; cap <= last_cap; ++cap) {
    if (::syscall(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      return Fail(failure, SetupStep::kBoundingSet, errno, nullptr);
    }
  }
  for (int cap = 0; cap <= last_cap; ++cap) {
    if (::syscall(SYS_prctl, PR_CAPBSET_READ, cap, 0, 0, 0) == 1) {
      return Fail(failure, SetupStep::kBoundingSet, EPERM,
                  "a capability stayed in the bounding set");
    }
  }
  return true;
}

bool ClearCapabilities(SetupFailure* failure) noexcept {
  if (::syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 &&
      errno != EINVAL) {
    return Fail(failure, SetupStep::kCapabilities, errno, "PR_CAP_AMBIENT_CLEAR_ALL");
  }
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capset, &header, data) != 0) {
    return Fail(failure, SetupStep::kCapabilities, errno, "capset");
  }
  __user_cap_data_struct back[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, back) != 0) {
    return Fail(failure, SetupStep::kCapabilities, errno, "capget");
  }
  for (const auto& d : back) {
    if (d.effective != 0 || d.permitted != 0 || d.inheritable != 0) {
      return Fail(failure, SetupStep::kCapabilities, EPERM, "capabilities read back non-zero");
    }
  }
  return true;
}

bool SetNoNewPrivs(SetupFailure* failure) noexcept {
  if (::syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return Fail(failure, SetupStep::kNoNewPrivs, errno, nullptr);
  }
  if (::syscall(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
    return Fail(failure, SetupStep::kNoNewPrivs, EPERM, "no_new_privs reads back 0");
  }
  return true;
}

}  // namespace stockade::runner::linux_os
