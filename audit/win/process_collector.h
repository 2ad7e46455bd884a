// Windows process capture: the messages a job object posts to its completion port
// (JOB_OBJECT_MSG_NEW_PROCESS, _EXIT_PROCESS, _ABNORMAL_EXIT_PROCESS) turned into audit
// ProcessEvent values, one exec and one exit event per process of the tree.
//
// On NEW_PROCESS the collector opens the process at once (SYNCHRONIZE |
// PROCESS_QUERY_(LIMITED_)INFORMATION | PROCESS_VM_READ) and keeps the handle until the exit, so
// that a short-lived process can still be queried and its pid is not reused meanwhile; it checks
// with IsProcessInJob that the pid still names a process of this job (a pid reused after the
// process vanished is not attributed; when IsProcessInJob itself fails, the job's pid list
// decides). It then reads:
//   image         QueryFullProcessImageNameW
//   parent        NtQueryInformationProcess(ProcessBasicInformation).InheritedFromUniqueProcessId,
//                 mapped to the GUID of the live process of the tree with that pid (the parent
//                 is necessarily alive when its child's NEW_PROCESS is posted, and messages
//                 are read in order); a parent outside the tree (the service, for the first
//                 process) gives parent_guid "" and the parent's pid
//   argv          NtQueryInformationProcess(ProcessCommandLineInformation = 60), else the
//                 command line in the PEB's RTL_USER_PROCESS_PARAMETERS (ReadProcessMemory),
//                 split as CommandLineToArgvW splits it
//   cwd           the PEB's CurrentDirectory (as it is when read: the process may have moved)
//   start, end    GetProcessTimes
//   exit code     GetExitCodeProcess, on EXIT_PROCESS / ABNORMAL_EXIT_PROCESS
// A process that is already gone when its NEW_PROCESS is read is still recorded: an exec event
// with its pid (and nothing else known), then its exit event without a code. Nothing is
// dropped: an EXIT for a pid never announced gets an exec and an exit event; a process whose
// EXIT message never comes (delivery is best effort on Windows) gets its exit event from its
// handle when the collector finishes. docs/audit-capture-windows.md has the details and what
// Wine supplies.
//
// Two threads: the reader takes the port's messages and opens each new process at once, so that
// opening never waits behind the inspection of others; the worker applies the messages in order.
// A process's exec event waits (at most kDetailsWait, re-reading every 2 ms) until its command
// line can be read: a process may be announced before its parameters are its own (under Wine a
// new process writes them itself once it runs; the PEB path accepts a read only when its
// ImagePathName and its first word name the image).
//
// The collector owns no policy: the caller gives the job and its port, the session id to stamp
// and the sink (normally Recorder::RecordAsync).
#ifndef STOCKADE_AUDIT_WIN_PROCESS_COLLECTOR_H_
#define STOCKADE_AUDIT_WIN_PROCESS_COLLECTOR_H_

#include <windows.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "audit/event.h"
#include "audit/win/win_util.h"
#include "core/error.h"

namespace stockade::audit::win_os {

struct ProcessCollectorOptions {
  // The job and the completion port associated with it (JOBOBJECT_ASSOCIATE_COMPLETION_PORT).
  // Not owned; both must stay open until Finish() returned. The collector must be the port's
  // only reader while it runs.
  HANDLE job = nullptr;
  HANDLE port = nullptr;
  // Stamped on every event.
  std::string session_id;
  // Receives every event, in order, from the collector's thread. Must not block for long and
  // must not call back into the collector. Exceptions are caught and counted.
  std::function<void(Event)> sink;
  // Called (from the collector's thread) with every other job message type, e.g.
  // JOB_OBJECT_MSG_JOB_MEMORY_LIMIT, which the launcher would otherwise have read itself.
  std::function<void(DWORD type)> on_other_message;
};

struct ProcessCollectorStats {
  std::uint64_t new_messages = 0;   // NEW_PROCESS read
  std::uint64_t exit_messages = 0;  // EXIT_PROCESS + ABNORMAL_EXIT_PROCESS read
  std::uint64_t exec_events = 0;    // emitted
  std::uint64_t exit_events = 0;    // emitted
  std::uint64_t gone_at_open = 0;   // NEW_PROCESS for a process that could no longer be opened
  std::uint64_t foreign_pid = 0;    // the pid named a process outside the job (reused pid)
  std::uint64_t command_line_from_class60 = 0;  // ProcessCommandLineInformation had it
  std::uint64_t command_line_from_peb = 0;      // class 60 failed, the PEB had it
  std::uint64_t command_line_missing = 0;       // neither source answered
  std::uint64_t parent_missing = 0;             // the parent pid could not be read
  std::uint64_t unannounced_exits = 0;          // EXIT for a pid without NEW_PROCESS
  std::uint64_t exits_without_message = 0;      // exit events made at Finish() from the handle
  std::uint64_t sink_failures = 0;              // the sink threw
  bool zero_seen = false;                       // ACTIVE_PROCESS_ZERO read
};

class ProcessCollector {
 public:
  // Starts the reader thread. Errors: kInvalidArgument without job, port or sink; kCrypto when
  // the GUID prefix cannot be drawn; kOs when the thread cannot start.
  static Expected<std::unique_ptr<ProcessCollector>> Start(ProcessCollectorOptions options);

  // Finish(kDefaultFinishTimeout) if not called.
  ~ProcessCollector();
  ProcessCollector(const ProcessCollector&) = delete;
  ProcessCollector& operator=(const ProcessCollector&) = delete;

  static constexpr std::chrono::milliseconds kDefaultFinishTimeout{5000};

  // Call once the job is empty (JobTree::Wait returned). Reads on until ACTIVE_PROCESS_ZERO has
  // come and every announced process has its exit, or until `timeout`; then emits an exit
  // event for each process still without one (from its handle: exit code and time when the
  // process has ended) and stops the thread. Idempotent. Errors: kTimeout when the port did not
  // settle in time (the events were still all emitted; stats() says which ones were made
  // without their message).
  Status Finish(std::chrono::milliseconds timeout = kDefaultFinishTimeout);

  ProcessCollectorStats stats() const;

 private:
  struct Proc {
    std::string guid;
    std::int64_t pid = 0;
    std::string parent_guid;
    std::int64_t parent_pid = 0;
    std::string image;
    std::vector<std::string> argv;
    std::string cwd;
    TimeNs start = 0;
    OwnedHandle handle;  // empty when the process could not be opened
    // What has been read so far; the exec event waits (at most kDetailsWait) for the command
    // line: a process is announced before it has initialised its own parameters (measured
    // under Wine), and reading again a little later finds them.
    bool opened = false, foreign = false, have_basic = false, have_argv = false;
    bool exec_emitted = false;
    std::chrono::steady_clock::time_point announced{};
  };
  static constexpr std::chrono::milliseconds kDetailsWait{5000};

  // One job message as the reader thread passes it on: for NEW_PROCESS with the handle it
  // opened at once.
  struct Message {
    DWORD type = 0;
    DWORD pid = 0;
    HANDLE handle = nullptr;  // owned by the message until the worker takes it
  };

  explicit ProcessCollector(ProcessCollectorOptions options) : options_(std::move(options)) {}
  // Two threads, so that opening a new process never waits behind the inspection of others:
  // the reader takes the port's messages and opens each new process at once; the worker
  // applies the messages in order (inspection, events).
  void Read();
  void Run();
  void OnNewProcess(DWORD pid, HANDLE opened);
  void OnExitProcess(DWORD pid);
  // Reads what is not read yet of `p` (opening it first if needed).
  void Inspect(Proc& p);
  // Emits the exec event of `p` (once).
  void EmitExec(Proc& p);
  // Inspects every process whose exec event is still waiting; emits those complete or waiting
  // for longer than kDetailsWait, or all of them when `force`.
  void RetryPending(bool force);
  // Emits the exit event of `p` from its handle (code and time when it has ended).
  void EmitExit(Proc& p, bool from_message);
  void Emit(Event event);
  std::string NewGuid();
  bool PidInJob(DWORD pid) const;

  ProcessCollectorOptions options_;
  std::uint64_t guid_high_ = 0;
  std::uint64_t guid_counter_ = 0;
  std::unordered_map<DWORD, Proc> live_;  // by pid; only the worker thread touches it
  std::size_t pending_ = 0;  // live_ entries whose exec event waits for details (worker only)
  std::thread thread_;       // the worker
  std::thread reader_;
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Message> queue_;  // guarded by queue_mu_
  bool reader_done_ = false;   // guarded by queue_mu_
  std::atomic<bool> finishing_{false};
  std::atomic<bool> finished_{false};
  std::chrono::steady_clock::time_point deadline_{};
  mutable std::mutex mu_;  // guards stats_, deadline_, open_, timed_out_
  std::size_t open_ = 0;   // live_.size(), readable from Finish()
  ProcessCollectorStats stats_;
  bool timed_out_ = false;
};

}  // namespace stockade::audit::win_os

#endif  // STOCKADE_AUDIT_WIN_PROCESS_COLLECTOR_H_
