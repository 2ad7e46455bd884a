// The client's event loop: one poll() over the signal pipe, the other side of the run (the
// service's socket, or the pidfd of a tree launched here) and, when a terminal is relayed, the
// user's terminal and the pty master. Bytes typed by the user go to the master; what the tree
// writes to the pty goes to the user's terminal; window size changes are copied to the master;
// SIGINT/SIGTERM/SIGHUP kill the whole tree (through the session). Returns when the session says
// the tree is gone and the pty is drained.
#ifndef STOCKADE_RUNNER_CLIENT_LINUX_RELAY_H_
#define STOCKADE_RUNNER_CLIENT_LINUX_RELAY_H_

#include <optional>

#include "core/error.h"
#include "runner/client/client.h"
#include "runner/client/linux/signals.h"
#include "runner/client/linux/terminal.h"

namespace stockade::runner::client::linux_os {

// The other side of a run.
class TreeSession {
 public:
  virtual ~TreeSession() = default;
  // A descriptor that becomes readable (POLLIN or POLLHUP) when the session has news.
  virtual int fd() const = 0;
  // Milliseconds until OnDeadline() is due; -1 = no deadline.
  virtual int MillisToDeadline() const = 0;
  // Handles the news. Returns the outcome once the tree is gone, std::nullopt while it runs.
  // Errors end the run (the relay returns them).
  virtual Expected<std::optional<RunOutcome>> OnReadable() = 0;
  // The deadline passed: the session kills the tree and returns its outcome.
  virtual Expected<std::optional<RunOutcome>> OnDeadline() = 0;
  // The client received `signal` (SIGINT, SIGTERM, SIGHUP): kill the whole tree. The outcome
  // still arrives through OnReadable().
  virtual Status Interrupt(int signal) = 0;
};

// What the relay copies. Any descriptor may be -1 (not relayed).
struct RelayIo {
  int user_in = -1;              // the user's terminal, read for keystrokes (raw mode)
  int user_out = -1;             // the user's terminal, written with what the tree printed
  int master = -1;               // the pty master (non-blocking)
  int winsize_from = -1;         // the user's terminal whose size the master follows
  const RawMode* raw = nullptr;  // re-applied on SIGCONT
};

// Runs the loop until the session reports an outcome (then drains the pty for at most a moment)
// or fails. The outcome's client_signal is set to the first SIGINT/SIGTERM/SIGHUP received.
// Errors: the session's; kOs naming poll.
Expected<RunOutcome> Relay(TreeSession& session, SignalPipe& signals, const RelayIo& io);

}  // namespace stockade::runner::client::linux_os

#endif  // STOCKADE_RUNNER_CLIENT_LINUX_RELAY_H_
