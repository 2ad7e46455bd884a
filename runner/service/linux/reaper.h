// Orphans of the trees. A process of a tree whose parent dies is reparented to the nearest
// "child subreaper" above it; without one it goes to PID 1, and on machines whose PID 1 does not
// reap (containers, this development VM) every killed daemon of a tree stays a zombie forever
// (and, until reaped, counts against its tree's pids limit). The service makes itself a
// subreaper, so the kernel hands a tree's orphans to the service's first live thread — its main
// thread (kernel/exit.c find_new_reaper: the first thread of the subreaper's thread group that
// is not exiting), which reaps them (Server::ReapAdopted, on SIGCHLD).
//
// The launcher waits for the tree's first process through its pidfd and needs its exit status:
// nothing here may reap it. The roots are children of the connection threads that launched
// them, and reaping here is per thread (__WNOTHREAD: a thread sees only its own children), from
// a thread that launches nothing, so a root is never among what it can reap. As a second
// guard, ReapZombiesOfThisThread looks first (WNOWAIT) and leaves `keep` alone.
#ifndef STOCKADE_RUNNER_SERVICE_LINUX_REAPER_H_
#define STOCKADE_RUNNER_SERVICE_LINUX_REAPER_H_

#include <sys/types.h>

#include <cstddef>

#include "core/error.h"

namespace stockade::runner::service::linux_os {

// PR_SET_CHILD_SUBREAPER on, read back with PR_GET_CHILD_SUBREAPER. *was: the value before (to
// put back at stop). Errors: kOs; kVerificationFailed when the read-back differs.
Status BecomeSubreaper(bool* was);
// Puts the subreaper attribute back to `was`.
void RestoreSubreaper(bool was);

// Reaps the zombie children of the calling thread, except `keep` (a tree root its launcher
// waits for; -1: none). Never blocks; never reaps a child of another thread. Returns how many.
std::size_t ReapZombiesOfThisThread(pid_t keep);

}  // namespace stockade::runner::service::linux_os

#endif  // STOCKADE_RUNNER_SERVICE_LINUX_REAPER_H_
