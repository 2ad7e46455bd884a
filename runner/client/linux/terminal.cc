#include "runner/client/linux/terminal.h"

#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <string>

namespace stockade::runner::client::linux_os {

namespace {

// The one active RawMode's state, read by signal handlers (plain data, set before the handlers
// are installed and cleared after they are removed).
int g_raw_fd = -1;
struct termios g_saved_termios;
struct termios g_raw_termios;

constexpr int kFatalSignals[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, SIGQUIT};
struct sigaction g_old_fatal[sizeof(kFatalSignals) / sizeof(kFatalSignals[0])];
struct sigaction g_old_tstp;

void RestoreTerminal() {
  if (g_raw_fd >= 0) ::tcsetattr(g_raw_fd, TCSADRAIN, &g_saved_termios);
}

// A fatal signal: give the user their terminal back, then die of the signal as usual (the
// default action is restored first, and the signal is still blocked while the handler runs, so
// raising it again takes effect on return).
void OnFatalSignal(int sig) {
  const int saved_errno = errno;
  RestoreTerminal();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
  errno = saved_errno;
}

// Job control from outside (raw mode turns the keyboard's ^Z into a byte for the tree): the
// user's shell must get a sane terminal while we are stopped, and we go raw again on resume.
void OnStop(int) {
  const int saved_errno = errno;
  RestoreTerminal();
  ::kill(::getpid(), SIGSTOP);
  if (g_raw_fd >= 0) ::tcsetattr(g_raw_fd, TCSADRAIN, &g_raw_termios);
  errno = saved_errno;
}

Status SetFlags(int fd, int add_fd_flags, int add_fl_flags, const char* what) {
  const int fdf = ::fcntl(fd, F_GETFD);
  const int fl = ::fcntl(fd, F_GETFL);
  if (fdf < 0 || fl < 0 || ::fcntl(fd, F_SETFD, fdf | add_fd_flags) != 0 ||
      ::fcntl(fd, F_SETFL, fl | add_fl_flags) != 0) {
    return ErrnoError(ErrorCode::kOs, std::string("fcntl on the pty ") + what, errno);
  }
  return OkStatus();
}

}  // namespace

Expected<StdioPlan> PrepareStdio() {
  StdioPlan plan;
  bool tty[3] = {};
  for (int fd = 0; fd < 3; ++fd) {
    tty[fd] = ::isatty(fd) == 1;
    if (tty[fd] && plan.user_tty < 0) plan.user_tty = fd;
  }
  if (plan.user_tty < 0) return plan;

  struct termios settings {};
  if (::tcgetattr(plan.user_tty, &settings) != 0) {
    return ErrnoError(ErrorCode::kOs,
                      "tcgetattr on the terminal (fd " + std::to_string(plan.user_tty) + ")",
                      errno);
  }
  struct winsize size {};
  const bool have_size = ::ioctl(plan.user_tty, TIOCGWINSZ, &size) == 0;
  int master = -1;
  int slave = -1;
  // The slave starts with the user's own settings (echo, canonical mode, ^C as interrupt...):
  // the tree sees the terminal the user had, and the user's is the one that goes raw.
  if (::openpty(&master, &slave, nullptr, &settings, have_size ? &size : nullptr) != 0) {
    return ErrnoError(ErrorCode::kOs, "openpty", errno);
  }
  plan.master.Reset(master);
  plan.slave.Reset(slave);
  STOCKADE_RETURN_IF_ERROR(SetFlags(master, FD_CLOEXEC, O_NONBLOCK, "master"));
  STOCKADE_RETURN_IF_ERROR(SetFlags(slave, FD_CLOEXEC, 0, "slave"));
  for (int fd = 0; fd < 3; ++fd) {
    if (tty[fd]) plan.pass[fd] = slave;
  }
  plan.stdin_is_tty = tty[0];
  plan.output_fd = tty[1] ? 1 : (tty[2] ? 2 : 0);
  if (have_size) {
    plan.rows = size.ws_row;
    plan.cols = size.ws_col;
  }
  return plan;
}

Status CopyWindowSize(int from_tty, int to_master) {
  struct winsize size {};
  if (::ioctl(from_tty, TIOCGWINSZ, &size) != 0) {
    return ErrnoError(ErrorCode::kOs, "ioctl(TIOCGWINSZ) on the user's terminal", errno);
  }
  if (::ioctl(to_master, TIOCSWINSZ, &size) != 0) {
    return ErrnoError(ErrorCode::kOs, "ioctl(TIOCSWINSZ) on the pty master", errno);
  }
  return OkStatus();
}

Expected<RawMode> RawMode::Enter(int tty_fd) {
  if (g_raw_fd >= 0) {
    return Error(ErrorCode::kInvalidArgument,
                 "raw mode is already active on fd " + std::to_string(g_raw_fd));
  }
  struct termios saved {};
  if (::tcgetattr(tty_fd, &saved) != 0) {
    return ErrnoError(ErrorCode::kOs, "tcgetattr on the user's terminal", errno);
  }
  struct termios raw = saved;
  ::cfmakeraw(&raw);
  // cfmakeraw also turns output processing off: right, since the tree's pty already turned
  // "\n" into "\r\n" (with the user's own settings) before the bytes reach us.
  g_saved_termios = saved;
  g_raw_termios = raw;
  g_raw_fd = tty_fd;

  struct sigaction action {};
  action.sa_handler = OnFatalSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = static_cast<int>(SA_RESETHAND);
  for (std::size_t i = 0; i < sizeof(kFatalSignals) / sizeof(kFatalSignals[0]); ++i) {
    ::sigaction(kFatalSignals[i], &action, &g_old_fatal[i]);
  }
  struct sigaction stop {};
  stop.sa_handler = OnStop;
  sigemptyset(&stop.sa_mask);
  stop.sa_flags = SA_RESTART;
  ::sigaction(SIGTSTP, &stop, &g_old_tstp);

  if (::tcsetattr(tty_fd, TCSADRAIN, &raw) != 0) {
    const int err = errno;
    RawMode undo;  // restores the handlers (and the unchanged settings)
    undo.active_ = true;
    return ErrnoError(ErrorCode::kOs, "tcsetattr(raw) on the user's terminal", err);
  }
  RawMode mode;
  mode.active_ = true;
  return mode;
}

RawMode::RawMode(RawMode&& other) noexcept : active_(other.active_) { other.active_ = false; }

RawMode::~RawMode() {
  if (!active_) return;
  RestoreTerminal();
  for (std::size_t i = 0; i < sizeof(kFatalSignals) / sizeof(kFatalSignals[0]); ++i) {
    ::sigaction(kFatalSignals[i], &g_old_fatal[i], nullptr);
  }
  ::sigaction(SIGTSTP, &g_old_tstp, nullptr);
  g_raw_fd = -1;
}

void RawMode::Reapply() const {
  if (active_ && g_raw_fd >= 0) ::tcsetattr(g_raw_fd, TCSANOW, &g_raw_termios);
}

}  // namespace stockade::runner::client::linux_os
