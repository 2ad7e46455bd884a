#include "runner/service/session_audit.h"

#include <utility>

#include "core/log/logging.h"
#include "core/policy/policy_json.h"

namespace stockade::runner::service {

audit::Event SessionStartEvent(const Policy& policy, const std::string& session_id,
                               const SessionCaller& caller, const Authorized& allowed,
                               const protocol::RunRequest& request, audit::TimeNs start) {
  audit::SessionEvent body;
  body.phase = audit::SessionPhase::kStart;
  body.identity = request.identity;
  body.workspace = allowed.workspace;
  body.policy_hash = PolicyHash(policy);
  body.invoking_uid = caller.uid;
  body.invoking_sid = caller.sid;
  body.invoking_user = caller.user;
  body.argv = request.argv;
  body.cwd = allowed.cwd;
  body.start_time = start;
  audit::Event event;
  event.session_id = session_id;
  event.body = std::move(body);
  return event;
}

Status RecordSessionStart(audit::Recorder* recorder, const Policy& policy,
                          const audit::Event& start) {
  if (recorder == nullptr) return OkStatus();
  auto recorded = recorder->Record(start);
  if (recorded.ok()) return OkStatus();
  if (policy.audit.fail_open) {
    log::Logger()->warn("session {}: audit store failed, running anyway (audit.fail_open): {}",
                        start.session_id, recorded.error().ToString());
    return OkStatus();
  }
  log::Logger()->error("session {}: not started, the audit store failed: {}", start.session_id,
                       recorded.error().ToString());
  return recorded.error().Wrap("recording the session start (audit is fail-closed)");
}

void RecordSessionEnd(audit::Recorder* recorder, const audit::Event& start,
                      const audit::ExitStatus& exit) {
  if (recorder == nullptr) return;
  audit::Event end = start;
  auto& body = std::get<audit::SessionEvent>(end.body);
  body.phase = audit::SessionPhase::kEnd;
  body.end_time = audit::NowNs();
  body.exit = exit;
  end.time = 0;
  end.seq = 0;
  auto recorded = recorder->Record(std::move(end));
  if (!recorded.ok()) {
    log::Logger()->error("session {}: the end event could not be recorded: {}", start.session_id,
                         recorded.error().ToString());
  }
}

}  // namespace stockade::runner::service
