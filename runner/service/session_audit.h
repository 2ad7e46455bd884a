// The session events the service records around every run, shared by the Linux server and the
// Windows service: the start event is recorded (and committed) before the tree is launched,
// and a start that cannot be recorded refuses the run (fail closed) unless the policy says
// audit.fail_open; the end event follows the tree's end with its exit status.
// docs/audit-events.md describes the session event.
#ifndef STOCKADE_RUNNER_SERVICE_SESSION_AUDIT_H_
#define STOCKADE_RUNNER_SERVICE_SESSION_AUDIT_H_

#include <cstdint>
#include <string>

#include "audit/event.h"
#include "audit/recorder.h"
#include "core/error.h"
#include "core/policy/policy.h"
#include "runner/protocol/messages.h"
#include "runner/service/broker.h"

namespace stockade::runner::service {

// Who asked for the run, as the OS identified the caller.
struct SessionCaller {
  std::int64_t uid = -1;  // Linux: SO_PEERCRED uid; -1 on Windows
  std::string sid;        // Windows: the caller's user SID ("S-1-5-21-..."); "" on Linux
  std::string user;       // the account name
};

// The start event of session `session_id`: identity, workspace and cwd as authorised, the
// policy's hash, the caller, the top command, `start` as the start time.
audit::Event SessionStartEvent(const Policy& policy, const std::string& session_id,
                               const SessionCaller& caller, const Authorized& allowed,
                               const protocol::RunRequest& request, audit::TimeNs start);

// Records `start` and waits for its commit. OK when it was recorded, when `recorder` is null
// (nothing is recorded: tests of the service alone), or when it failed and the policy says
// audit.fail_open (logged as a warning). Otherwise the store's error, wrapped "recording the
// session start (audit is fail-closed)": the caller refuses the run.
Status RecordSessionStart(audit::Recorder* recorder, const Policy& policy,
                          const audit::Event& start);

// Records the end event made from `start` (phase end, end time now, `exit`). A failure is
// logged, not returned: the run has happened and its client must still hear its end.
void RecordSessionEnd(audit::Recorder* recorder, const audit::Event& start,
                      const audit::ExitStatus& exit);

}  // namespace stockade::runner::service

#endif  // STOCKADE_RUNNER_SERVICE_SESSION_AUDIT_H_
