#include "runner/win/job_tree.h"

#include <utility>

#include "provision/win/win_util.h"
#include "runner/win/inherit.h"

namespace stockade::runner::win_os {

namespace pw = stockade::provision::win;

JobTree::JobTree(JobTree&& other) noexcept
    : job_(std::move(other.job_)),
      process_(std::move(other.process_)),
      pid_(other.pid_),
      memory_limit_(other.memory_limit_),
      deadline_(other.deadline_),
      has_deadline_(other.has_deadline_),
      killed_(std::move(other.killed_)),
      done_(std::exchange(other.done_, true)) {}

JobTree::~JobTree() {
  if (!done_ && job_ != nullptr) {
    (void)job_->Terminate(kKilledExitCode);
    (void)job_->WaitUntilEmpty(kEmptyJobTimeout);
  }
}

Expected<JobTree> JobTree::Start(const SpawnRequest& request) {
  auto job = JobObject::Create(request.limits);
  if (!job.ok()) return job.error();
  const bool pty = request.pseudo_console != nullptr;
  // With a pseudoconsole nothing is inherited: its handles reach the child through the attribute.
  auto stdio = pty ? Expected<InheritedStdio>(InheritedStdio())
                   : InheritedStdio::Prepare(request.stdin_handle, request.stdout_handle,
                                             request.stderr_handle);
  if (!stdio.ok()) return stdio.error();
  auto attribute = HandleListAttribute::Create(pty ? std::vector<HANDLE>() : stdio->distinct(),
                                               request.pseudo_console);
  if (!attribute.ok()) return attribute.error();

  STARTUPINFOEXW startup{};
  startup.StartupInfo.cb = sizeof startup;
  // With a pseudoconsole the std handles stay null on purpose: a console program then takes the
  // pseudoconsole's, where a redirected launcher's own handles would otherwise leak through
  // (microsoft/terminal#11276).
  startup.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  startup.StartupInfo.hStdInput = pty ? nullptr : stdio->in();
  startup.StartupInfo.hStdOutput = pty ? nullptr : stdio->out();
  startup.StartupInfo.hStdError = pty ? nullptr : stdio->err();
  startup.lpAttributeList = attribute->get();
  const BOOL inherit = pty ? FALSE : TRUE;

  const DWORD flags = CREATE_SUSPENDED | CREATE_UNICODE_ENVIRONMENT | EXTENDED_STARTUPINFO_PRESENT |
                      request.extra_flags;
  // CreateProcess may write into the command line buffer.
  std::wstring command_line = request.command_line;
  PROCESS_INFORMATION info{};
  const wchar_t* environment = request.environment.empty() ? L"\0\0" : request.environment.c_str();
  BOOL created;
  if (request.token != nullptr) {
    created = CreateProcessAsUserW(
        request.token, request.application.c_str(), command_line.data(), nullptr, nullptr, inherit,
        flags, const_cast<wchar_t*>(environment), request.cwd.c_str(), &startup.StartupInfo, &info);
  } else {
    created = CreateProcessW(request.application.c_str(), command_line.data(), nullptr, nullptr,
                             inherit, flags, const_cast<wchar_t*>(environment), request.cwd.c_str(),
                             &startup.StartupInfo, &info);
  }
  if (!created) {
    return pw::LastWin32Error(
        std::string(request.token != nullptr ? "CreateProcessAsUserW" : "CreateProcessW") + "(" +
        pw::Utf8(request.application) + ", cwd " + pw::Utf8(request.cwd) + ")");
  }
  UniqueHandle process(info.hProcess);
  UniqueHandle thread(info.hThread);

  // Suspended until it is in the job: nothing it could start escapes.
  if (Status assigned = job->Assign(process.get()); !assigned.ok()) {
    TerminateProcess(process.get(), kKilledExitCode);
    WaitForSingleObject(process.get(), static_cast<DWORD>(kEmptyJobTimeout.count()));
    return assigned.error();
  }
  if (request.before_resume) {
    if (Status ready = request.before_resume(info.dwProcessId); !ready.ok()) {
      (void)job->Terminate(kKilledExitCode);
      (void)job->WaitUntilEmpty(kEmptyJobTimeout);
      return ready.error();
    }
  }
  if (ResumeThread(thread.get()) == static_cast<DWORD>(-1)) {
    Error error = pw::LastWin32Error("ResumeThread(pid " + std::to_string(info.dwProcessId) + ")");
    (void)job->Terminate(kKilledExitCode);
    (void)job->WaitUntilEmpty(kEmptyJobTimeout);
    return error;
  }

  JobTree tree;
  tree.job_ = std::make_unique<JobObject>(std::move(*job));
  tree.process_ = std::move(process);
  tree.pid_ = info.dwProcessId;
  tree.memory_limit_ = request.limits.memory_bytes;
  if (request.timeout.count() > 0) {
    tree.has_deadline_ = true;
    tree.deadline_ = std::chrono::steady_clock::now() + request.timeout;
  }
  return tree;
}

Status JobTree::Kill() {
  killed_->store(true);
  return job_->Terminate(kKilledExitCode);
}

Expected<ExitStatus> JobTree::Wait() {
  ExitStatus status;
  DWORD wait_ms = INFINITE;
  if (has_deadline_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline_ - std::chrono::steady_clock::now());
    wait_ms = static_cast<DWORD>(std::max<std::int64_t>(0, left.count()));
  }
  DWORD waited = WaitForSingleObject(process_.get(), wait_ms);
  if (waited == WAIT_TIMEOUT) {
    status.timed_out = true;
    STOCKADE_RETURN_IF_ERROR(job_->Terminate(kKilledExitCode));
    waited = WaitForSingleObject(process_.get(), static_cast<DWORD>(kEmptyJobTimeout.count()));
  }
  if (waited != WAIT_OBJECT_0) {
    return waited == WAIT_TIMEOUT
               ? Error(ErrorCode::kTimeout, "process " + std::to_string(pid_) +
                                                " still alive after its job was terminated")
               : pw::LastWin32Error("WaitForSingleObject(pid " + std::to_string(pid_) + ")");
  }

  // The first process is gone; whatever it left behind goes with it.
  auto accounting = job_->Accounting();
  if (!accounting.ok()) return accounting.error();
  if (accounting->active_processes > 0) {
    STOCKADE_RETURN_IF_ERROR(job_->Terminate(kKilledExitCode));
  }
  STOCKADE_RETURN_IF_ERROR(job_->WaitUntilEmpty(kEmptyJobTimeout));

  DWORD code = 0;
  if (!GetExitCodeProcess(process_.get(), &code)) {
    return pw::LastWin32Error("GetExitCodeProcess(pid " + std::to_string(pid_) + ")");
  }
  status.code = static_cast<int>(code);
  status.killed = killed_->load();
  if (memory_limit_ > 0) {
    // Drain what the port holds now (best effort) and compare the peak with the limit. When the
    // audit's collector reads the port, the messages are its own and it notes the limit instead.
    if (!job_->port_claimed()) {
      while (auto message = job_->NextMessage(std::chrono::milliseconds(0))) {
        if (message->type == JOB_OBJECT_MSG_JOB_MEMORY_LIMIT) status.oom_killed = true;
      }
    }
    if (job_->memory_limit_noted()) status.oom_killed = true;
    if (auto peak = job_->PeakMemory(); peak.ok() && *peak >= memory_limit_) {
      status.oom_killed = true;
    }
  }
  done_ = true;
  return status;
}

}  // namespace stockade::runner::win_os
