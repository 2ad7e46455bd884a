// The mechanics of one process tree in a job object, without any choice of identity: start the
// first process suspended, put it in a fresh job (JobObject), resume it, wait for it with a
// timeout, kill the whole job, wait until the job is empty, report the exit.
//
// No window exists in which the first process runs outside the job: it is created
// CREATE_SUSPENDED, assigned, and only then resumed; everything it starts is born inside the job,
// which allows no breakaway. ProcessTree (launcher.h) adds the restricted token on top; this
// layer is also what the tests exercise under Wine, where job objects are real but restricted
// tokens are not.
#ifndef STOCKADE_RUNNER_WIN_JOB_TREE_H_
#define STOCKADE_RUNNER_WIN_JOB_TREE_H_

#include <windows.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/error.h"
#include "provision/win/handles.h"
#include "runner/win/job.h"

namespace stockade::runner::win_os {

// The exit code every process gets when the tree is killed (timeout, Kill(), destruction):
// ERROR_PROCESS_ABORTED, so that a killed first process is recognisable in logs even without the
// flags below.
inline constexpr UINT kKilledExitCode = ERROR_PROCESS_ABORTED;

// How long the tree may take to disappear once killed before Wait() reports kTimeout.
inline constexpr std::chrono::milliseconds kEmptyJobTimeout{10000};

struct ExitStatus {
  // The first process's exit code as Windows reports it (GetExitCodeProcess), cast to int:
  // NTSTATUS crash codes such as 0xC0000005 come out negative.
  int code = 0;
  int signal = 0;  // always 0 on Windows; kept so that code handling both OSes reads the same
  bool timed_out = false;  // the timeout expired and the tree was killed
  bool killed = false;     // Kill() was called before it ended
  // The job's memory limit was reached (a JOB_OBJECT_MSG_JOB_MEMORY_LIMIT message came, or the
  // peak commit reached the limit). Windows fails the allocation rather than killing.
  bool oom_killed = false;
};

struct SpawnRequest {
  // The primary token the first process runs with; nullptr = the caller's own token
  // (CreateProcessW). Any token given must stay valid for the call.
  HANDLE token = nullptr;
  std::wstring application;   // full path of the program (lpApplicationName)
  std::wstring command_line;  // argv quoted (command_line.h)
  std::wstring environment;   // a complete CREATE_UNICODE_ENVIRONMENT block (command_line.h)
  std::wstring cwd;
  // The tree's stdio; nullptr = the NUL device. Duplicated, never closed here.
  HANDLE stdin_handle = nullptr;
  HANDLE stdout_handle = nullptr;
  HANDLE stderr_handle = nullptr;
  // Extra creation flags, e.g. CREATE_NO_WINDOW for a service without a console.
  DWORD extra_flags = 0;
  // A pseudoconsole (pseudo_console.h) the first process attaches to, nullptr = none. With one,
  // the std handles above are ignored: the tree's stdin/stdout/stderr are the pseudoconsole's,
  // and it inherits no handle at all (bInheritHandles FALSE).
  void* pseudo_console = nullptr;
  JobLimits limits;
  // Wall-clock limit measured from the start; zero = none.
  std::chrono::milliseconds timeout{0};
  // Called with the first process's id once it is in the job and before it runs (it is still
  // suspended): the service uses it to tell the client the pid and wait until the client has
  // connected the tree's stdio pipes. An error stops the launch (the process is killed).
  std::function<Status(DWORD pid)> before_resume;
};

class JobTree {
 public:
  // Creates the job, starts the first process suspended with only the stdio handles inherited
  // (inherit.h), assigns it to the job, resumes it. On any failure after the process exists it
  // is terminated before returning. Errors: the failing API named with its target (kNotFound
  // for a missing program, kPermissionDenied for access denied, kOs otherwise) or the job's
  // read-back (kVerificationFailed).
  static Expected<JobTree> Start(const SpawnRequest& request);

  JobTree(JobTree&& other) noexcept;
  JobTree& operator=(JobTree&&) = delete;  // would drop a live tree on the floor
  JobTree(const JobTree&) = delete;
  JobTree& operator=(const JobTree&) = delete;
  // Kills the tree when Wait() did not run to its end (closing the job also kills it).
  ~JobTree();

  DWORD pid() const { return pid_; }
  // Signalled once the first process has exited; for event loops (WaitForMultipleObjects).
  HANDLE process() const { return process_.get(); }
  const JobObject& job() const { return *job_; }

  // Kills the whole tree now (Ctrl-C, a client gone); safe from another thread while Wait()
  // runs. Wait() still has to be called.
  Status Kill();
  // Waits for the first process (until the timeout, then kills the tree), then kills what is
  // left, waits until the job is empty and reads the exit code.
  // Errors: kOs naming the wait; kTimeout when the job does not empty within kEmptyJobTimeout.
  Expected<ExitStatus> Wait();

 private:
  JobTree() = default;

  std::unique_ptr<JobObject> job_;
  UniqueHandle process_;
  DWORD pid_ = 0;
  std::uint64_t memory_limit_ = 0;
  std::chrono::steady_clock::time_point deadline_{};
  bool has_deadline_ = false;
  // Set by Kill() from any thread.
  std::unique_ptr<std::atomic<bool>> killed_ = std::make_unique<std::atomic<bool>>(false);
  bool done_ = false;
};

}  // namespace stockade::runner::win_os

#endif  // STOCKADE_RUNNER_WIN_JOB_TREE_H_
