// The job object that holds one process tree: every descendant of the first process is in it
// (no breakaway), closing it kills them all, it limits how many processes may be alive and how
// much memory they may commit, restricts what they may do to the user interface, and reports
// each process's start and exit on a completion port (for the audit's process events).
//
// Every limit is read back with QueryInformationJobObject after it is set: a limit the OS
// accepted but does not hold (Wine keeps them but enforces neither the memory nor the process
// limit, see docs/windows-verification.md) is at least known to be stored.
#ifndef STOCKADE_RUNNER_WIN_JOB_H_
#define STOCKADE_RUNNER_WIN_JOB_H_

#include <windows.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/error.h"
#include "provision/win/handles.h"

namespace stockade::runner::win_os {

using provision::win::UniqueHandle;

struct JobLimits {
  // Most processes alive in the job at once; 0 = no limit.
  std::uint32_t max_processes = 0;
  // Most memory committed by all processes together, in bytes; 0 = no limit.
  std::uint64_t memory_bytes = 0;
  // JOB_OBJECT_UILIMIT_ALL: no access to USER handles of processes outside the job, the
  // clipboard, global atoms, display settings, system parameters, desktops, ExitWindows.
  bool ui_restrictions = true;
  // Read every limit back (QueryInformationJobObject) and fail with kVerificationFailed when it
  // differs. Wine's query is a stub that answers zeros (its limits are stored: kill on close
  // works), so only the tests of the job mechanics under Wine turn this off; the product never
  // does, and under Wine its launches stop here (or earlier, at the token).
  bool verify = true;
};

// The LimitFlags every Stockade job carries: kill on close, die on an unhandled exception (no
// error-reporting dialog keeping a dead process alive) -- and never BREAKAWAY_OK nor
// SILENT_BREAKAWAY_OK, so CREATE_BREAKAWAY_FROM_JOB fails with access denied.
inline constexpr DWORD kBaseJobLimitFlags =
    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION;

// A message from the job's completion port.
struct JobMessage {
  // JOB_OBJECT_MSG_NEW_PROCESS, JOB_OBJECT_MSG_EXIT_PROCESS, JOB_OBJECT_MSG_ABNORMAL_EXIT_PROCESS,
  // JOB_OBJECT_MSG_ACTIVE_PROCESS_LIMIT, JOB_OBJECT_MSG_JOB_MEMORY_LIMIT,
  // JOB_OBJECT_MSG_ACTIVE_PROCESS_ZERO, ...
  DWORD type = 0;
  // The process the message is about (0 for job-wide messages).
  DWORD pid = 0;
};

// What the job's basic accounting says.
struct JobAccounting {
  DWORD active_processes = 0;
  DWORD total_processes = 0;       // every process ever assigned, descendants included
  DWORD terminated_processes = 0;  // ended by a limit violation
};

class JobObject {
 public:
  // CreateJobObjectW (unnamed, not inheritable) + a completion port + the limits above, each read
  // back. Errors: kOs naming the API; kVerificationFailed naming the limit that read back
  // differently.
  static Expected<JobObject> Create(const JobLimits& limits);

  JobObject(JobObject&&) noexcept = default;
  JobObject& operator=(JobObject&&) noexcept = default;

  HANDLE get() const { return job_.get(); }

  // AssignProcessToJobObject. Errors: kOs / kPermissionDenied naming the pid.
  Status Assign(HANDLE process) const;
  // TerminateJobObject: every process in the job ends with `exit_code`.
  Status Terminate(UINT exit_code) const;
  // JobObjectBasicAccountingInformation.
  Expected<JobAccounting> Accounting() const;
  // The ids of the processes in the job now (JobObjectBasicProcessIdList).
  Expected<std::vector<DWORD>> ProcessIds() const;
  // Highest memory the job's processes committed together (JobObjectExtendedLimitInformation).
  Expected<std::uint64_t> PeakMemory() const;
  // Waits until no process is left in the job, at most `timeout`, checking the accounting (the
  // completion port's messages are not guaranteed to arrive, so they are not relied on here).
  // Errors: kTimeout naming the processes still alive.
  Status WaitUntilEmpty(std::chrono::milliseconds timeout) const;
  // The next completion-port message, waiting at most `timeout`; nullopt when none came.
  // Delivery of these messages is best effort on Windows (documented as such): use them for
  // reporting, never for deciding that the tree is gone.
  std::optional<JobMessage> NextMessage(std::chrono::milliseconds timeout) const;

  // Hands the completion port to one outside reader for the rest of the tree's life (the
  // audit's process collector, audit/win/process_collector.h): from then on nothing here reads
  // the port (JobTree::Wait no longer drains it), and the reader reports a
  // JOB_OBJECT_MSG_JOB_MEMORY_LIMIT it reads through NoteMemoryLimit().
  HANDLE ClaimPort() const {
    port_state_->claimed.store(true);
    return port_.get();
  }
  bool port_claimed() const { return port_state_->claimed.load(); }
  void NoteMemoryLimit() const { port_state_->memory_limit.store(true); }
  bool memory_limit_noted() const { return port_state_->memory_limit.load(); }

 private:
  struct PortState {
    std::atomic<bool> claimed{false};
    std::atomic<bool> memory_limit{false};
  };
  JobObject(UniqueHandle job, UniqueHandle port) : port_(std::move(port)), job_(std::move(job)) {}
  // Declared first so that it is destroyed last: the job (killing its processes) goes before
  // the port its messages are posted to.
  UniqueHandle port_;
  UniqueHandle job_;
  // Shared with the port's outside reader (ClaimPort); a pointer so that the object stays movable.
  std::unique_ptr<PortState> port_state_ = std::make_unique<PortState>();
};

}  // namespace stockade::runner::win_os

#endif  // STOCKADE_RUNNER_WIN_JOB_H_
