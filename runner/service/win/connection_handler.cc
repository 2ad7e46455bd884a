#include "runner/service/win/connection_handler.h"

#include <windows.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <system_error>
#include <thread>
#include <vector>

#include "audit/win/process_collector.h"
#include "audit/windows_denial_attribution.h"
#include "core/log/logging.h"
#include "core/version.h"
#include "provision/win/handles.h"
#include "provision/win/sid.h"
#include "provision/win/win_util.h"
#include "provision/win/write_sid_step.h"
#include "runner/service/broker.h"
#include "runner/service/session_audit.h"
#include "runner/service/session_id.h"
#include "runner/service/spec_builder.h"
#include "runner/service/win/pipe_server.h"
#include "runner/service/win/pty_relay.h"
#include "runner/service/win/stdio_pipes.h"
#include "runner/win/launcher.h"

namespace stockade::runner::service::win_os {

namespace pw = stockade::provision::win;
using protocol::ErrorStage;
using protocol::win_os::PipeStream;

namespace {

void Reply(PipeStream& stream, const Error& error, ErrorStage stage) {
  log::Logger()->warn("request refused ({}): {}", protocol::ErrorStageName(stage),
                      error.ToString());
  (void)stream.Send(protocol::ToErrorMessage(error, stage));
}

// The write SID the launcher gives the tree: the context's, else the persisted one.
Expected<std::string> SessionWriteSid(const ServiceContext& context) {
  if (!context.write_sid.empty()) return context.write_sid;
  auto persisted = pw::ReadPersistedWriteSid();
  if (!persisted.ok()) return persisted.error();
  if (!persisted->has_value()) {
    return Error(ErrorCode::kNotProvisioned, "no write SID is persisted: not provisioned");
  }
  return **persisted;
}

// The run's "{temp}": <state>\tmp\<session>, created with a protected DACL that lets SYSTEM,
// Administrators, and -- both halves of the write-restricted access check -- the sandbox group
// and the write SID modify it.
Expected<std::string> MakeSessionTemp(const ServiceContext& context, const std::string& session) {
  const std::string parent = context.state_dir + "\\tmp";
  CreateDirectoryW(pw::Wide(parent).c_str(), nullptr);  // inherits the state folder's DACL
  auto group = pw::ResolveLocalAccountSid(context.policy.GroupName());
  if (!group.ok()) return group.error().Wrap("the sandbox group for the session's temp folder");
  auto resolved_write_sid = SessionWriteSid(context);
  if (!resolved_write_sid.ok()) return resolved_write_sid.error();
  const std::string& write_sid = *resolved_write_sid;
  const std::string sddl = "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1301bf;;;" +
                           group->ToString() + ")(A;OICI;0x1301bf;;;" + write_sid + ")";
  auto descriptor = SecurityDescriptor::FromSddl(sddl);
  if (!descriptor.ok()) return descriptor.error();
  SECURITY_ATTRIBUTES attributes{sizeof(SECURITY_ATTRIBUTES), descriptor->get(), FALSE};
  const std::string path = parent + "\\" + session;
  if (!CreateDirectoryW(pw::Wide(path).c_str(), &attributes)) {
    return pw::LastWin32Error("CreateDirectoryW(" + path + ")");
  }
  return path;
}

// The session's denials from the Security log (session_denials.h), once its job is empty.
// The SIDs a 4656 may name: the identity's user SID (the token's user, which 4656 reports as
// SubjectUserSid) and the write SID (a restricting SID of the same token). A SID that cannot be
// resolved is logged; without any, the log is not read and that counts as a read failure.
void CaptureSessionDenials(ServiceContext& context, const std::string& session,
                           const std::string& account, audit::TimeNs start,
                           const audit::SessionProcessIndex& processes) {
  audit::DenialScope scope;
  scope.session_id = session;
  scope.start = start;
  scope.end = audit::NowNs();
  if (auto user = pw::ResolveLocalAccountSid(account); user.ok()) {
    scope.sids.push_back(user->ToString());
  } else {
    log::Logger()->warn("session {}: the SID of {} for the denial query: {}", session, account,
                        user.error().ToString());
  }
  if (auto write_sid = SessionWriteSid(context); write_sid.ok()) {
    scope.sids.push_back(*write_sid);
  } else {
    log::Logger()->warn("session {}: the write SID for the denial query: {}", session,
                        write_sid.error().ToString());
  }
  if (scope.sids.empty()) {
    context.denial_capture.log_read_failures.fetch_add(1, std::memory_order_relaxed);
    log::Logger()->warn("session {}: denials not captured: no sandbox SID to query", session);
    return;
  }
  (void)RecordSessionDenials(context.recorder, scope, processes.Processes(),
                             context.denial_capture);
}

ErrorStage StageForLaunch(const Error& error) {
  if (error.code() == ErrorCode::kNotFound &&
      error.context().find("program '") != std::string::npos) {
    return ErrorStage::kExec;
  }
  if (error.code() == ErrorCode::kUnsupported) return ErrorStage::kExec;
  return ErrorStage::kSetup;
}

void Run(PipeStream& stream, const PipeClient& client, const protocol::RunRequest& request,
         ServiceContext& context) {
  if (client.network) {
    return Reply(stream, Error(ErrorCode::kPermissionDenied, "remote callers are not served"),
                 ErrorStage::kAuthorize);
  }
  Caller caller;
  caller.uid = context.sids.UidFor(client.user);
  caller.gid = caller.uid;
  caller.pid = client.pid;
  if (client.restricted) {
    caller.inside_tree = "its token is restricted (a sandboxed process)";
  } else if (std::string session = context.trees.SessionHolding(client.pid); !session.empty()) {
    caller.inside_tree = "it runs inside the tree of session " + session;
  }
  WinSystemFacts facts(context.sids, context.state_dir);
  auto authorized = Authorize(context.policy, facts, caller, request);
  if (!authorized.ok()) {
    return Reply(
        stream,
        authorized.error().Wrap("caller " + client.user_name + " (" + client.user.ToString() + ")"),
        ErrorStage::kAuthorize);
  }

  auto session = NewSessionId();
  if (!session.ok()) return Reply(stream, session.error(), ErrorStage::kService);
  auto temp = MakeSessionTemp(context, *session);
  if (!temp.ok()) return Reply(stream, temp.error(), ErrorStage::kSetup);
  struct RemoveTemp {
    std::string path;
    ~RemoveTemp() {
      std::error_code ignored;
      std::filesystem::remove_all(std::filesystem::path(pw::Wide(path)), ignored);
    }
  } remove_temp{*temp};

  SpecInputs inputs;
  inputs.kind = authorized->kind;
  inputs.identity.name = authorized->account.name;
  inputs.workspace = authorized->workspace;
  inputs.cwd = authorized->cwd;
  inputs.temp = *temp;
  inputs.home = authorized->home;
  inputs.argv = request.argv;
  inputs.env = request.env;
  inputs.env.push_back("TMP=" + *temp);
  inputs.env.push_back("TEMP=" + *temp);
  inputs.timeout = std::chrono::milliseconds(request.timeout_ms);
  inputs.extra_deny_read = {context.state_dir};
  inputs.style = paths::PathStyle::kWindows;
  auto spec = BuildLaunchSpec(context.policy, inputs);
  if (!spec.ok()) return Reply(stream, spec.error(), ErrorStage::kSetup);

  // Fail closed, as on Linux (session_audit.h): no run starts that the audit store does not
  // know about. From here on the session's end event is recorded whatever happens.
  SessionCaller audit_caller;
  audit_caller.sid = client.user.ToString();
  audit_caller.user = client.user_name;
  const audit::Event start_event = SessionStartEvent(context.policy, *session, audit_caller,
                                                     *authorized, request, audit::NowNs());
  if (Status recorded = RecordSessionStart(context.recorder, context.policy, start_event);
      !recorded.ok()) {
    return Reply(stream, recorded.error(), ErrorStage::kService);
  }
  struct SessionEnd {
    audit::Recorder* recorder;
    const audit::Event& start;
    bool done = false;
    void Record(const audit::ExitStatus& exit) {
      if (!done) RecordSessionEnd(recorder, start, exit);
      done = true;
    }
    ~SessionEnd() { Record(audit::ExitStatus{}); }
  } session_end{context.recorder, start_event};

  UniqueHandle stdio[3];
  std::vector<HANDLE> to_connect;
  for (int i = 0; i < 3; ++i) {
    if (request.stdio[static_cast<std::size_t>(i)] != protocol::StdioKind::kFd) continue;
    auto pipe = MakeStdioPipe(*session, i, client.user);
    if (!pipe.ok()) return Reply(stream, pipe.error(), ErrorStage::kSetup);
    stdio[i] = std::move(*pipe);
    to_connect.push_back(stdio[i].get());
  }

  runner::win_os::LaunchOptions options;
  options.stdin_handle = stdio[0].get();
  options.stdout_handle = stdio[1].get();
  options.stderr_handle = stdio[2].get();
  // The client's stdin and stdout are a console: the tree gets a pseudoconsole (pty_relay.h).
  std::unique_ptr<ServicePty> pty;
  if (request.tty.has_value() && stdio[0] && stdio[1]) {
    auto created = ServicePty::Create(*request.tty);
    if (!created.ok()) return Reply(stream, created.error(), ErrorStage::kSetup);
    pty = std::move(*created);
    options.pseudo_console = pty->handle();
  }
  options.credential_file = context.credential_file;
  options.write_sid = context.write_sid;
  options.no_window = true;
  if (context.trees_in_caller_session) options.session_id = client.session_id;
  bool started_sent = false;
  options.before_resume = [&](DWORD pid) -> Status {
    protocol::StartedMessage started;
    started.session_id = *session;
    started.pid = pid;
    STOCKADE_RETURN_IF_ERROR(stream.Send(started));
    started_sent = true;
    return WaitForClients(to_connect, kStdioConnectTimeout);
  };
  auto tree = runner::win_os::ProcessTree::Launch(*spec, options);
  if (!tree.ok()) {
    // After Started, the client expects Exit or Error: Error it is, either way.
    return Reply(stream, tree.error(),
                 started_sent ? ErrorStage::kSetup : StageForLaunch(tree.error()));
  }
  if (pty) {
    if (Status relay = pty->Start(stdio[0].get(), stdio[1].get()); !relay.ok()) {
      (void)tree->Kill();
      (void)tree->Wait();
      return Reply(stream, relay.error(), ErrorStage::kSetup);
    }
  }
  // Every process of the tree from the job's completion port (audit/win/process_collector.h).
  // The port's messages queued since the launch are all still there: nothing read them yet.
  // The pid -> GUID records of the tree, fed by the collector's sink, for the attribution of
  // the session's denials. Shared: the sink (owned by the collector) may outlive this frame's
  // order of destruction.
  auto processes = std::make_shared<audit::SessionProcessIndex>();
  std::unique_ptr<audit::win_os::ProcessCollector> collector;
  if (context.recorder != nullptr) {
    const runner::win_os::JobObject& job = tree->job();
    audit::win_os::ProcessCollectorOptions capture;
    capture.job = job.get();
    capture.port = job.ClaimPort();
    capture.session_id = *session;
    audit::Recorder* recorder = context.recorder;
    capture.sink = [recorder, processes, id = *session](audit::Event event) {
      processes->Add(event);
      if (Status queued = recorder->RecordAsync(std::move(event)); !queued.ok()) {
        log::Logger()->error("session {}: a process event was not recorded: {}", id,
                             queued.error().ToString());
      }
    };
    capture.on_other_message = [&job](DWORD type) {
      if (type == JOB_OBJECT_MSG_JOB_MEMORY_LIMIT) job.NoteMemoryLimit();
    };
    auto started = audit::win_os::ProcessCollector::Start(std::move(capture));
    if (!started.ok()) {
      if (!context.policy.audit.fail_open) {
        (void)tree->Kill();
        (void)tree->Wait();
        return Reply(stream, started.error().Wrap("process capture (audit is fail-closed)"),
                     ErrorStage::kService);
      }
      log::Logger()->warn("session {}: no process capture (audit.fail_open): {}", *session,
                          started.error().ToString());
    } else {
      collector = std::move(*started);
    }
  }
  // The tree holds its own duplicates now.
  for (auto& handle : stdio) handle.reset();
  log::Logger()->info("session {}: {} runs {} as {} in {} (pid {})", *session, client.user_name,
                      request.argv.front(), authorized->account.name, authorized->workspace,
                      tree->pid());
  if (!context.trees.Add(*session, &*tree)) {
    (void)tree->Wait();
    return Reply(stream, Error(ErrorCode::kServiceUnavailable, "the service is stopping"),
                 ErrorStage::kService);
  }

  // Signals and the client's disappearance, read while the tree runs.
  runner::win_os::ProcessTree* live = &*tree;
  ServicePty* console = pty.get();
  std::thread reader([&stream, live, console]() {
    while (true) {
      auto message = stream.Receive();
      if (!message.ok() || !message->has_value()) break;  // gone, broken or cancelled
      if (std::holds_alternative<protocol::SignalMessage>(**message)) {
        (void)live->Kill();
        continue;
      }
      if (const auto* resize = std::get_if<protocol::ResizeMessage>(&**message)) {
        if (console != nullptr) (void)console->Resize(resize->size);
        continue;  // without a pseudoconsole there is nothing to resize
      }
      (void)live->Kill();  // anything else is a protocol violation: the tree does not outlive it
      break;
    }
    (void)live->Kill();
  });
  auto status = tree->Wait();
  if (collector != nullptr) {
    // The job is empty: read its last messages, then every exit is recorded.
    if (Status finished = collector->Finish(); !finished.ok()) {
      log::Logger()->warn("session {}: {}", *session, finished.error().ToString());
    }
  }
  // All of the tree's screen reaches the client before Exit.
  if (pty) pty->Finish();
  stream.Cancel();
  reader.join();
  context.trees.Remove(*session);
  // The job is empty and every process event emitted: the session's denials, before its end
  // event (never failing the run: session_denials.h).
  if (collector != nullptr) {
    CaptureSessionDenials(context, *session, authorized->account.name,
                          std::get<audit::SessionEvent>(start_event.body).start_time, *processes);
  }
  if (!status.ok()) return Reply(stream, status.error(), ErrorStage::kService);
  audit::ExitStatus audit_exit;
  audit_exit.code = static_cast<std::int64_t>(static_cast<DWORD>(status->code));  // 32 bits
  audit_exit.timed_out = status->timed_out;
  audit_exit.killed = status->killed;
  session_end.Record(audit_exit);
  protocol::ExitMessage exit;
  exit.code = status->code;
  exit.timed_out = status->timed_out;
  exit.killed = status->killed;
  log::Logger()->info("session {}: exit code {}{}{}", *session, status->code,
                      status->timed_out ? " (timed out)" : "", status->killed ? " (killed)" : "");
  (void)stream.Send(exit);
}

}  // namespace

void HandleConnection(PipeStream& stream, const PipeClient& client, ServiceContext& context) {
  auto first = stream.Receive(kFirstMessageTimeout);
  if (!first.ok()) {
    const Error& error = first.error();
    if (error.code() == ErrorCode::kProtocol || error.code() == ErrorCode::kProtocolVersion) {
      Reply(stream, error, ErrorStage::kProtocol);
    } else {
      log::Logger()->info("connection from {} ended: {}", client.user_name, error.ToString());
    }
    return;
  }
  if (!first->has_value()) return;  // connected and left
  const protocol::Message& message = **first;
  if (std::holds_alternative<protocol::PingMessage>(message)) {
    protocol::PongMessage pong;
    pong.service_version = kVersion;
    pong.pid = static_cast<std::int64_t>(GetCurrentProcessId());
    (void)stream.Send(pong);
    return;
  }
  if (const auto* request = std::get_if<protocol::RunRequest>(&message)) {
    Run(stream, client, *request, context);
    return;
  }
  Reply(stream,
        Error(ErrorCode::kProtocol, "the first message must be Ping or RunRequest, not " +
                                        protocol::MessageTypeName(protocol::TypeOf(message))),
        ErrorStage::kProtocol);
}

}  // namespace stockade::runner::service::win_os
