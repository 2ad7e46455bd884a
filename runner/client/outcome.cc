// The exit-status rules of `stockade run` (runner/client/client.h), shared by the Linux and
// Windows halves of the client.
#include "runner/client/client.h"

namespace stockade::runner::client {

int ExitStatusFor(const RunOutcome& outcome) {
  if (outcome.timed_out) return kStatusTimeout;
  // The user (or a supervisor) interrupted the run: report it the way a shell reports a
  // command killed by that signal, whatever signal the service used to kill the tree.
  if (outcome.client_signal > 0) return 128 + outcome.client_signal;
  if (outcome.signal > 0) return 128 + outcome.signal;
  return outcome.code;
}

int ExitStatusForServiceError(protocol::ErrorStage stage, std::string_view code) {
  switch (stage) {
    case protocol::ErrorStage::kAuthorize:
      return kStatusRefused;
    case protocol::ErrorStage::kExec:
      return code == ErrorCodeName(ErrorCode::kNotFound) ? kStatusNotFound : kStatusNotExecutable;
    case protocol::ErrorStage::kSetup:
    case protocol::ErrorStage::kService:
    case protocol::ErrorStage::kProtocol:
      return kStatusSandbox;
  }
  return kStatusSandbox;
}

}  // namespace stockade::runner::client
