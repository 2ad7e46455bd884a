#include "runner/service/linux/reaper.h"

#include <sys/prctl.h>
#include <sys/wait.h>

#include <cerrno>

namespace stockade::runner::service::linux_os {

namespace {

// Only the calling thread's children; "clone" children (exit signal other than SIGCHLD) too.
constexpr int kThreadChildren = __WNOTHREAD | __WALL;

}  // namespace

Status BecomeSubreaper(bool* was) {
  int before = 0;
  if (::prctl(PR_GET_CHILD_SUBREAPER, &before, 0, 0, 0) != 0) {
    return ErrnoError(ErrorCode::kOs, "prctl(PR_GET_CHILD_SUBREAPER)", errno);
  }
  *was = before != 0;
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
    return ErrnoError(ErrorCode::kOs, "prctl(PR_SET_CHILD_SUBREAPER, 1)", errno);
  }
  int after = 0;
  if (::prctl(PR_GET_CHILD_SUBREAPER, &after, 0, 0, 0) != 0 || after == 0) {
    return Error(ErrorCode::kVerificationFailed,
                 "PR_SET_CHILD_SUBREAPER succeeded but PR_GET_CHILD_SUBREAPER reads it off");
  }
  return OkStatus();
}

void RestoreSubreaper(bool was) { (void)::prctl(PR_SET_CHILD_SUBREAPER, was ? 1 : 0, 0, 0, 0); }

std::size_t ReapZombiesOfThisThread(pid_t keep) {
  std::size_t reaped = 0;
  for (;;) {
    // Look first (WNOWAIT): the zombie might be the tree's root, which is not ours to reap.
    siginfo_t info{};
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT | kThreadChildren) != 0) {
      if (errno == EINTR) continue;
      return reaped;  // ECHILD: no child at all
    }
    if (info.si_pid == 0 || info.si_pid == keep) return reaped;  // none, or only the root ended
    siginfo_t gone{};
    if (::waitid(P_PID, static_cast<id_t>(info.si_pid), &gone,
                 WEXITED | WNOHANG | kThreadChildren) == 0 &&
        gone.si_pid == info.si_pid) {
      ++reaped;
    }
  }
}

}  // namespace stockade::runner::service::linux_os
