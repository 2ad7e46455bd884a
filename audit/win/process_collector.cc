#include "audit/win/process_collector.h"

#include <shellapi.h>  // CommandLineToArgvW
#include <winternl.h>  // UNICODE_STRING

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iterator>
#include <vector>

#include "core/crypto/random.h"

namespace stockade::audit::win_os {

namespace {

// ntdll's NtQueryInformationProcess, resolved at run time (no import library needed).
using NtQueryInformationProcessFn = LONG(NTAPI*)(HANDLE, ULONG, PVOID, ULONG, PULONG);

NtQueryInformationProcessFn NtQuery() {
  static const NtQueryInformationProcessFn fn = [] {
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    return ntdll == nullptr ? nullptr
                            : reinterpret_cast<NtQueryInformationProcessFn>(reinterpret_cast<void*>(
                                  GetProcAddress(ntdll, "NtQueryInformationProcess")));
  }();
  return fn;
}

constexpr ULONG kProcessBasicInformation = 0;
constexpr ULONG kProcessCommandLineInformation = 60;  // Windows 8.1 and later
constexpr LONG kStatusInfoLengthMismatch = static_cast<LONG>(0xC0000004);
constexpr LONG kStatusBufferTooSmall = static_cast<LONG>(0xC0000023);
constexpr LONG kStatusBufferOverflow = static_cast<LONG>(0x80000005);
constexpr LONG kStatusInvalidInfoClass = static_cast<LONG>(0xC0000003);
constexpr LONG kStatusNotImplemented = static_cast<LONG>(0xC0000002);

// PROCESS_BASIC_INFORMATION, spelled out: mingw's winternl.h hides the parent pid in a
// reserved field.
struct BasicInformation {
  LONG exit_status;
  PVOID peb;
  ULONG_PTR affinity_mask;
  LONG base_priority;
  ULONG_PTR unique_pid;
  ULONG_PTR parent_pid;  // InheritedFromUniqueProcessId
};

// UNICODE_STRING of the 64-bit layout (the service and the tree are both 64-bit).
struct UnicodeString64 {
  USHORT length;
  USHORT maximum_length;
  ULONG padding;
  ULONG64 buffer;
};
static_assert(sizeof(UnicodeString64) == 16);
// Offsets in the 64-bit PEB and RTL_USER_PROCESS_PARAMETERS (stable since Windows XP x64;
// Wine lays them out the same).
constexpr std::size_t kPebProcessParameters = 0x20;
constexpr std::size_t kParamsCurrentDirectory = 0x38;  // CURDIR.DosPath
constexpr std::size_t kParamsImagePathName = 0x60;
constexpr std::size_t kParamsCommandLine = 0x70;
constexpr USHORT kMaxUnicodeBytes = 0xFFFE;

bool ReadRemote(HANDLE process, ULONG64 address, void* out, std::size_t size) {
  SIZE_T got = 0;
  return ReadProcessMemory(process, reinterpret_cast<LPCVOID>(address), out, size, &got) &&
         got == size;
}

// A UNICODE_STRING of another process, read from its memory; false when unreadable.
bool ReadRemoteString(HANDLE process, ULONG64 string_address, std::wstring* out) {
  UnicodeString64 s{};
  if (!ReadRemote(process, string_address, &s, sizeof s)) return false;
  if (s.length == 0) {
    out->clear();
    return true;
  }
  if (s.buffer == 0 || s.length % 2 != 0 || s.length > kMaxUnicodeBytes) return false;
  std::wstring text(s.length / 2, L'\0');
  if (!ReadRemote(process, s.buffer, text.data(), s.length)) return false;
  *out = std::move(text);
  return true;
}

// The address of the process's RTL_USER_PROCESS_PARAMETERS, or 0.
ULONG64 ProcessParameters(HANDLE process, PVOID peb) {
  if (peb == nullptr) return 0;
  ULONG64 params = 0;
  if (!ReadRemote(process, reinterpret_cast<ULONG64>(peb) + kPebProcessParameters, &params,
                  sizeof params)) {
    return 0;
  }
  return params;
}

// The command line from NtQueryInformationProcess(ProcessCommandLineInformation).
bool CommandLineFromClass60(HANDLE process, std::wstring* out) {
  // Once the class is refused as unknown (Windows before 8.1, Wine), it is not asked again: in a
  // storm every call counts.
  static std::atomic<bool> unsupported{false};
  const auto query = NtQuery();
  if (query == nullptr || unsupported.load()) return false;
  std::vector<unsigned char> buffer(1024);
  for (int attempt = 0; attempt < 4; ++attempt) {
    ULONG needed = 0;
    const LONG status = query(process, kProcessCommandLineInformation, buffer.data(),
                              static_cast<ULONG>(buffer.size()), &needed);
    if (status == kStatusInfoLengthMismatch || status == kStatusBufferTooSmall ||
        status == kStatusBufferOverflow) {
      if (needed <= buffer.size()) needed = static_cast<ULONG>(buffer.size() * 4);
      buffer.resize(needed);
      continue;
    }
    if (status == kStatusInvalidInfoClass || status == kStatusNotImplemented) {
      unsupported.store(true);
      return false;
    }
    if (status < 0) return false;
    // A UNICODE_STRING whose buffer points into `buffer`, right after it.
    UNICODE_STRING us{};
    std::memcpy(&us, buffer.data(), sizeof us);
    const auto* begin = reinterpret_cast<const unsigned char*>(us.Buffer);
    // An empty answer is no answer: measured under Wine, the class answers an empty string
    // until the new process has written its parameters.
    if (us.Length == 0) return false;
    if (begin < buffer.data() || begin + us.Length > buffer.data() + buffer.size()) return false;
    out->assign(us.Buffer, us.Length / 2);
    return true;
  }
  return false;
}

// Opens `pid` with the most access we may get: SYNCHRONIZE to wait for the exit;
// PROCESS_QUERY_INFORMATION as well when we may (Wine checks it, not the limited right, for
// IsProcessInJob and most NtQueryInformationProcess classes; the service, LocalSystem, gets
// it); a protected process only gives the limited right (image, times, exit code).
HANDLE OpenForAudit(DWORD pid) {
  HANDLE raw = nullptr;
  for (const DWORD access :
       {static_cast<DWORD>(SYNCHRONIZE | PROCESS_QUERY_INFORMATION |
                           PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_VM_READ),
        static_cast<DWORD>(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_VM_READ),
        static_cast<DWORD>(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION)}) {
    raw = OpenProcess(access, FALSE, pid);
    if (raw != nullptr || GetLastError() != ERROR_ACCESS_DENIED) break;
  }
  return raw;
}

// A creation time as TimeNs when it is plausible (after 2000-01-01); 0 otherwise (Wine answers
// garbage for a process that has not started yet).
TimeNs PlausibleStart(const FILETIME& created) {
  const TimeNs ns = FileTimeToNs(created);
  return ns >= 946684800LL * 1000000000LL ? ns : 0;
}

// True when `pid` is in the job's process list now (JobObjectBasicProcessIdList).
bool PidInJobList(HANDLE job, DWORD pid) {
  std::size_t capacity = 256;
  for (int attempt = 0; attempt < 6; ++attempt) {
    std::vector<ULONG_PTR> storage(capacity + 2);
    auto* list = reinterpret_cast<JOBOBJECT_BASIC_PROCESS_ID_LIST*>(storage.data());
    if (QueryInformationJobObject(job, JobObjectBasicProcessIdList, list,
                                  static_cast<DWORD>(storage.size() * sizeof(ULONG_PTR)),
                                  nullptr)) {
      for (DWORD i = 0; i < list->NumberOfProcessIdsInList; ++i) {
        if (list->ProcessIdList[i] == pid) return true;
      }
      return false;
    }
    if (GetLastError() != ERROR_MORE_DATA) return false;
    capacity = std::max<std::size_t>(capacity * 4, list->NumberOfAssignedProcesses + 16);
  }
  return false;
}

// This process's executable (the service's), UTF-8.
const std::string& OwnImage() {
  static const std::string own = [] {
    std::vector<wchar_t> path(32768);
    const DWORD n = GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
    return Utf8(std::wstring_view(path.data(), n));
  }();
  return own;
}

// True when the last path components of `a` and `b` are equal, ignoring ASCII case.
bool SameFileName(const std::string& a, const std::string& b) {
  const auto name = [](const std::string& path) {
    const std::size_t cut = path.find_last_of("\\/");
    std::string n = cut == std::string::npos ? path : path.substr(cut + 1);
    for (char& c : n) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return n;
  };
  if (a.empty() || b.empty()) return false;
  const std::string na = name(a), nb = name(b);
  return na == nb || na + ".exe" == nb || na == nb + ".exe";
}

std::vector<std::string> SplitCommandLine(const std::wstring& line) {
  std::vector<std::string> argv;
  if (line.empty()) return argv;
  int count = 0;
  wchar_t** parts = CommandLineToArgvW(line.c_str(), &count);
  if (parts == nullptr) return {Utf8(line)};
  for (int i = 0; i < count; ++i) argv.push_back(Utf8(parts[i]));
  LocalFree(parts);
  return argv;
}

}  // namespace

Expected<std::unique_ptr<ProcessCollector>> ProcessCollector::Start(
    ProcessCollectorOptions options) {
  if (options.job == nullptr || options.port == nullptr || !options.sink) {
    return Error(ErrorCode::kInvalidArgument,
                 "process collector: a job, its completion port and a sink are required");
  }
  std::unique_ptr<ProcessCollector> collector(new ProcessCollector(std::move(options)));
  std::uint8_t prefix[8];
  STOCKADE_RETURN_IF_ERROR(crypto::RandomBytes(prefix));
  for (const std::uint8_t b : prefix) collector->guid_high_ = (collector->guid_high_ << 8) | b;
  try {
    collector->thread_ = std::thread([c = collector.get()] { c->Run(); });
    collector->reader_ = std::thread([c = collector.get()] { c->Read(); });
  } catch (const std::exception& e) {
    {
      std::lock_guard<std::mutex> lock(collector->queue_mu_);
      collector->reader_done_ = true;  // lets a worker already started end
    }
    return Error(ErrorCode::kOs,
                 std::string("process collector: starting its threads: ") + e.what());
  }
  return collector;
}

ProcessCollector::~ProcessCollector() { (void)Finish(); }

ProcessCollectorStats ProcessCollector::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

std::string ProcessCollector::NewGuid() {
  // A random 64-bit prefix per collector and a counter: unique within the run by construction,
  // across runs and hosts with the prefix's odds (as the Linux capture does).
  const std::uint64_t lo = ++guid_counter_;
  char buf[40];
  std::snprintf(
      buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(guid_high_ >> 32),
      static_cast<unsigned>((guid_high_ >> 16) & 0xffff),
      static_cast<unsigned>(guid_high_ & 0xffff), static_cast<unsigned>((lo >> 48) & 0xffff),
      static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

void ProcessCollector::Emit(Event event) {
  event.session_id = options_.session_id;
  try {
    options_.sink(std::move(event));
  } catch (...) {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.sink_failures;
  }
}

bool ProcessCollector::PidInJob(DWORD pid) const { return PidInJobList(options_.job, pid); }

void ProcessCollector::Read() {
  bool zero_seen = false;
  while (true) {
    if (finishing_.load()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (std::chrono::steady_clock::now() >= deadline_) {
        timed_out_ = true;
        break;
      }
    }
    DWORD type = 0;
    ULONG_PTR key = 0;
    LPOVERLAPPED overlapped = nullptr;
    if (!GetQueuedCompletionStatus(options_.port, &type, &key, &overlapped, 20)) {
      // Nothing more came: once the job is empty (Finish) and its last message (ACTIVE_PROCESS
      // _ZERO, posted after every EXIT) was read, the port has nothing left for us.
      if (finishing_.load() && zero_seen) break;
      continue;
    }
    if (reinterpret_cast<HANDLE>(key) != options_.job) continue;  // not this job's message
    Message message;
    message.type = type;
    message.pid = static_cast<DWORD>(reinterpret_cast<ULONG_PTR>(overlapped));
    if (type == JOB_OBJECT_MSG_NEW_PROCESS) message.handle = OpenForAudit(message.pid);
    if (type == JOB_OBJECT_MSG_ACTIVE_PROCESS_ZERO) zero_seen = true;
    std::lock_guard<std::mutex> lock(queue_mu_);
    queue_.push_back(message);
    queue_cv_.notify_one();
  }
  std::lock_guard<std::mutex> lock(queue_mu_);
  reader_done_ = true;
  queue_cv_.notify_one();
}

void ProcessCollector::Run() {
  auto last_retry = std::chrono::steady_clock::now();
  // Processes still without their command line are looked at again every 2 ms (only while there
  // are such processes): under Wine a process writes its own parameters only once it runs, and
  // a short-lived one takes its memory with it soon after.
  constexpr auto kRetryEvery = std::chrono::milliseconds(2);
  while (true) {
    Message message;
    bool have = false, done = false;
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      queue_cv_.wait_for(lock, pending_ > 0 ? kRetryEvery : std::chrono::milliseconds(20),
                         [this] { return !queue_.empty() || reader_done_; });
      if (!queue_.empty()) {
        message = queue_.front();
        queue_.pop_front();
        have = true;
      } else if (reader_done_) {
        done = true;
      }
    }
    if (done) break;
    // Not at every message: in a storm that would slow the applying down.
    if (const auto now = std::chrono::steady_clock::now();
        pending_ > 0 && now - last_retry >= kRetryEvery) {
      RetryPending(/*force=*/false);
      last_retry = now;
    }
    if (!have) continue;
    switch (message.type) {
      case JOB_OBJECT_MSG_NEW_PROCESS:
        OnNewProcess(message.pid, message.handle);
        break;
      case JOB_OBJECT_MSG_EXIT_PROCESS:
      case JOB_OBJECT_MSG_ABNORMAL_EXIT_PROCESS:
        OnExitProcess(message.pid);
        break;
      case JOB_OBJECT_MSG_ACTIVE_PROCESS_ZERO: {
        std::lock_guard<std::mutex> lock(mu_);
        stats_.zero_seen = true;
        break;
      }
      default:
        if (options_.on_other_message) {
          try {
            options_.on_other_message(message.type);
          } catch (...) {
          }
        }
        break;
    }
  }
  // Whatever never got its EXIT message gets its exit event now, from its handle.
  RetryPending(/*force=*/true);
  for (auto& [pid, proc] : live_) EmitExit(proc, /*from_message=*/false);
  live_.clear();
  std::lock_guard<std::mutex> lock(mu_);
  open_ = 0;
}

void ProcessCollector::Inspect(Proc& p) {
  const DWORD pid = static_cast<DWORD>(p.pid);
  if (!p.opened) {
    if (!p.handle) p.handle.reset(OpenForAudit(pid));
    if (!p.handle) return;  // gone (or not openable yet): tried again while pending
    p.opened = true;
    BOOL in_job = FALSE;
    const bool answered = IsProcessInJob(p.handle.get(), options_.job, &in_job) != FALSE;
    // When the call itself fails, the job's own list of pids decides.
    if (!(answered ? in_job != FALSE : PidInJob(pid))) {
      // The process of the message is gone and its pid names another process now.
      p.handle.reset();
      p.foreign = true;
      return;
    }
  }
  if (!p.handle) return;
  const HANDLE h = p.handle.get();
  if (p.start == 0) {
    FILETIME created{}, exited{}, kernel{}, user{};
    if (GetProcessTimes(h, &created, &exited, &kernel, &user)) p.start = PlausibleStart(created);
  }
  if (p.image.empty()) {  // cleared again by the own-image check below
    std::vector<wchar_t> image(32768);
    DWORD size = static_cast<DWORD>(image.size());
    if (QueryFullProcessImageNameW(h, 0, image.data(), &size)) {
      p.image = Utf8(std::wstring_view(image.data(), size));
    }
  }
  BasicInformation basic{};
  ULONG got = 0;
  const auto query = NtQuery();
  const bool have_basic =
      query != nullptr && query(h, kProcessBasicInformation, &basic, sizeof basic, &got) >= 0;
  if (have_basic && !p.have_basic) {
    p.have_basic = true;
    p.parent_pid = static_cast<std::int64_t>(basic.parent_pid);
    // The parent is alive while it creates the child, and messages come in order (pending
    // children are inspected before any EXIT is applied): a live entry with the parent's pid
    // is the parent (pids are unique among live processes).
    if (auto parent = live_.find(static_cast<DWORD>(p.parent_pid)); parent != live_.end()) {
      p.parent_guid = parent->second.guid;
    }
  }
  if (!p.have_argv) {
    std::wstring command_line;
    bool from_peb = false;
    bool have = CommandLineFromClass60(h, &command_line);
    const ULONG64 params = have_basic ? ProcessParameters(h, basic.peb) : 0;
    if (!have && params != 0 && !p.image.empty()) {
      // The parameters must name the process's image, in ImagePathName and as the command
      // line's first word (compared by file name, ignoring case and a missing ".exe"): a read
      // that races with the process's start can answer other memory (measured under Wine).
      // This path serves Wine and Windows before 8.1 only; there, a program started with
      // another argv[0] is recorded without its command line.
      std::wstring image_path;
      have = ReadRemoteString(h, params + kParamsImagePathName, &image_path) &&
             SameFileName(Utf8(image_path), p.image) &&
             ReadRemoteString(h, params + kParamsCommandLine, &command_line) &&
             !command_line.empty();
      if (have) {
        const std::vector<std::string> words = SplitCommandLine(command_line);
        have = !words.empty() && SameFileName(words.front(), p.image);
      }
      from_peb = have;
    }
    // Measured under Wine: before a new process has run, its image name and its parameters
    // read as the reader's own image (without arguments). Not its own yet, then: read again
    // later. (So a process of the tree running the service's own executable is recorded
    // without its command line after kDetailsWait.)
    if (have && SameFileName(p.image, OwnImage())) {
      have = false;
      from_peb = false;
      p.image.clear();
    }
    if (have) {
      p.have_argv = true;
      p.argv = SplitCommandLine(command_line);
      if (!from_peb) {
        std::lock_guard<std::mutex> lock(mu_);
        ++stats_.command_line_from_class60;
      }
      std::wstring cwd;
      if (params != 0 && ReadRemoteString(h, params + kParamsCurrentDirectory, &cwd)) {
        p.cwd = Utf8(cwd);
      }
      if (from_peb) {
        std::lock_guard<std::mutex> lock(mu_);
        ++stats_.command_line_from_peb;
      }
    }
  }
}

void ProcessCollector::EmitExec(Proc& p) {
  if (p.exec_emitted) return;
  p.exec_emitted = true;
  Event event;
  event.time = p.start != 0 ? p.start : NowNs();
  ProcessEvent body;
  body.phase = ProcessPhase::kExec;
  body.process_guid = p.guid;
  body.pid = p.pid;
  body.parent_guid = p.parent_guid;
  body.parent_pid = p.parent_pid;
  body.image = p.image;
  body.argv = p.argv;
  body.cwd = p.cwd;
  body.start_time = p.start;
  event.body = std::move(body);
  Emit(std::move(event));
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.exec_events;
  if (!p.opened) ++stats_.gone_at_open;
  if (p.foreign) ++stats_.foreign_pid;
  if (!p.have_argv) ++stats_.command_line_missing;
  if (!p.have_basic) ++stats_.parent_missing;
}

void ProcessCollector::RetryPending(bool force) {
  const auto now = std::chrono::steady_clock::now();
  pending_ = 0;
  for (auto& [pid, p] : live_) {
    if (p.exec_emitted) continue;
    if (!p.foreign) Inspect(p);
    const bool complete = p.foreign || (p.opened && p.have_argv && p.start != 0);
    if (complete || force || now - p.announced >= kDetailsWait) {
      EmitExec(p);
    } else {
      ++pending_;
    }
  }
}

void ProcessCollector::OnNewProcess(DWORD pid, HANDLE opened) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.new_messages;
  }
  // A live entry with this pid means its EXIT message was lost and the pid reused: close it.
  if (auto stale = live_.find(pid); stale != live_.end()) {
    EmitExec(stale->second);
    EmitExit(stale->second, /*from_message=*/false);
    live_.erase(stale);
  }
  Proc p;
  p.guid = NewGuid();
  p.pid = pid;
  p.announced = std::chrono::steady_clock::now();
  p.handle.reset(opened);
  Inspect(p);
  if (p.foreign || (p.opened && p.have_argv && p.start != 0)) {
    EmitExec(p);
  } else {
    ++pending_;
  }
  live_[pid] = std::move(p);
  std::lock_guard<std::mutex> lock(mu_);
  open_ = live_.size();
}

void ProcessCollector::OnExitProcess(DWORD pid) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.exit_messages;
  }
  // Children still waiting for their details resolve their parents before any exit is applied.
  RetryPending(/*force=*/false);
  auto it = live_.find(pid);
  if (it == live_.end()) {
    // Never announced (its NEW_PROCESS was lost, or came before the collector): record it
    // anyway, with what is known -- its pid.
    Proc p;
    p.guid = NewGuid();
    p.pid = pid;
    p.opened = true;  // not "gone at open": it was never announced
    EmitExec(p);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.unannounced_exits;
    }
    EmitExit(p, /*from_message=*/true);
    return;
  }
  EmitExec(it->second);  // a last inspection happened just above
  EmitExit(it->second, /*from_message=*/true);
  live_.erase(it);
  std::lock_guard<std::mutex> lock(mu_);
  open_ = live_.size();
}

void ProcessCollector::EmitExit(Proc& p, bool from_message) {
  ProcessEvent body;
  body.phase = ProcessPhase::kExit;
  body.process_guid = p.guid;
  body.pid = p.pid;
  body.parent_guid = p.parent_guid;
  body.parent_pid = p.parent_pid;
  body.image = p.image;
  body.argv = p.argv;
  body.cwd = p.cwd;
  body.start_time = p.start;
  if (p.handle) {
    // The message is posted while the process is being torn down: give it a moment to be
    // signalled, so that the exit code is final (never report STILL_ACTIVE as a code).
    const DWORD waited = WaitForSingleObject(p.handle.get(), from_message ? 2000 : 0);
    if (waited == WAIT_OBJECT_0) {
      DWORD code = 0;
      if (GetExitCodeProcess(p.handle.get(), &code))
        body.exit.code = static_cast<std::int64_t>(code);
      FILETIME created{}, exited{}, kernel{}, user{};
      if (GetProcessTimes(p.handle.get(), &created, &exited, &kernel, &user)) {
        body.end_time = FileTimeToNs(exited);
        if (body.start_time == 0) body.start_time = PlausibleStart(created);
      }
    }
    p.handle.reset();
  }
  Event event;
  event.time = body.end_time != 0 ? body.end_time : NowNs();
  event.body = std::move(body);
  Emit(std::move(event));
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.exit_events;
  if (!from_message) ++stats_.exits_without_message;
}

Status ProcessCollector::Finish(std::chrono::milliseconds timeout) {
  if (finished_.exchange(true)) return OkStatus();
  {
    std::lock_guard<std::mutex> lock(mu_);
    deadline_ = std::chrono::steady_clock::now() + timeout;
  }
  finishing_.store(true);
  if (reader_.joinable()) reader_.join();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  if (timed_out_) {
    return Error(ErrorCode::kTimeout,
                 "process collector: the job's completion port did not settle within " +
                     std::to_string(timeout.count()) + " ms (zero_seen " +
                     (stats_.zero_seen ? "yes" : "no") + "); " +
                     std::to_string(stats_.exits_without_message) +
                     " exit event(s) made without their message");
  }
  return OkStatus();
}

}  // namespace stockade::audit::win_os
