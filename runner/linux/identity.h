// Switching the child to the sandbox identity: supplementary groups, then gid, then uid (the uid
// last, because once it is not root the other two can no longer be changed). Raw system calls:
// glibc's setresuid() and friends broadcast the change to every thread the process had, and a
// child made by clone3 from a multithreaded service has only one thread but glibc's list of the
// parent's, so the wrappers would wait for threads that do not exist.
#ifndef STOCKADE_RUNNER_LINUX_IDENTITY_H_
#define STOCKADE_RUNNER_LINUX_IDENTITY_H_

#include <sys/types.h>

#include <cstddef>

#include "runner/linux/setup_failure.h"

namespace stockade::runner::linux_os {

struct IdentityPlan {
  uid_t uid = 0;
  gid_t gid = 0;
  const gid_t* groups = nullptr;  // the complete supplementary list (may be empty)
  std::size_t group_count = 0;
};

// In the child, as root: setgroups(groups), setresgid(gid, gid, gid), setresuid(uid, uid, uid),
// then reads the ids back with getresuid/getresgid. Async-signal-safe.
bool ApplyIdentity(const IdentityPlan& plan, SetupFailure* failure) noexcept;

// In the child of the unprovisioned mode, right after clone3(CLONE_NEWUSER): maps the caller's
// own uid and gid to themselves in the new user namespace (after PR_SET_DUMPABLE, which a caller
// that changed credentials has lost; writing "deny" to setgroups first,
// which an unprivileged process must do before writing gid_map). Async-signal-safe.
bool MapSelfInUserNamespace(uid_t uid, gid_t gid, SetupFailure* failure) noexcept;

}  // namespace stockade::runner::linux_os

#endif  // STOCKADE_RUNNER_LINUX_IDENTITY_H_
