// How the launched child says which step of its setup failed. The child runs between clone and
// execve in a copy of a possibly multithreaded parent, so it may not allocate or take locks: it
// fills this fixed-size record on its stack and writes it to a close-on-exec pipe, and the parent
// turns it into an Error. An exec that succeeds closes the pipe with nothing written.
#ifndef STOCKADE_RUNNER_LINUX_SETUP_FAILURE_H_
#define STOCKADE_RUNNER_LINUX_SETUP_FAILURE_H_

#include <cstdint>

namespace stockade::runner::linux_os {

// Each step the child performs, in order. The names (SetupStepName) are what users read.
enum class SetupStep : std::uint32_t {
  kNone = 0,
  kJoinCgroup,      // write "0" to a v1 cgroup's tasks file
  kSetsid,          // setsid
  kStdio,           // dup2 of the relayed descriptors
  kCloseFds,        // close_range(CLOSE_RANGE_CLOEXEC)
  kUserNamespace,   // /proc/self/{setgroups,uid_map,gid_map} (unprovisioned mode)
  kMountNamespace,  // unshare(CLONE_NEWNS) and mount --make-rslave /
  kProtectPath,     // read-only bind mount of a protected path
  kDenyReadDir,     // empty tmpfs over a deny-read folder
  kDenyReadFile,    // empty file bound over a deny-read file
  kBoundingSet,     // prctl(PR_CAPBSET_DROP)
  kSetgroups,       // setgroups
  kSetresgid,       // setresgid
  kSetresuid,       // setresuid
  kCapabilities,    // capset / ambient clear
  kNoNewPrivs,      // prctl(PR_SET_NO_NEW_PRIVS)
  kChdir,           // chdir to the working folder
  kLandlock,        // landlock_restrict_self
  kSeccomp,         // seccomp(SECCOMP_SET_MODE_FILTER)
  kExec,            // execve
  kControllingTty,  // ioctl(TIOCSCTTY) on the relayed terminal (after setsid, before dup2s end)
};

// "setresuid", "landlock_restrict_self", ...: the system call (and what it was for).
const char* SetupStepName(SetupStep step);

struct SetupFailure {
  SetupStep step = SetupStep::kNone;
  std::int32_t err = 0;   // errno of the failing call
  char detail[240] = {};  // the path or value it failed on (NUL-terminated, may be empty)
};

// Records a failure; async-signal-safe (no allocation), `detail` may be null. Returns false so
// that child code can write `return Fail(...)`.
bool Fail(SetupFailure* failure, SetupStep step, int err, const char* detail) noexcept;

}  // namespace stockade::runner::linux_os

#endif  // STOCKADE_RUNNER_LINUX_SETUP_FAILURE_H_
