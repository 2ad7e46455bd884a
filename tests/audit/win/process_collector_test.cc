// The Windows process capture (audit/win/process_collector.h) for real, under Wine and on
// Windows: a job with a completion port, a spawn storm of 1,111 short-lived processes (nested
// four levels, three siblings alive at once per parent) started in it, and every process must
// come back as exactly one exec and one exit event with the right parent, command line and exit
// code -- each checked against what the storm program itself did (its label is in its command
// line; its exit code and its parent follow from the label). Plus a process already gone when
// its NEW_PROCESS message is read (recorded, not dropped) and the Security-log reader, which
// needs real Windows.
#include "audit/win/process_collector.h"

#include <gtest/gtest.h>
#include <sddl.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "audit/win/security_log.h"

namespace stockade::audit::win_os {
namespace {

using namespace std::chrono_literals;

bool UnderWine() {
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  return ntdll != nullptr && GetProcAddress(ntdll, "wine_get_version") != nullptr;
}

std::wstring StormPath() {
  wchar_t path[MAX_PATH * 2];
  const DWORD n = GetModuleFileNameW(nullptr, path, MAX_PATH * 2);
  std::wstring self(path, n);
  return self.substr(0, self.find_last_of(L"\\/") + 1) + L"stockade_spawn_storm.exe";
}

// Same function as the storm program's.
std::uint32_t ExpectedExitCode(const std::string& label) {
  std::uint32_t h = 2166136261u;
  for (const char c : label) {
    h ^= static_cast<std::uint32_t>(static_cast<unsigned char>(c));
    h *= 16777619u;
  }
  return 1000 + h % 50000;
}

// A job with a completion port whose key is the job handle (as runner/win/job.cc associates it).
struct TestJob {
  OwnedHandle job;
  OwnedHandle port;
};
TestJob MakeJob() {
  TestJob t;
  t.job.reset(CreateJobObjectW(nullptr, nullptr));
  EXPECT_TRUE(t.job);
  t.port.reset(CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1));
  EXPECT_TRUE(t.port);
  JOBOBJECT_ASSOCIATE_COMPLETION_PORT association{};
  association.CompletionKey = t.job.get();
  association.CompletionPort = t.port.get();
  EXPECT_TRUE(SetInformationJobObject(t.job.get(), JobObjectAssociateCompletionPortInformation,
                                      &association, sizeof association));
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits{};
  limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
  EXPECT_TRUE(SetInformationJobObject(t.job.get(), JobObjectExtendedLimitInformation, &limits,
                                      sizeof limits));
  return t;
}

// Starts the storm program suspended, puts it in the job, resumes it.
PROCESS_INFORMATION StartInJob(HANDLE job, const std::wstring& args) {
  std::wstring line = L"\"" + StormPath() + L"\" " + args;
  STARTUPINFOW si{};
  si.cb = sizeof si;
  PROCESS_INFORMATION pi{};
  EXPECT_TRUE(CreateProcessW(StormPath().c_str(), line.data(), nullptr, nullptr, FALSE,
                             CREATE_SUSPENDED, nullptr, nullptr, &si, &pi))
      << GetLastError();
  EXPECT_TRUE(AssignProcessToJobObject(job, pi.hProcess)) << GetLastError();
  EXPECT_NE(ResumeThread(pi.hThread), static_cast<DWORD>(-1));
  return pi;
}

void WaitJobEmpty(HANDLE job, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    JOBOBJECT_BASIC_ACCOUNTING_INFORMATION info{};
    ASSERT_TRUE(QueryInformationJobObject(job, JobObjectBasicAccountingInformation, &info,
                                          sizeof info, nullptr));
    if (info.ActiveProcesses == 0) return;
    Sleep(10);
  }
  FAIL() << "the job did not empty";
}

struct Sink {
  std::mutex mu;
  std::vector<Event> events;
  std::function<void(Event)> fn() {
    return [this](Event e) {
      std::lock_guard<std::mutex> lock(mu);
      events.push_back(std::move(e));
    };
  }
};

std::string ToLower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

constexpr int kDepth = 3, kFanout = 10, kParallel = 3;
constexpr char kTag[] = "tag with space and \"quote\"";

// One storm in a fresh job with its own collector.
struct StormRun {
  TestJob job;
  Sink sink;
  ProcessCollectorOptions options;
  std::unique_ptr<ProcessCollector> collector;
  OwnedHandle root_process;
  DWORD root_code = 0;
  Status finished = OkStatus();
  double seconds = 0;
};

std::unique_ptr<StormRun> RunStorm() {
  auto run = std::make_unique<StormRun>();
  run->job = MakeJob();
  run->options.job = run->job.job.get();
  run->options.port = run->job.port.get();
  run->options.session_id = "0f0e0d0c-0b0a-4908-8706-050403020100";
  run->options.sink = run->sink.fn();
  auto collector = ProcessCollector::Start(run->options);
  EXPECT_TRUE(collector.ok()) << collector.error().ToString();
  if (!collector.ok()) return nullptr;
  run->collector = std::move(*collector);

  const auto started = std::chrono::steady_clock::now();
  PROCESS_INFORMATION root =
      StartInJob(run->job.job.get(),
                 L"node r " + std::to_wstring(kDepth) + L" " + std::to_wstring(kFanout) + L" " +
                     std::to_wstring(kParallel) + L" \"tag with space and \\\"quote\\\"\"");
  run->root_process.reset(root.hProcess);
  OwnedHandle root_thread(root.hThread);
  EXPECT_EQ(WaitForSingleObject(run->root_process.get(), 600000), WAIT_OBJECT_0);
  WaitJobEmpty(run->job.job.get(), 60s);
  run->finished = run->collector->Finish(30s);
  run->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_TRUE(GetExitCodeProcess(run->root_process.get(), &run->root_code));
  return run;
}

TEST(WinProcessCollector, SpawnStormEveryProcessOnceWithParentCommandLineAndExitCode) {
  std::unique_ptr<StormRun> run = RunStorm();
  ASSERT_NE(run, nullptr);
  // Wine 8 now and then fails a CreateProcessW inside the storm (error 1359, the storm program
  // then exits 0xBAD): a defect of the emulator's process creation, not of the capture. The
  // storm is repeated in a fresh job on exactly that signature, at most twice; a third failure
  // fails the test (a loaded machine makes the emulator's failure more frequent).
  for (int repeat = 1; run->root_code == 0xBAD && repeat <= 2; ++repeat) {
    std::printf("storm: a CreateProcessW inside the storm failed (exit 0xBAD); repeat %d\n",
                repeat);
    run = RunStorm();
    ASSERT_NE(run, nullptr);
  }
  TestJob& job = run->job;
  Sink& sink = run->sink;
  const ProcessCollectorOptions& options = run->options;
  const double seconds = run->seconds;
  EXPECT_TRUE(run->finished.ok()) << run->finished.error().ToString();
  const DWORD root_code = run->root_code;
  EXPECT_EQ(root_code, ExpectedExitCode("r")) << "a child of the storm failed (0xBAD = 2989)";

  JOBOBJECT_BASIC_ACCOUNTING_INFORMATION accounting{};
  ASSERT_TRUE(QueryInformationJobObject(job.job.get(), JobObjectBasicAccountingInformation,
                                        &accounting, sizeof accounting, nullptr));
  int expected_processes = 0;
  for (int level = 0, n = 1; level <= kDepth; ++level, n *= kFanout) expected_processes += n;
  ASSERT_EQ(expected_processes, 1111);
  EXPECT_EQ(accounting.TotalProcesses, static_cast<DWORD>(expected_processes));

  std::lock_guard<std::mutex> lock(sink.mu);
  std::map<std::string, const ProcessEvent*> exec_by_guid, exit_by_guid;
  std::map<std::string, const ProcessEvent*> exec_by_label;
  std::size_t with_command_line = 0, with_cwd = 0;
  for (const Event& e : sink.events) {
    EXPECT_EQ(e.session_id, options.session_id);
    const auto* p = std::get_if<ProcessEvent>(&e.body);
    ASSERT_NE(p, nullptr);
    auto& index = p->phase == ProcessPhase::kExec ? exec_by_guid : exit_by_guid;
    EXPECT_TRUE(index.emplace(p->process_guid, p).second) << "duplicate " << p->process_guid;
    if (p->phase == ProcessPhase::kExec) {
      if (!p->argv.empty()) ++with_command_line;
      if (p->argv.empty() && std::getenv("STOCKADE_TEST_VERBOSE") != nullptr) {
        std::printf("no command line: pid %lld image '%s' start %lld\n",
                    static_cast<long long>(p->pid), p->image.c_str(),
                    static_cast<long long>(p->start_time));
      }
      if (!p->cwd.empty()) ++with_cwd;
      if (p->argv.size() == 7 && p->argv[1] == "node") {
        EXPECT_TRUE(exec_by_label.emplace(p->argv[2], p).second) << p->argv[2];
      } else if (!p->argv.empty()) {
        std::string joined;
        for (const std::string& a : p->argv) joined += "[" + a + "]";
        ADD_FAILURE() << "pid " << p->pid << " recorded with a command line that is not the "
                      << "storm's: " << joined;
      }
    }
  }
  const ProcessCollectorStats stats = run->collector->stats();
  std::printf(
      "spawn storm: %d processes spawned (job accounting: %lu), %zu exec + %zu exit events "
      "recorded in %.1f s; command lines %zu (class 60: %llu, PEB: %llu), cwd %zu; NEW messages "
      "%llu, "
      "EXIT messages %llu, gone at open %llu, exits without message %llu\n",
      expected_processes, static_cast<unsigned long>(accounting.TotalProcesses),
      exec_by_guid.size(), exit_by_guid.size(), seconds, with_command_line,
      static_cast<unsigned long long>(stats.command_line_from_class60),
      static_cast<unsigned long long>(stats.command_line_from_peb), with_cwd,
      static_cast<unsigned long long>(stats.new_messages),
      static_cast<unsigned long long>(stats.exit_messages),
      static_cast<unsigned long long>(stats.gone_at_open),
      static_cast<unsigned long long>(stats.exits_without_message));

  // Exactly one exec and one exit per process, none lost, none invented.
  EXPECT_EQ(exec_by_guid.size(), static_cast<std::size_t>(expected_processes));
  EXPECT_EQ(exit_by_guid.size(), static_cast<std::size_t>(expected_processes));
  EXPECT_EQ(sink.events.size(), 2u * expected_processes);
  EXPECT_EQ(stats.new_messages, static_cast<std::uint64_t>(expected_processes));
  EXPECT_EQ(stats.exit_messages, static_cast<std::uint64_t>(expected_processes));
  EXPECT_EQ(stats.unannounced_exits, 0u);
  EXPECT_EQ(stats.sink_failures, 0u);
  // Every parent waits for its children, so each is still there to be opened and read.
  EXPECT_EQ(stats.gone_at_open, 0u);
  EXPECT_EQ(stats.foreign_pid, 0u);
  // Command lines: all of them on Windows (the creator writes a process's parameters before it
  // runs). Wine has no ProcessCommandLineInformation and a new process writes its own
  // parameters only once it runs, so a short-lived one can take them away before they are
  // read: there, what is recorded must be right, and the count is printed.
  if (!UnderWine()) {
    EXPECT_EQ(exec_by_label.size(), static_cast<std::size_t>(expected_processes))
        << "processes whose command line was recorded and parsed";
  } else {
    EXPECT_GT(exec_by_label.size(), 0u);
  }
  EXPECT_EQ(exec_by_label.size(), with_command_line)
      << "a recorded command line is not the storm's";

  // Parents, without relying on command lines: one root whose parent is this test, every other
  // process's parent GUID names an exec event with its parent pid that started no later, the
  // tree has exactly the storm's shape (111 processes with 10 children each, 1,000 leaves) and
  // every leaf is three levels below the root.
  std::map<std::string, int> children;
  std::size_t roots = 0;
  for (const auto& [guid, exec] : exec_by_guid) {
    EXPECT_GT(exec->start_time, 0) << exec->pid;
    if (exec->parent_guid.empty()) {
      ++roots;
      EXPECT_EQ(exec->parent_pid, static_cast<std::int64_t>(GetCurrentProcessId()));
      continue;
    }
    auto parent = exec_by_guid.find(exec->parent_guid);
    ASSERT_NE(parent, exec_by_guid.end()) << exec->pid;
    EXPECT_EQ(exec->parent_pid, parent->second->pid);
    EXPECT_GE(exec->start_time, parent->second->start_time);
    ++children[exec->parent_guid];
  }
  EXPECT_EQ(roots, 1u);
  EXPECT_EQ(children.size(), 111u);
  for (const auto& [guid, n] : children) EXPECT_EQ(n, kFanout) << guid;
  for (const auto& [guid, exec] : exec_by_guid) {
    if (children.count(guid) != 0) continue;  // not a leaf
    int depth = 0;
    for (const ProcessEvent* p = exec; !p->parent_guid.empty() && depth < 10; ++depth) {
      p = exec_by_guid.at(p->parent_guid);
    }
    EXPECT_EQ(depth, kDepth) << exec->pid;
  }

  // Exit codes, without relying on command lines: the recorded codes are exactly the storm's
  // codes, one per label (each process exits with the code its label gives).
  std::multiset<std::int64_t> want_codes, got_codes;
  std::vector<std::string> labels = {"r"};
  for (std::size_t i = 0; i < labels.size(); ++i) {
    want_codes.insert(ExpectedExitCode(labels[i]));
    if (std::count(labels[i].begin(), labels[i].end(), '.') < kDepth) {
      for (int c = 0; c < kFanout; ++c) labels.push_back(labels[i] + "." + std::to_string(c));
    }
  }
  ASSERT_EQ(labels.size(), static_cast<std::size_t>(expected_processes));
  for (const auto& [guid, exit] : exit_by_guid) {
    ASSERT_TRUE(exit->exit.code.has_value()) << exit->pid;
    got_codes.insert(*exit->exit.code);
    auto exec = exec_by_guid.find(guid);
    ASSERT_NE(exec, exec_by_guid.end());
    EXPECT_EQ(exit->pid, exec->second->pid);
    EXPECT_EQ(exit->parent_guid, exec->second->parent_guid);
    EXPECT_GE(exit->end_time, exit->start_time);
  }
  EXPECT_TRUE(got_codes == want_codes);

  // Where a command line was recorded: it is the storm's, its parent's label is its own minus
  // the last ".i" (when that parent's command line was recorded too), and its exit code is the
  // one its label gives.
  for (const auto& [label, exec] : exec_by_label) {
    SCOPED_TRACE(label);
    EXPECT_EQ(exec->argv[6], kTag);
    EXPECT_EQ(exec->argv[4], std::to_string(kFanout));
    const std::string image = ToLower(exec->image);
    EXPECT_TRUE(image.size() > 24 &&
                image.compare(image.size() - 24, 24, "stockade_spawn_storm.exe") == 0)
        << exec->image;
    if (label != "r") {
      auto parent = exec_by_label.find(label.substr(0, label.rfind('.')));
      if (parent != exec_by_label.end()) {
        EXPECT_EQ(exec->parent_guid, parent->second->process_guid);
      }
    } else {
      EXPECT_EQ(exec->parent_guid, "");
    }
    auto exit = exit_by_guid.find(exec->process_guid);
    ASSERT_NE(exit, exit_by_guid.end());
    ASSERT_TRUE(exit->second->exit.code.has_value());
    EXPECT_EQ(*exit->second->exit.code, static_cast<std::int64_t>(ExpectedExitCode(label)));
    EXPECT_EQ(exit->second->argv, exec->argv);
  }
}

TEST(WinProcessCollector, ExitCodesComeBackWhole) {
  TestJob job = MakeJob();
  Sink sink;
  ProcessCollectorOptions options;
  options.job = job.job.get();
  options.port = job.port.get();
  options.sink = sink.fn();
  auto collector = ProcessCollector::Start(options);
  ASSERT_TRUE(collector.ok()) << collector.error().ToString();
  const std::vector<std::uint32_t> codes = {0, 3, 260, 70000, 0xC0000005u};
  std::map<DWORD, std::uint32_t> expected;
  for (const std::uint32_t code : codes) {
    PROCESS_INFORMATION pi = StartInJob(job.job.get(), L"exit " + std::to_wstring(code));
    OwnedHandle process(pi.hProcess), thread(pi.hThread);
    ASSERT_EQ(WaitForSingleObject(process.get(), 60000), WAIT_OBJECT_0);
    expected[pi.dwProcessId] = code;
  }
  WaitJobEmpty(job.job.get(), 30s);
  EXPECT_TRUE((*collector)->Finish(30s).ok());
  const ProcessCollectorStats stats = (*collector)->stats();
  EXPECT_EQ(stats.gone_at_open, 0u);
  EXPECT_EQ(stats.foreign_pid, 0u);
  EXPECT_EQ(stats.exits_without_message, 0u);
  std::lock_guard<std::mutex> lock(sink.mu);
  for (const Event& e : sink.events) {
    const auto& p = std::get<ProcessEvent>(e.body);
    std::printf("%s pid %lld image '%s' argc %zu code %s\n",
                p.phase == ProcessPhase::kExec ? "exec" : "exit", static_cast<long long>(p.pid),
                p.image.c_str(), p.argv.size(),
                p.exit.code ? std::to_string(*p.exit.code).c_str() : "-");
  }
  std::size_t exits = 0;
  for (const Event& e : sink.events) {
    const auto& p = std::get<ProcessEvent>(e.body);
    if (p.phase != ProcessPhase::kExit) continue;
    ++exits;
    auto it = expected.find(static_cast<DWORD>(p.pid));
    ASSERT_NE(it, expected.end()) << p.pid;
    ASSERT_TRUE(p.exit.code.has_value());
    EXPECT_EQ(static_cast<std::uint32_t>(*p.exit.code), it->second);
  }
  EXPECT_EQ(exits, codes.size());
}

// The collector starts only after the process has come and gone and every handle to it is
// closed: the NEW_PROCESS message names a pid whose process has ended. It is still recorded --
// an exec and an exit event with its pid, never dropped -- and nothing of another process is
// attributed to it. On Windows the process object is gone: the exec event has the pid alone and
// the exit no code. Wine keeps the object of a job's exited process (measured: OpenProcess still
// succeeds), and then what is recorded must be that very process: its image and its code 7 (its
// command line went with its memory).
TEST(WinProcessCollector, AProcessGoneBeforeItsMessageIsReadIsStillRecorded) {
  TestJob job = MakeJob();
  DWORD pid = 0;
  {
    PROCESS_INFORMATION pi = StartInJob(job.job.get(), L"exit 7");
    OwnedHandle process(pi.hProcess), thread(pi.hThread);
    ASSERT_EQ(WaitForSingleObject(process.get(), 60000), WAIT_OBJECT_0);
    pid = pi.dwProcessId;
  }  // the last handles close here
  WaitJobEmpty(job.job.get(), 30s);
  Sink sink;
  ProcessCollectorOptions options;
  options.job = job.job.get();
  options.port = job.port.get();
  options.sink = sink.fn();
  auto collector = ProcessCollector::Start(options);
  ASSERT_TRUE(collector.ok()) << collector.error().ToString();
  EXPECT_TRUE((*collector)->Finish(30s).ok());
  const ProcessCollectorStats stats = (*collector)->stats();
  std::lock_guard<std::mutex> lock(sink.mu);
  ASSERT_EQ(sink.events.size(), 2u);
  const auto& exec = std::get<ProcessEvent>(sink.events[0].body);
  const auto& exit = std::get<ProcessEvent>(sink.events[1].body);
  EXPECT_EQ(exec.phase, ProcessPhase::kExec);
  EXPECT_EQ(exec.pid, static_cast<std::int64_t>(pid));
  EXPECT_EQ(exit.phase, ProcessPhase::kExit);
  EXPECT_EQ(exit.process_guid, exec.process_guid);
  EXPECT_EQ(exit.pid, exec.pid);
  if (stats.gone_at_open + stats.foreign_pid == 1) {
    std::printf("the ended process could not be opened: recorded with its pid alone\n");
    EXPECT_TRUE(exec.image.empty());  // nothing of another process is attributed to it
    EXPECT_TRUE(exec.argv.empty());
    EXPECT_FALSE(exit.exit.code.has_value());
  } else {
    std::printf("the ended process could still be opened (%s): recorded in full\n",
                UnderWine() ? "Wine keeps it" : "Windows kept it");
    const std::string image = ToLower(exec.image);
    EXPECT_TRUE(image.size() > 24 &&
                image.compare(image.size() - 24, 24, "stockade_spawn_storm.exe") == 0)
        << exec.image;
    // Its memory is gone with it: no command line can be read any more (measured under Wine).
    if (!exec.argv.empty()) {
      ASSERT_EQ(exec.argv.size(), 3u);
      EXPECT_EQ(exec.argv[2], "7");
    }
    ASSERT_TRUE(exit.exit.code.has_value());
    EXPECT_EQ(*exit.exit.code, 7);
  }
}

TEST(WinProcessCollector, RefusesToStartWithoutJobPortOrSink) {
  ProcessCollectorOptions options;
  auto collector = ProcessCollector::Start(options);
  ASSERT_FALSE(collector.ok());
  EXPECT_EQ(collector.error().code(), ErrorCode::kInvalidArgument);
}

// EvtQuery on the Security channel: needs real Windows (Wine's event log is a stub) and
// SeSecurityPrivilege (an elevated administrator or the service).
TEST(WinSecurityLog, RealWindowsQueriesTheSecurityLogAndParsesEveryEvent) {
  if (UnderWine()) {
    GTEST_SKIP() << "Wine has no Security log (its EvtQuery is a stub): real Windows only";
  }
  HANDLE token = nullptr;
  ASSERT_TRUE(OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token));
  OwnedHandle owned_token(token);
  std::vector<unsigned char> user(256);
  DWORD size = 0;
  ASSERT_TRUE(
      GetTokenInformation(token, TokenUser, user.data(), static_cast<DWORD>(user.size()), &size));
  wchar_t* sid_text = nullptr;
  ASSERT_TRUE(
      ConvertSidToStringSidW(reinterpret_cast<TOKEN_USER*>(user.data())->User.Sid, &sid_text));
  const std::string sid = Utf8(sid_text);
  LocalFree(sid_text);
  SecurityLogQuery query;
  query.sids = {sid};
  query.since = NowNs() - 24LL * 3600 * 1000000000;
  auto result = ReadSecurityLogDenials(query);
  if (!result.ok() && result.error().code() == ErrorCode::kPermissionDenied) {
    GTEST_SKIP() << "reading the Security log needs an elevated token: "
                 << result.error().ToString();
  }
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_TRUE(result->unparsed.empty()) << result->unparsed.front();
  for (const WindowsDenialFact& fact : result->denials) {
    if (fact.denial.source == DenialSource::kWin4656) {
      EXPECT_EQ(fact.subject_sid, sid);
    }
    EXPECT_GE(fact.time, query.since);
  }
  std::printf("Security log: %zu event(s) read, %zu denial(s)\n", result->events_read,
              result->denials.size());
}

}  // namespace
}  // namespace stockade::audit::win_os
