// The user's terminal, and the pseudo-terminal that stands in for it inside the sandbox.
//
// The tree never receives a descriptor of the user's own terminal: with it, a sandboxed process
// could push keystrokes into the user's shell after the run (TIOCSTI, or simply by still holding
// it), read what the user types later, or change the terminal's modes behind the user's back.
// So every stdio stream that is a terminal is replaced by the slave side of a fresh pty opened
// here; the client keeps the master and copies bytes between it and the user's terminal (put in
// raw mode, so that ^C, ^Z and the rest travel as bytes and the pty's own line discipline, with
// the user's original settings, interprets them for the tree). Streams that are not terminals
// (pipes, files) are passed as they are: the tree reads and writes them directly, no copy.
#ifndef STOCKADE_RUNNER_CLIENT_LINUX_TERMINAL_H_
#define STOCKADE_RUNNER_CLIENT_LINUX_TERMINAL_H_

#include <termios.h>

#include "core/error.h"
#include "runner/linux/unique_fd.h"

namespace stockade::runner::client::linux_os {

using runner::linux_os::UniqueFd;

// What the tree gets as stdin/stdout/stderr, and what the client relays.
struct StdioPlan {
  // The descriptors to hand to the tree as 0, 1, 2: the client's own, or `slave`.
  int pass[3] = {0, 1, 2};
  // Set when at least one stream is a terminal: the pty the client relays.
  UniqueFd master;
  UniqueFd slave;
  // The user's terminal: the first of 0, 1, 2 that is one (-1: none). Its settings and window
  // size are copied to the pty.
  int user_tty = -1;
  // The user's terminal is stdin: keystrokes are read from 0 and raw mode applies.
  bool stdin_is_tty = false;
  // Where what the tree writes to the pty goes: 1 when stdout is a terminal, else 2, else 0
  // (a terminal opened read-write, so that echo still shows).
  int output_fd = -1;
  // The window size at the start (rows, cols), 0 when there is no terminal.
  unsigned short rows = 0;
  unsigned short cols = 0;

  bool has_pty() const { return master.valid(); }
};

// Looks at 0, 1, 2; when any is a terminal, opens a pty whose slave has the user's terminal
// settings and window size, marks both ends close-on-exec and the master non-blocking.
// Errors: kOs naming openpty / tcgetattr / fcntl.
Expected<StdioPlan> PrepareStdio();

// Copies the window size of `from_tty` to `to_master` (TIOCGWINSZ / TIOCSWINSZ); the kernel
// then sends SIGWINCH to the pty's foreground process group.
// Errors: kOs naming the ioctl.
Status CopyWindowSize(int from_tty, int to_master);

// Puts a terminal in raw mode for the lifetime of the object and restores its exact previous
// settings on destruction, on fatal signals (SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, SIGQUIT:
// restored, then the signal's default action), and around job-control stops (SIGTSTP: restored,
// stopped; raw again when continued). At most one is active in a process at a time.
class RawMode {
 public:
  // Errors: kOs naming tcgetattr / tcsetattr; kInvalidArgument when one is already active.
  static Expected<RawMode> Enter(int tty_fd);

  RawMode(RawMode&& other) noexcept;
  RawMode& operator=(RawMode&&) = delete;
  RawMode(const RawMode&) = delete;
  RawMode& operator=(const RawMode&) = delete;
  ~RawMode();

  // Raw again (after the terminal was changed behind our back, e.g. on SIGCONT).
  void Reapply() const;

 private:
  RawMode() = default;
  bool active_ = false;
};

}  // namespace stockade::runner::client::linux_os

#endif  // STOCKADE_RUNNER_CLIENT_LINUX_TERMINAL_H_
