#include "runner/linux/launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "runner/linux/caps.h"
#include "runner/linux/child_util.h"
#include "runner/linux/identity.h"
#include "runner/linux/landlock.h"
#include "runner/linux/mount_ns.h"
#include "runner/linux/seccomp.h"
#include "runner/linux/setup_failure.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif

namespace stockade::runner::linux_os {

namespace {

constexpr unsigned long long kClonePidfd = 0x00001000ULL;
constexpr unsigned long long kCloneNewUser = 0x10000000ULL;
constexpr unsigned long long kCloneNewPid = 0x20000000ULL;
constexpr unsigned long long kCloneIntoCgroup = 0x200000000ULL;
constexpr unsigned kCloseRangeCloexec = 1U << 2;

// struct clone_args (clone3), up to CLONE_INTO_CGROUP's field (size 88, "CLONE_ARGS_SIZE_VER2").
struct CloneArgs {
  std::uint64_t flags;
  std::uint64_t pidfd;
  std::uint64_t child_tid;
  std::uint64_t parent_tid;
  std::uint64_t exit_signal;
  std::uint64_t stack;
  std::uint64_t stack_size;
  std::uint64_t tls;
  std::uint64_t set_tid;
  std::uint64_t set_tid_size;
  std::uint64_t cgroup;
};

// The kernel's struct sigaction for rt_sigaction (glibc's differs).
struct KernelSigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)();
  std::uint64_t mask;
};

// Everything the child needs, prepared by the parent: plain pointers and numbers only.
struct ChildPlan {
  const int* join_fds = nullptr;
  std::size_t join_count = 0;
  bool user_ns = false;
  uid_t self_uid = 0;
  gid_t self_gid = 0;
  bool new_session = true;
  bool controlling_tty = false;
  bool kill_with_launcher = false;
  int stdio[3] = {-1, -1, -1};
  int error_fd = -1;
  const MountPlan* mounts = nullptr;
  int last_cap = 40;
  bool switch_identity = false;
  IdentityPlan identity;
  const char* cwd = nullptr;
  int landlock_fd = -1;
  std::uint32_t landlock_flags = 0;
  const SeccompProgram* seccomp = nullptr;
  const char* exec_path = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
};

[[noreturn]] void ChildExit(int code) noexcept {
  ::syscall(SYS_exit_group, code);
  __builtin_unreachable();
}

[[noreturn]] void ChildReport(const ChildPlan& plan, const SetupFailure& failure) noexcept {
  child::WriteAll(plan.error_fd, &failure, sizeof(failure));
  ChildExit(127);
}

bool ResetSignals() noexcept {
  // Ignored signals stay ignored across execve: a service that ignores SIGPIPE would hand that
  // to the tree. Handlers are reset by execve anyway, but the parent's could run until then.
  KernelSigaction dfl{};
  dfl.handler = SIG_DFL;
  for (int sig = 1; sig < 65; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::syscall(SYS_rt_sigaction, sig, &dfl, nullptr, sizeof(dfl.mask));
  }
  return true;
}

bool SetupStdio(const ChildPlan& plan, SetupFailure* failure) noexcept {
  // Move the sources out of 0..2 first, so that a source that is another slot's target (stdout
  // given as stderr) is not clobbered.
  int moved[3] = {-1, -1, -1};
  for (int i = 0; i < 3; ++i) {
    if (plan.stdio[i] < 0) continue;
    moved[i] = static_cast<int>(::syscall(SYS_fcntl, plan.stdio[i], F_DUPFD_CLOEXEC, 3));
    if (moved[i] < 0) return Fail(failure, SetupStep::kStdio, errno, "fcntl(F_DUPFD_CLOEXEC)");
  }
  for (int i = 0; i < 3; ++i) {
    if (moved[i] < 0) continue;
    if (::syscall(SYS_dup2, moved[i], i) < 0)
      return Fail(failure, SetupStep::kStdio, errno, nullptr);
  }
  return true;
}

[[noreturn]] void ChildMain(const ChildPlan& plan) noexcept {
  SetupFailure failure;
  ResetSignals();
  // First of all, so that every later step (and every process) is counted and killable.
  for (std::size_t i = 0; i < plan.join_count; ++i) {
    if (!child::WriteAll(plan.join_fds[i], "0", 1)) {
      Fail(&failure, SetupStep::kJoinCgroup, errno, nullptr);
      ChildReport(plan, failure);
    }
  }
  if (plan.user_ns && !MapSelfInUserNamespace(plan.self_uid, plan.self_gid, &failure)) {
    ChildReport(plan, failure);
  }
  if (plan.new_session && ::syscall(SYS_setsid) < 0) {
    Fail(&failure, SetupStep::kSetsid, errno, nullptr);
    ChildReport(plan, failure);
  }
  if (!SetupStdio(plan, &failure)) ChildReport(plan, failure);
  if (plan.controlling_tty) {
    // The first standard stream that is a terminal; TIOCSCTTY with 0 never steals a terminal
    // that is already another session's controlling terminal.
    int err = ENOTTY;
    bool done = false;
    for (int fd = 0; fd < 3 && !done; ++fd) {
      if (::syscall(SYS_ioctl, fd, TIOCSCTTY, 0) == 0) {
        done = true;
      } else {
        err = errno;
      }
    }
    if (!done) {
      Fail(&failure, SetupStep::kControllingTty, err, nullptr);
      ChildReport(plan, failure);
    }
  }
  // Nothing but 0..2 may reach the command: the service's sockets, the audit store, the other
  // trees' pipes. Marked close-on-exec rather than closed, so that the error pipe survives
  // until execve succeeds.
  if (::syscall(SYS_close_range, 3U, ~0U, kCloseRangeCloexec) != 0) {
    Fail(&failure, SetupStep::kCloseFds, errno, nullptr);
    ChildReport(plan, failure);
  }
  if (!plan.mounts->empty() && !ApplyMountPlan(*plan.mounts, &failure)) ChildReport(plan, failure);
  // While still privileged: the bounding set needs CAP_SETPCAP.
  if (!DropBoundingSet(plan.last_cap, &failure)) ChildReport(plan, failure);
  if (plan.switch_identity && !ApplyIdentity(plan.identity, &failure)) ChildReport(plan, failure);
  if (!ClearCapabilities(&failure)) ChildReport(plan, failure);
  if (!SetNoNewPrivs(&failure)) ChildReport(plan, failure);
  // After every credential change (commit_creds clears the parent-death signal).
  if (plan.kill_with_launcher && ::syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) {
    Fail(&failure, SetupStep::kNoNewPrivs, errno, "prctl(PR_SET_PDEATHSIG)");
    ChildReport(plan, failure);
  }
  // As the identity: a folder it may not enter fails here, not later inside the command.
  if (::syscall(SYS_chdir, plan.cwd) != 0) {
    Fail(&failure, SetupStep::kChdir, errno, plan.cwd);
    ChildReport(plan, failure);
  }
  if (!ApplyLandlock(plan.landlock_fd, plan.landlock_flags, &failure)) ChildReport(plan, failure);
  std::uint64_t empty_mask = 0;
  ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty_mask, nullptr, sizeof(empty_mask));
  // Last: the filter refuses calls made above (mount, unshare).
  if (!ApplySeccomp(*plan.seccomp, &failure)) ChildReport(plan, failure);
  ::syscall(SYS_execve, plan.exec_path, plan.argv, plan.envp);
  Fail(&failure, SetupStep::kExec, errno, plan.exec_path);
  ChildReport(plan, failure);
}

// argv[0] as given when it holds a '/', else the first executable match in the spec's PATH.
Expected<std::string> ResolveProgram(const LaunchSpec& spec) {
  const std::string& name = spec.argv[0];
  if (name.find('/') != std::string::npos) return name;
  std::string path = "/usr/local/bin:/usr/bin:/bin";
  for (const auto& e : spec.env) {
    if (e.compare(0, 5, "PATH=") == 0) path = e.substr(5);
  }
  std::size_t start = 0;
  for (;;) {
    const std::size_t colon = path.find(':', start);
    std::string dir = path.substr(start, colon == std::string::npos ? colon : colon - start);
    if (dir.empty()) dir = spec.cwd;
    const std::string candidate = dir + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) != 0) {
      return candidate;
    }
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return Error(ErrorCode::kNotFound, "program '" + name + "' not found in PATH " + path);
}

ErrorCode CodeForErrno(int err) {
  if (err == EACCES || err == EPERM) return ErrorCode::kPermissionDenied;
  if (err == ENOENT) return ErrorCode::kNotFound;
  return ErrorCode::kOs;
}

std::string DefaultRuntimeDir() {
  if (::geteuid() == 0) return "/run/stockade";
  return "/tmp/stockade-" + std::to_string(::geteuid());
}

// Records "now" as the end of a phase when the caller asked for timings.
void Stamp(LaunchTimings* timings, LaunchTimings::TimePoint LaunchTimings::*phase) {
  if (timings != nullptr) timings->*phase = std::chrono::steady_clock::now();
}

// Blocks every signal for the lifetime of the object (around clone3, so that no handler of the
// parent runs in the child before it has reset them).
class BlockAllSignals {
 public:
  BlockAllSignals() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old_);
  }
  ~BlockAllSignals() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  BlockAllSignals(const BlockAllSignals&) = delete;
  BlockAllSignals& operator=(const BlockAllSignals&) = delete;

 private:
  sigset_t old_;
};

}  // namespace

Expected<ProcessTree> ProcessTree::Launch(const LaunchSpec& spec, const LaunchOptions& options) {
  STOCKADE_RETURN_IF_ERROR(ValidateLaunchSpec(spec));
  const bool root = ::geteuid() == 0;
  if (!spec.identity.same_user && !root) {
    return Error(ErrorCode::kNotElevated,
                 "running as sandbox identity '" + spec.identity.name +
                     "' needs root (the service); without it use the unprovisioned mode");
  }
  const bool user_ns = spec.identity.same_user && !root;
  Stamp(options.timings, &LaunchTimings::start);

  ProcessTree tree;
  tree.timings_ = options.timings;
  if (root) {
    auto layout = DetectCgroupLayout();
    if (!layout.ok()) return layout.error().Wrap("launch: cgroups");
    auto cg = TreeCgroup::Create(*layout, options.cgroup, spec.limits);
    if (!cg.ok()) return cg.error().Wrap("launch: cgroup of the tree");
    tree.cgroup_.emplace(std::move(*cg));
  }
  Stamp(options.timings, &LaunchTimings::cgroup_ready);

  auto mounts =
      PlanMounts(spec, options.runtime_dir.empty() ? DefaultRuntimeDir() : options.runtime_dir);
  if (!mounts.ok()) return mounts.error().Wrap("launch: mount plan");
  auto landlock = BuildLandlockRuleset(spec);
  if (!landlock.ok()) return landlock.error().Wrap("launch: Landlock");
  auto seccomp = SeccompProgramFor(SeccompKindFor(spec));
  if (!seccomp.ok()) return seccomp.error().Wrap("launch: seccomp");
  auto program = ResolveProgram(spec);
  if (!program.ok()) {
    if (options.failure_info != nullptr && program.error().code() == ErrorCode::kNotFound) {
      options.failure_info->program_not_found = true;
    }
    return program.error().Wrap("launch");
  }

  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  std::vector<gid_t> groups(spec.identity.supplementary_gids.begin(),
                            spec.identity.supplementary_gids.end());

  Stamp(options.timings, &LaunchTimings::prepared);

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return ErrnoError(ErrorCode::kOs, "launch: pipe2", errno);
  UniqueFd error_read(pipe_fds[0]);
  UniqueFd error_write(pipe_fds[1]);

  ChildPlan plan;
  if (tree.cgroup_) {
    plan.join_fds = tree.cgroup_->join_fds().data();
    plan.join_count = tree.cgroup_->join_fds().size();
  }
  plan.user_ns = user_ns;
  plan.self_uid = ::geteuid();
  plan.self_gid = ::getegid();
  plan.new_session = options.new_session;
  plan.controlling_tty = options.new_session && options.controlling_tty;
  plan.kill_with_launcher = options.kill_with_launcher;
  plan.stdio[0] = options.stdin_fd;
  plan.stdio[1] = options.stdout_fd;
  plan.stdio[2] = options.stderr_fd;
  plan.error_fd = error_write.get();
  plan.mounts = &*mounts;
  plan.last_cap = LastCapability();
  plan.switch_identity = !spec.identity.same_user;
  plan.identity.uid = spec.identity.uid;
  plan.identity.gid = spec.identity.gid;
  plan.identity.groups = groups.data();
  plan.identity.group_count = groups.size();
  plan.cwd = spec.cwd.c_str();
  plan.landlock_fd = landlock->fd.get();
  plan.landlock_flags = landlock->restrict_flags;
  plan.seccomp = seccomp->get();
  plan.exec_path = program->c_str();
  plan.argv = argv.data();
  plan.envp = envp.data();

  int pidfd = -1;
  CloneArgs args{};
  args.flags = kClonePidfd;
  args.pidfd = reinterpret_cast<std::uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  if (tree.cgroup_ && tree.cgroup_->clone_into_fd() >= 0) {
    args.flags |= kCloneIntoCgroup;
    args.cgroup = static_cast<std::uint64_t>(tree.cgroup_->clone_into_fd());
  }
  if (user_ns) args.flags |= kCloneNewUser | kCloneNewPid;

  long pid = 0;
  {
    BlockAllSignals blocked;
    pid = ::syscall(SYS_clone3, &args, sizeof(args));
    if (pid == 0) ChildMain(plan);
  }
  if (pid < 0) {
    const int err = errno;
    return ErrnoError(err == ENOSYS || err == E2BIG ? ErrorCode::kUnsupported : CodeForErrno(err),
                      "launch: clone3" + std::string(user_ns ? " (new user and PID namespaces)"
                                                             : " into the tree's cgroup"),
                      err);
  }
  Stamp(options.timings, &LaunchTimings::cloned);
  tree.pid_ = static_cast<pid_t>(pid);
  tree.pidfd_.Reset(pidfd);
  if (spec.timeout.count() > 0) {
    tree.has_deadline_ = true;
    tree.deadline_ = std::chrono::steady_clock::now() + spec.timeout;
  }
  error_write.Reset();

  SetupFailure failure;
  ssize_t got = 0;
  do {
    got = ::read(error_read.get(), &failure, sizeof(failure));
  } while (got < 0 && errno == EINTR);
  if (got == 0) {  // execve succeeded and closed the pipe
    Stamp(options.timings, &LaunchTimings::exec_confirmed);
    return tree;
  }

  // The child failed (it has exited with 127): reap it, clean up, and say where it failed.
  siginfo_t info{};
  ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(tree.pidfd_.get()), &info, WEXITED);
  tree.reaped_ = true;
  tree.done_ = true;
  if (tree.cgroup_) {
    (void)tree.cgroup_->Kill();
    (void)tree.cgroup_->WaitUntilEmpty(std::chrono::seconds(5));
    (void)tree.cgroup_->Remove();
  }
  if (got != static_cast<ssize_t>(sizeof(failure))) {
    return Error(ErrorCode::kInternal, "launch: the child reported a truncated setup failure");
  }
  failure.detail[sizeof(failure.detail) - 1] = '\0';
  if (options.failure_info != nullptr) {
    options.failure_info->step = failure.step;
    options.failure_info->err = failure.err;
  }
  std::string context =
      "sandbox setup failed in the child at " + std::string(SetupStepName(failure.step));
  if (failure.detail[0] != '\0') context += " on '" + std::string(failure.detail) + "'";
  return ErrnoError(CodeForErrno(failure.err), context, failure.err);
}

ProcessTree::~ProcessTree() {
  if (!pidfd_.valid() || done_) return;
  (void)Kill();
  (void)Wait();
}

std::vector<std::string> ProcessTree::cgroup_paths() const {
  return cgroup_ ? cgroup_->paths() : std::vector<std::string>();
}

Expected<std::vector<pid_t>> ProcessTree::Processes() const {
  if (cgroup_) return cgroup_->Processes();
  std::vector<pid_t> pids;
  if (!reaped_) pids.push_back(pid_);
  return pids;
}

Status ProcessTree::KillNow() {
  if (cgroup_) return cgroup_->Kill();
  // Unprovisioned: the first process is the PID namespace's init; the kernel kills every other
  // process of the namespace when it dies.
  if (!reaped_ && ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0) != 0 &&
      errno != ESRCH) {
    return ErrnoError(ErrorCode::kOs, "pidfd_send_signal(SIGKILL) to " + std::to_string(pid_),
                      errno);
  }
  return OkStatus();
}

Status ProcessTree::Kill() {
  if (done_) return OkStatus();
  killed_ = true;
  return KillNow();
}

Expected<ExitStatus> ProcessTree::Wait() {
  if (done_) return Error(ErrorCode::kInvalidArgument, "ProcessTree::Wait called twice");
  for (;;) {
    int timeout_ms = -1;
    if (has_deadline_) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline_ - std::chrono::steady_clock::now());
      timeout_ms = static_cast<int>(std::max<long long>(0, left.count()));
    }
    pollfd p{pidfd_.get(), POLLIN, 0};
    const int rc = ::poll(&p, 1, timeout_ms);
    if (rc < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(ErrorCode::kOs, "poll on the tree's pidfd", errno);
    }
    if (rc > 0) {
      Stamp(timings_, &LaunchTimings::exited);
      break;
    }
    // Timeout: kill the whole tree, then reap.
    timed_out_ = true;
    STOCKADE_RETURN_IF_ERROR(KillNow());
    break;
  }
  siginfo_t info{};
  for (;;) {
    if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), &info, WEXITED) ==
        0) {
      break;
    }
    if (errno != EINTR) return ErrnoError(ErrorCode::kOs, "waitid(P_PIDFD)", errno);
  }
  reaped_ = true;
  Stamp(timings_, &LaunchTimings::reaped);
  ExitStatus status;
  if (info.si_code == CLD_EXITED) {
    status.code = info.si_status;
  } else {
    status.signal = info.si_status;
    status.code = 128 + info.si_status;
  }
  status.timed_out = timed_out_;
  status.killed = killed_;
  if (cgroup_) {
    auto oom = cgroup_->OomKillCount();
    status.oom_killed = oom.ok() && *oom > 0;
  }
  STOCKADE_RETURN_IF_ERROR(Cleanup());
  done_ = true;
  return status;
}

Status ProcessTree::Cleanup() {
  if (!cgroup_) return OkStatus();
  // The first process is gone; anything it started (double fork, setsid, nohup, a daemon) dies
  // with the cgroup now.
  STOCKADE_RETURN_IF_ERROR(cgroup_->Kill());
  Stamp(timings_, &LaunchTimings::killed);
  STOCKADE_RETURN_IF_ERROR(cgroup_->WaitUntilEmpty(std::chrono::seconds(10)));
  Stamp(timings_, &LaunchTimings::emptied);
  STOCKADE_RETURN_IF_ERROR(cgroup_->Remove());
  Stamp(timings_, &LaunchTimings::removed);
  return OkStatus();
}

Expected<ExitStatus> RunTree(const LaunchSpec& spec, const LaunchOptions& options) {
  auto tree = ProcessTree::Launch(spec, options);
  if (!tree.ok()) return tree.error();
  return tree->Wait();
}

}  // namespace stockade::runner::linux_os
