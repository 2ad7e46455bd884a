// Starts ONE restricted process tree on Linux and watches it to its end.
//
// Launch() prepares everything that needs memory or can fail in an interesting way in the
// parent (the tree's cgroup with its limits, the mount plan, the Landlock ruleset, the seccomp
// filter, argv/envp), then clone3()s the child straight into the tree's v2 cgroup. The child
// applies the restrictions in a fixed order (see docs/runner-linux.md) using system calls only,
// and reports the first failure ("which step, which errno, on what") through a close-on-exec pipe;
// an empty pipe at EOF means execve succeeded. Wait() enforces the timeout by killing the whole
// tree, reaps the first process, kills whatever it left behind (double forks, setsid, daemons),
// waits until the cgroup is empty and removes it.
//
// Two modes, chosen from the spec and the caller:
//  - provisioned (the caller is root, the spec names a sandbox uid/gid): cgroup, mount
//    namespace, identity switch, capabilities, no_new_privs, Landlock, seccomp;
//  - unprovisioned (spec.identity.same_user, caller not root): no cgroup and no identity switch;
//    a new user namespace (for the mount namespace) and a new PID namespace, whose first process
//    takes every other one with it when it dies, stand in for the cgroup's kill.
#ifndef STOCKADE_RUNNER_LINUX_LAUNCHER_H_
#define STOCKADE_RUNNER_LINUX_LAUNCHER_H_

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "runner/launch_spec.h"
#include "runner/linux/cgroup.h"
#include "runner/linux/setup_failure.h"
#include "runner/linux/unique_fd.h"

namespace stockade::runner::linux_os {

// Why Launch() failed, for callers that map failures to exit codes (the service: 125 for a
// sandbox setup failure, 126/127 for a command that cannot be executed or found).
struct LaunchFailureInfo {
  SetupStep step = SetupStep::kNone;  // the child's failing step; kNone: failed in the parent
  int err = 0;                        // its errno
  bool program_not_found = false;     // argv[0] was not found in PATH (before any clone)
};

// When each phase of a launch ended (steady clock), for bench/launch's per-phase figures. Filled
// by Launch() and Wait() when LaunchOptions::timings is set; a phase that did not run keeps {}.
struct LaunchTimings {
  using TimePoint = std::chrono::steady_clock::time_point;
  TimePoint start;           // Launch() entered
  TimePoint cgroup_ready;    // the tree's cgroup created, limits written
  TimePoint prepared;        // mount plan, Landlock ruleset, seccomp filter, argv/envp built
  TimePoint cloned;          // clone3 returned in the parent
  TimePoint exec_confirmed;  // the child's error pipe reached EOF (execve succeeded)
  TimePoint exited;          // Wait(): the first process ended (pidfd readable)
  TimePoint reaped;          // Wait(): waitid returned
  TimePoint killed;          // Cleanup: cgroup.kill written
  TimePoint emptied;         // Cleanup: the cgroup reported no process
  TimePoint removed;         // Cleanup: the tree's cgroup released (Wait() returns)
};

struct LaunchOptions {
  // Descriptors that become the tree's stdin, stdout and stderr; -1 keeps the launcher's own.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  // setsid() in the child: the tree leaves the launcher's session and controlling terminal.
  bool new_session = true;
  // With new_session: make the first of the tree's stdin, stdout, stderr that is a terminal
  // (a pty slave the client relays) the new session's controlling terminal (ioctl TIOCSCTTY),
  // so that job control, ^C and SIGWINCH work inside. None being a terminal is a setup failure.
  bool controlling_tty = false;
  // The tree's first process gets SIGKILL when the launching thread dies (PR_SET_PDEATHSIG, set
  // after the last credential change, which would clear it). For the unprovisioned mode, where
  // the client is the launcher: a client killed with SIGKILL takes the tree's PID namespace, and
  // so every process of the tree, with it. Not needed by the service (its trees live in a cgroup
  // and it kills them itself). A launcher killed between clone3 and that prctl (microseconds)
  // is not covered.
  bool kill_with_launcher = false;
  CgroupOptions cgroup;
  // Where the empty mode-000 file that covers deny-read files lives. "" = /run/stockade for root,
  // /tmp/stockade-<uid> otherwise.
  std::string runtime_dir;
  // When set, filled in by a failed Launch() (left untouched on success).
  LaunchFailureInfo* failure_info = nullptr;
  // When set, Launch() and Wait() record when each phase ended (it must outlive the tree).
  LaunchTimings* timings = nullptr;
};

struct ExitStatus {
  int code = 0;             // the exit code, or 128 + the signal that ended the first process
  int signal = 0;           // that signal, 0 when it exited
  bool timed_out = false;   // the spec's timeout expired and the tree was killed
  bool killed = false;      // Kill() was called before it ended
  bool oom_killed = false;  // the memory limit's OOM killer fired somewhere in the tree
};

class ProcessTree {
 public:
  // Starts the tree. Errors: whatever ValidateLaunchSpec or a preparation step reports (each
  // names what failed on what); kNotElevated when a sandbox identity is asked for without root;
  // kNotFound when argv[0] is not in PATH; a failure in the child is reported with its step and
  // errno (kPermissionDenied for EACCES/EPERM, kNotFound for ENOENT, kOs otherwise), e.g.
  // "sandbox setup failed in the child at chdir on '/w' (E_PERMISSION_DENIED, errno 13: ...)".
  static Expected<ProcessTree> Launch(const LaunchSpec& spec, const LaunchOptions& options);

  ProcessTree(ProcessTree&&) noexcept = default;
  ProcessTree& operator=(ProcessTree&&) = delete;  // would drop a live tree on the floor
  ProcessTree(const ProcessTree&) = delete;
  ProcessTree& operator=(const ProcessTree&) = delete;
  // A tree never outlives its handle: kills, reaps and cleans up when Wait() was not called.
  ~ProcessTree();

  pid_t pid() const { return pid_; }
  // Readable (POLLIN) once the first process has exited; for event loops.
  int pidfd() const { return pidfd_.get(); }
  // The tree's cgroup folders (empty in the unprovisioned mode).
  std::vector<std::string> cgroup_paths() const;
  // Every process in the tree now (the first process only, in the unprovisioned mode).
  Expected<std::vector<pid_t>> Processes() const;

  // Kills the whole tree now (Ctrl-C, a client gone). Wait() still has to be called.
  Status Kill();
  // Waits for the first process (at most until the spec's timeout, then kills the tree), then
  // kills what is left of the tree, waits until it is empty and removes its cgroup.
  // Errors: kOs / kTimeout when the tree cannot be reaped or emptied (named).
  Expected<ExitStatus> Wait();

 private:
  ProcessTree() = default;
  Status KillNow();
  Status Cleanup();

  pid_t pid_ = -1;
  UniqueFd pidfd_;
  std::optional<TreeCgroup> cgroup_;
  std::chrono::steady_clock::time_point deadline_{};
  bool has_deadline_ = false;
  bool killed_ = false;
  bool timed_out_ = false;
  bool reaped_ = false;
  bool done_ = false;
  LaunchTimings* timings_ = nullptr;
};

// Launch + Wait.
Expected<ExitStatus> RunTree(const LaunchSpec& spec, const LaunchOptions& options);

}  // namespace stockade::runner::linux_os

#endif  // STOCKADE_RUNNER_LINUX_LAUNCHER_H_
