// The client's signals, turned into events of its poll loop (the self-pipe pattern): SIGINT,
// SIGTERM and SIGHUP mean "kill the tree" (a Signal message to the service, or Kill() of the
// local tree), SIGWINCH means "copy the window size to the pty", SIGCONT means "raw mode again".
// The handlers only write the signal's number into a non-blocking pipe; everything else happens
// in the loop, outside signal context. SIGPIPE is ignored while installed: a closed stdout or a
// service that went away must be an error the client reports, not a silent death.
#ifndef STOCKADE_RUNNER_CLIENT_LINUX_SIGNALS_H_
#define STOCKADE_RUNNER_CLIENT_LINUX_SIGNALS_H_

#include <signal.h>

#include <vector>

#include "core/error.h"
#include "runner/linux/unique_fd.h"

namespace stockade::runner::client::linux_os {

class SignalPipe {
 public:
  // Installs the handlers (SIGINT, SIGTERM, SIGHUP, SIGWINCH, SIGCONT; SIGPIPE ignored).
  // At most one is installed in a process at a time.
  // Errors: kOs naming pipe2 / sigaction; kInvalidArgument when one is already installed.
  static Expected<SignalPipe> Install();

  SignalPipe(SignalPipe&& other) noexcept;
  SignalPipe& operator=(SignalPipe&&) = delete;
  SignalPipe(const SignalPipe&) = delete;
  SignalPipe& operator=(const SignalPipe&) = delete;
  // Puts the previous dispositions back.
  ~SignalPipe();

  // Readable (POLLIN) when a signal arrived.
  int fd() const { return read_.get(); }
  // The signals received since the last call, in order (never blocks).
  std::vector<int> Drain();

 private:
  SignalPipe() = default;
  bool installed_ = false;
  runner::linux_os::UniqueFd read_;
  runner::linux_os::UniqueFd write_;
};

}  // namespace stockade::runner::client::linux_os

#endif  // STOCKADE_RUNNER_CLIENT_LINUX_SIGNALS_H_
