// Ctrl-C, Ctrl-Break and closing the console window for `stockade run` on Windows: the console
// calls a handler on a thread of its own; the handler here runs the current run's "kill the
// whole tree" action and tells the console the event was handled (so this process lives on to
// report the tree's end). One run per process, so one action at a time.
#ifndef STOCKADE_RUNNER_CLIENT_WIN_INTERRUPT_H_
#define STOCKADE_RUNNER_CLIENT_WIN_INTERRUPT_H_

#include <functional>

#include "core/error.h"

namespace stockade::runner::client::win_os {

// While alive, console control events call `on_interrupt(signal)` with the POSIX number the
// event stands for (Ctrl-C 2 = SIGINT, Ctrl-Break 3 = SIGQUIT, close/logoff/shutdown 1 = SIGHUP),
// from the console's handler thread. Only the first event calls it; later ones are ignored.
class InterruptScope {
 public:
  // Errors: kOs naming SetConsoleCtrlHandler.
  static Expected<InterruptScope> Install(std::function<void(int)> on_interrupt);
  InterruptScope(InterruptScope&& other) noexcept;
  InterruptScope& operator=(InterruptScope&&) = delete;
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;
  ~InterruptScope();

  // The signal number of the first event received, 0 when none came.
  static int Received();

 private:
  InterruptScope() = default;
  bool installed_ = false;
};

}  // namespace stockade::runner::client::win_os

#endif  // STOCKADE_RUNNER_CLIENT_WIN_INTERRUPT_H_
