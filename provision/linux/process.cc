#include "provision/linux/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace stockade::provision::linux_os {
namespace {

// Owns a file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

std::string ProgramResult::Summary() const {
  std::string what = exit_code >= 0 ? "exit status " + std::to_string(exit_code)
                                    : "killed by signal " + std::to_string(term_signal);
  std::string msg = Trim(err.empty() ? out : err);
  // Keep a single line: tools sometimes print several.
  for (char& c : msg) {
    if (c == '\n') c = ';';
  }
  return msg.empty() ? what : what + ": " + msg;
}

Expected<ProgramResult> RunProgram(const std::vector<std::string>& argv,
                                   std::chrono::milliseconds timeout) {
  if (argv.empty() || argv[0].empty() || argv[0][0] != '/') {
    return Error(ErrorCode::kInvalidArgument, "RunProgram needs an absolute program path");
  }
  // Everything the child needs is prepared before fork: after fork only async-signal-safe calls.
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  static char kPath[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
  static char kLang[] = "LC_ALL=C";
  char* envp[] = {kPath, kLang, nullptr};

  int out_pipe[2], err_pipe[2], exec_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0)
    return ErrnoError(ErrorCode::kOs, "pipe for " + argv[0], errno);
  Fd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (pipe2(err_pipe, O_CLOEXEC) != 0)
    return ErrnoError(ErrorCode::kOs, "pipe for " + argv[0], errno);
  Fd err_r(err_pipe[0]), err_w(err_pipe[1]);
  // Reports an execve failure: closed by a successful exec (O_CLOEXEC), or carries errno.
  if (pipe2(exec_pipe, O_CLOEXEC) != 0) {
    return ErrnoError(ErrorCode::kOs, "pipe for " + argv[0], errno);
  }
  Fd exec_r(exec_pipe[0]), exec_w(exec_pipe[1]);

  pid_t pid = fork();
  if (pid < 0) return ErrnoError(ErrorCode::kOs, "fork to run " + argv[0], errno);
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_w.get(), 1) < 0 ||
        dup2(err_w.get(), 2) < 0) {
      int e = errno;
      (void)!write(exec_w.get(), &e, sizeof e);
      _exit(127);
    }
    // Close every other descriptor except the exec-status pipe (which is close-on-exec).
    int keep = exec_w.get();
    if (keep > 3) syscall(SYS_close_range, 3u, static_cast<unsigned>(keep - 1), 0u);
    syscall(SYS_close_range, static_cast<unsigned>(keep + 1), ~0u, 0u);
    execve(args[0], args.data(), envp);
    int e = errno;
    (void)!write(keep, &e, sizeof e);
    _exit(127);
  }
  out_w.Reset();
  err_w.Reset();
  exec_w.Reset();

  ProgramResult result;
  int exec_errno = 0;
  bool exec_known = false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  bool out_open = true, err_open = true, exec_open = true;
  char buf[4096];
  while (out_open || err_open || exec_open) {
    pollfd fds[3];
    nfds_t n = 0;
    int idx_out = -1, idx_err = -1, idx_exec = -1;
    if (out_open) {
      idx_out = static_cast<int>(n);
      fds[n++] = {out_r.get(), POLLIN, 0};
    }
    if (err_open) {
      idx_err = static_cast<int>(n);
      fds[n++] = {err_r.get(), POLLIN, 0};
    }
    if (exec_open) {
      idx_exec = static_cast<int>(n);
      fds[n++] = {exec_r.get(), POLLIN, 0};
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    int r = poll(fds, n, static_cast<int>(left.count()));
    if (r < 0) {
      if (errno == EINTR) continue;
      timed_out = true;  // cannot wait any more; kill below
      break;
    }
    auto drain = [&](int idx, const Fd& fd, std::string* into, bool* open_flag) {
      if (idx < 0 || fds[idx].revents == 0) return;
      ssize_t got = read(fd.get(), buf, sizeof buf);
      if (got > 0) {
        if (into != nullptr) into->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        *open_flag = false;
      }
    };
    drain(idx_out, out_r, &result.out, &out_open);
    drain(idx_err, err_r, &result.err, &err_open);
    if (idx_exec >= 0 && fds[idx_exec].revents != 0) {
      ssize_t got = read(exec_r.get(), &exec_errno, sizeof exec_errno);
      if (got == static_cast<ssize_t>(sizeof exec_errno)) exec_known = true;
      if (got <= 0 || exec_known) exec_open = false;
    }
  }
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoError(ErrorCode::kOs, "waitpid for " + argv[0], errno);
  }
  if (exec_known) return ErrnoError(ErrorCode::kOs, "execve " + argv[0], exec_errno);
  if (timed_out) {
    return Error(ErrorCode::kTimeout, argv[0] + " did not finish within " +
                                          std::to_string(timeout.count()) + " ms (killed)");
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.term_signal = WTERMSIG(status);
  }
  return result;
}

}  // namespace stockade::provision::linux_os
