// One client connection of the Windows service: the first message is a Ping (answered with
// Pong) or a RunRequest, which is authorised by the portable broker (runner/service/broker.h,
// with WinSystemFacts), turned into a LaunchSpec by the portable builder (spec_builder.h) and
// launched (runner/win/launcher.h). docs/protocol.md ("Windows") describes the exchange.
//
// The tree's stdio: for each "fd" stream the service creates a pipe named after the session
// (StdioPipeName) whose DACL admits only the caller's account (and SYSTEM), gives its server end
// to the tree, sends Started, and resumes the tree only once the client has connected every
// such pipe (at most kStdioConnectTimeout). Nothing of the client's own handles is used: the
// service never needs PROCESS_DUP_HANDLE on a user's process, and the user's console is never
// reachable from the tree.
//
// While the tree runs, a Signal message or the connection closing (the client killed) kills the
// whole tree; the service enforces the timeout; Exit reports the end.
#ifndef STOCKADE_RUNNER_SERVICE_WIN_CONNECTION_HANDLER_H_
#define STOCKADE_RUNNER_SERVICE_WIN_CONNECTION_HANDLER_H_

#include <chrono>
#include <string>

#include "audit/recorder.h"
#include "core/policy/policy.h"
#include "runner/protocol/win/pipe_stream.h"
#include "runner/service/win/pipe_client.h"
#include "runner/service/win/session_denials.h"
#include "runner/service/win/system_facts.h"
#include "runner/service/win/tree_registry.h"

namespace stockade::runner::service::win_os {

inline constexpr std::chrono::milliseconds kStdioConnectTimeout{10000};
inline constexpr std::chrono::milliseconds kFirstMessageTimeout{10000};

struct ServiceContext {
  Policy policy;
  std::string state_dir;
  // Passed to the launcher: "" = the defaults (DefaultCredentialFile, the persisted write SID).
  std::string credential_file;
  std::string write_sid;
  // Put each tree in its caller's session (needs SeTcbPrivilege: true when running as the
  // Windows service under LocalSystem).
  bool trees_in_caller_session = false;
  SidTable sids;
  TreeRegistry trees;
  // Where session and process events go (the service's audit store). A session start that
  // cannot be recorded refuses the run unless policy.audit.fail_open. Null: nothing is recorded
  // (tests of the service alone), as on Linux.
  audit::Recorder* recorder = nullptr;
  // The Security-log denial capture at each session's end (session_denials.h): its failures
  // (a log that cannot be read) are counted here, never returned to the client.
  DenialCaptureCounters denial_capture;
};

// Serves one connection to its end. Never throws; every failure is answered with an Error
// message (stage and code as docs/protocol.md lists them) and logged.
void HandleConnection(protocol::win_os::PipeStream& stream, const PipeClient& client,
                      ServiceContext& context);

}  // namespace stockade::runner::service::win_os

#endif  // STOCKADE_RUNNER_SERVICE_WIN_CONNECTION_HANDLER_H_
