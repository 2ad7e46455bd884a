// A run through the Stockade service: one RunRequest (with the tree's stdio descriptors passed
// as SCM_RIGHTS) on a fresh connection, then Started, then Exit or Error. The service enforces
// the timeout and kills the whole tree on a Signal message or when this connection closes (the
// client killed), so the client needs no deadline of its own.
#ifndef STOCKADE_RUNNER_CLIENT_LINUX_SERVICE_SESSION_H_
#define STOCKADE_RUNNER_CLIENT_LINUX_SERVICE_SESSION_H_

#include <memory>
#include <string>
#include <vector>

#include "runner/client/linux/relay.h"
#include "runner/protocol/linux/connection.h"
#include "runner/protocol/messages.h"

namespace stockade::runner::client::linux_os {

class ServiceSession : public TreeSession {
 public:
  // Connects to `socket_path` and sends `request` with `fds` (one per "fd" stdio entry).
  // Errors: kServiceUnavailable (nothing listens there; the message says how to start the
  // service or use the unprovisioned mode); the connection's send errors.
  static Expected<std::unique_ptr<ServiceSession>> Start(const std::string& socket_path,
                                                         const protocol::RunRequest& request,
                                                         const std::vector<int>& fds);

  int fd() const override { return connection_.fd(); }
  int MillisToDeadline() const override { return -1; }
  Expected<std::optional<RunOutcome>> OnReadable() override;
  Expected<std::optional<RunOutcome>> OnDeadline() override;
  Status Interrupt(int signal) override;

  // The exit status that goes with the last error OnReadable() returned.
  int failure_status() const { return failure_status_; }
  // The Started message's session id ("" before it arrived).
  const std::string& session_id() const { return session_id_; }

 private:
  explicit ServiceSession(protocol::linux_os::Connection connection)
      : connection_(std::move(connection)) {}

  protocol::linux_os::Connection connection_;
  bool started_ = false;
  std::string session_id_;
  int failure_status_ = kStatusSandbox;
};

// Appended to an unreachable service's error: how to start it, or how to do without.
extern const char kUnavailableHint[];

}  // namespace stockade::runner::client::linux_os

#endif  // STOCKADE_RUNNER_CLIENT_LINUX_SERVICE_SESSION_H_
