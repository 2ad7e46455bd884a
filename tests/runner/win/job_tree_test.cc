// The job-object tree for real (Wine implements job objects faithfully, PLATFORM-NOTES.md): a
// tree of children and grandchildren lives and dies in one job, exit codes come back, breakaway
// is refused, the timeout kills the tree, and only the listed stdio handles are inherited. The
// tree runs with the test's own token here (JobTree with no token): restricted tokens are
// covered by launcher_test.cc.
#include "runner/win/job_tree.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <set>

#include "provision/win/win_util.h"
#include "runner/win/command_line.h"
#include "tests/runner/win/win_runner_test_support.h"

namespace stockade::runner::win_os {
namespace {

using namespace std::chrono_literals;
using testing::MakePipe;
using testing::NumbersAfter;
using testing::Pipe;
using testing::ProbePath;
using testing::ReadLines;
using testing::Survivors;

// The environment the probe needs to start at all, and nothing else of the test's.
std::vector<std::string> ProbeEnv() {
  wchar_t root[MAX_PATH];
  const DWORD n = GetEnvironmentVariableW(L"SystemRoot", root, MAX_PATH);
  return {"SystemRoot=" + provision::win::Utf8(std::wstring_view(root, n))};
}

SpawnRequest ProbeRequest(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {provision::win::Utf8(ProbePath())};
  argv.insert(argv.end(), args.begin(), args.end());
  SpawnRequest request;
  request.application = ProbePath();
  request.command_line = *BuildCommandLine(argv);
  request.environment = *BuildEnvironmentBlock(ProbeEnv());
  request.cwd = testing::TestBinaryFolder();
  // Wine's limit query is a stub (answers zeros): the mechanics are tested without the read-back
  // there; WinJobTree.UnderWineTheLimitQueryStubIsDetected covers the read-back itself.
  request.limits.verify = !testing::UnderWine();
  return request;
}

// Starts the probe with its stdout on a fresh pipe; the test keeps only the read end.
struct Started {
  JobTree tree;
  UniqueHandle out;
};
Started StartProbe(SpawnRequest request) {
  Pipe pipe = MakePipe();
  request.stdout_handle = pipe.write.get();
  auto tree = JobTree::Start(request);
  EXPECT_TRUE(tree.ok()) << tree.error().ToString();
  pipe.write.reset();  // EOF once every process of the tree is gone
  return Started{std::move(*tree), std::move(pipe.read)};
}

bool Contains(const std::vector<DWORD>& ids, DWORD id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

TEST(WinJobTree, ExitCodesPropagate) {
  for (const unsigned long code : {0ul, 3ul, 259ul, 70000ul, 0xC0000005ul}) {
    SpawnRequest request = ProbeRequest({"exit", std::to_string(code)});
    auto tree = JobTree::Start(request);
    ASSERT_TRUE(tree.ok()) << tree.error().ToString();
    auto status = tree->Wait();
    ASSERT_TRUE(status.ok()) << status.error().ToString();
    EXPECT_EQ(static_cast<unsigned long>(static_cast<DWORD>(status->code)), code);
    EXPECT_FALSE(status->timed_out);
    EXPECT_FALSE(status->killed);
  }
}

TEST(WinJobTree, KillEndsChildrenAndGrandchildrenWithNoSurvivor) {
  SpawnRequest request = ProbeRequest({"tree", "2", "2"});  // 1 + 2 + 4 processes
  Started started = StartProbe(request);
  const auto lines = ReadLines(started.out.get(), 7, 20s);
  const auto pids = NumbersAfter(lines, "pid");
  ASSERT_EQ(pids.size(), 7u) << ::testing::PrintToString(lines);
  EXPECT_EQ(pids.front(), started.tree.pid());

  // Every one of them is in the job, as the job itself reports.
  auto in_job = started.tree.job().ProcessIds();
  ASSERT_TRUE(in_job.ok()) << in_job.error().ToString();
  for (const DWORD pid : pids) EXPECT_TRUE(Contains(*in_job, pid)) << pid;

  ASSERT_TRUE(started.tree.Kill().ok());
  auto status = started.tree.Wait();
  ASSERT_TRUE(status.ok()) << status.error().ToString();
  EXPECT_TRUE(status->killed);
  EXPECT_FALSE(status->timed_out);
  EXPECT_EQ(static_cast<DWORD>(status->code), kKilledExitCode);

  EXPECT_TRUE(Survivors(pids, 0ms).empty());
  const auto listed = testing::SystemProcessIds();
  for (const DWORD pid : pids) EXPECT_FALSE(Contains(listed, pid)) << "still listed: " << pid;
  auto accounting = started.tree.job().Accounting();
  ASSERT_TRUE(accounting.ok());
  EXPECT_EQ(accounting->active_processes, 0u);
  EXPECT_GE(accounting->total_processes, 7u);
}

TEST(WinJobTree, DroppingTheTreeKillsItAll) {
  std::vector<DWORD> pids;
  {
    Started started = StartProbe(ProbeRequest({"tree", "1", "3"}));
    pids = NumbersAfter(ReadLines(started.out.get(), 4, 20s), "pid");
    ASSERT_EQ(pids.size(), 4u);
    for (const DWORD pid : pids) ASSERT_TRUE(testing::ProcessAlive(pid));
  }  // no Wait(): the destructor kills and the job handle closes (kill on close)
  EXPECT_EQ(Survivors(pids, 5s), std::vector<DWORD>{});
}

TEST(WinJobTree, KillOnCloseAloneEndsTheTree) {
  // The job's own guarantee, without TerminateJobObject: closing its last handle kills every
  // process in it (what happens when the service itself dies).
  JobLimits limits;
  limits.verify = !testing::UnderWine();
  auto job = JobObject::Create(limits);
  ASSERT_TRUE(job.ok()) << job.error().ToString();

  Pipe pipe = MakePipe();
  SpawnRequest request = ProbeRequest({"tree", "1", "2"});
  HANDLE write_inheritable = nullptr;
  ASSERT_TRUE(DuplicateHandle(GetCurrentProcess(), pipe.write.get(), GetCurrentProcess(),
                              &write_inheritable, 0, TRUE, DUPLICATE_SAME_ACCESS));
  pipe.write.reset();
  STARTUPINFOW si{};
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdOutput = write_inheritable;
  PROCESS_INFORMATION pi{};
  ASSERT_TRUE(CreateProcessW(request.application.c_str(), request.command_line.data(), nullptr,
                             nullptr, TRUE, CREATE_SUSPENDED, nullptr, nullptr, &si, &pi));
  CloseHandle(write_inheritable);
  ASSERT_TRUE(job->Assign(pi.hProcess).ok());
  ResumeThread(pi.hThread);
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
  const auto pids = NumbersAfter(ReadLines(pipe.read.get(), 3, 20s), "pid");
  ASSERT_EQ(pids.size(), 3u);
  { JobObject closing = std::move(*job); }  // the only handle: closed here
  EXPECT_EQ(Survivors(pids, 5s), std::vector<DWORD>{});
}

TEST(WinJobTree, TimeoutKillsTheWholeTree) {
  SpawnRequest request = ProbeRequest({"tree", "1", "2"});
  request.timeout = 1500ms;
  const auto start = std::chrono::steady_clock::now();
  Started started = StartProbe(request);
  const auto pids = NumbersAfter(ReadLines(started.out.get(), 3, 20s), "pid");
  ASSERT_EQ(pids.size(), 3u);
  auto status = started.tree.Wait();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(status.ok()) << status.error().ToString();
  EXPECT_TRUE(status->timed_out);
  EXPECT_FALSE(status->killed);
  EXPECT_GE(elapsed, 1400ms);
  EXPECT_LT(elapsed, 15s);
  EXPECT_TRUE(Survivors(pids, 0ms).empty());
}

TEST(WinJobTree, ADetachedDaemonDiesWhenTheFirstProcessExits) {
  Started started = StartProbe(ProbeRequest({"detach"}));
  const auto children = NumbersAfter(ReadLines(started.out.get(), 1, 20s), "child");
  ASSERT_EQ(children.size(), 1u);
  auto status = started.tree.Wait();
  ASSERT_TRUE(status.ok()) << status.error().ToString();
  EXPECT_EQ(status->code, 0);
  EXPECT_FALSE(status->killed);
  EXPECT_TRUE(Survivors(children, 0ms).empty());
}

TEST(WinJobTree, BreakawayIsRefusedOrStaysInTheJob) {
  Started started = StartProbe(ProbeRequest({"breakaway"}));
  const auto lines = ReadLines(started.out.get(), 1, 20s);
  ASSERT_EQ(lines.size(), 1u);
  std::cout << "breakaway attempt: " << lines.front() << "\n";
  const auto refused = NumbersAfter(lines, "breakaway-error");
  const auto escaped = NumbersAfter(lines, "breakaway-pid");
  if (!refused.empty()) {
    EXPECT_EQ(refused.front(), static_cast<DWORD>(ERROR_ACCESS_DENIED)) << lines.front();
  } else {
    ASSERT_EQ(escaped.size(), 1u) << lines.front();
    auto in_job = started.tree.job().ProcessIds();
    ASSERT_TRUE(in_job.ok());
    EXPECT_TRUE(Contains(*in_job, escaped.front())) << "the breakaway child left the job";
  }
  ASSERT_TRUE(started.tree.Kill().ok());
  ASSERT_TRUE(started.tree.Wait().ok());
  if (!escaped.empty()) {
    EXPECT_TRUE(Survivors(escaped, 0ms).empty());
  }
}

// A handle the test makes inheritable but does not list: the probe tries to write through its
// value. The positive control, started without the list, shows the probe can use an inherited
// handle at all, so a test that cannot fail is not what passes here.
TEST(WinJobTree, OnlyTheListedStdioHandlesAreInherited) {
  Pipe secret = MakePipe();
  ASSERT_TRUE(SetHandleInformation(secret.write.get(), HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT));
  const std::string value = std::to_string(reinterpret_cast<ULONG_PTR>(secret.write.get()));

  // Control: plain inheritance hands it over; the byte arrives in the secret pipe.
  {
    SpawnRequest request = ProbeRequest({"handle", value});
    STARTUPINFOW si{};
    si.cb = sizeof si;
    PROCESS_INFORMATION pi{};
    ASSERT_TRUE(CreateProcessW(request.application.c_str(), request.command_line.data(), nullptr,
                               nullptr, TRUE, CREATE_NO_WINDOW, nullptr, nullptr, &si, &pi));
    WaitForSingleObject(pi.hProcess, 20000);
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    DWORD available = 0;
    ASSERT_TRUE(PeekNamedPipe(secret.read.get(), nullptr, 0, nullptr, &available, nullptr));
    ASSERT_EQ(available, 1u) << "control: the probe could not use an inherited handle";
    char byte;
    DWORD n = 0;
    ASSERT_TRUE(ReadFile(secret.read.get(), &byte, 1, &n, nullptr));
  }

  Started started = StartProbe(ProbeRequest({"handle", value}));
  const auto lines = ReadLines(started.out.get(), 1, 20s);
  auto status = started.tree.Wait();
  ASSERT_TRUE(status.ok());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines.front().rfind("handle-error", 0), 0u) << lines.front();
  DWORD available = 0;
  ASSERT_TRUE(PeekNamedPipe(secret.read.get(), nullptr, 0, nullptr, &available, nullptr));
  EXPECT_EQ(available, 0u) << "a handle outside the list reached the tree";
}

TEST(WinJobTree, TheEnvironmentIsExactlyTheBlock) {
  std::vector<std::string> env = ProbeEnv();
  env.push_back("STOCKADE_TEST_B=two words");
  env.push_back("stockade_test_a=1");
  SpawnRequest request = ProbeRequest({"env"});
  request.environment = *BuildEnvironmentBlock(env);
  Started started = StartProbe(request);
  auto lines = ReadLines(started.out.get(), 1000, 20s);
  ASSERT_TRUE(started.tree.Wait().ok());
  ASSERT_FALSE(lines.empty());
  ASSERT_EQ(lines.back(), "end");
  lines.pop_back();
  std::set<std::string> got(lines.begin(), lines.end());
  std::set<std::string> want(env.begin(), env.end());
  // Windows itself adds the per-drive current-folder entries ("=C:=C:\\..."), hidden names
  // starting with '='; Wine's loader adds its own WINE* variables and SystemDrive to every process
  // it starts (reported, not hidden: the test prints them). Nothing else may appear: none of this
  // test process's own variables (PATH, USERPROFILE, ...) reaches the tree.
  std::vector<std::string> added_by_the_os;
  for (auto it = got.begin(); it != got.end();) {
    const bool os_added =
        (!it->empty() && (*it)[0] == '=') ||
        (testing::UnderWine() && (it->rfind("WINE", 0) == 0 || it->rfind("SystemDrive=", 0) == 0));
    if (os_added) added_by_the_os.push_back(*it);
    it = os_added ? got.erase(it) : std::next(it);
  }
  std::cout << "added by the OS: " << ::testing::PrintToString(added_by_the_os) << "\n";
  EXPECT_EQ(got, want);
}

TEST(WinJobTree, StdinAndStdoutAreRelayed) {
  Pipe in = MakePipe();
  SpawnRequest request = ProbeRequest({"cat"});
  request.stdin_handle = in.read.get();
  Started started = StartProbe(request);
  in.read.reset();
  const std::string text = "hello through the job\nsecond line\n";
  DWORD written = 0;
  ASSERT_TRUE(
      WriteFile(in.write.get(), text.data(), static_cast<DWORD>(text.size()), &written, nullptr));
  in.write.reset();  // EOF for cat
  const std::string out = testing::ReadAll(started.out.get(), 20s);
  auto status = started.tree.Wait();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->code, 0);
  EXPECT_EQ(out, text);
}

TEST(WinJobTree, TheCompletionPortReportsEveryProcess) {
  Started started = StartProbe(ProbeRequest({"spawn", "2"}));
  const auto pids = NumbersAfter(ReadLines(started.out.get(), 3, 20s), "pid");
  ASSERT_EQ(pids.size(), 3u);
  auto status = started.tree.Wait();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->code, 0);
  std::set<DWORD> started_ids;
  std::set<DWORD> exited_ids;
  bool zero = false;
  while (auto message = started.tree.job().NextMessage(2000ms)) {
    if (message->type == JOB_OBJECT_MSG_NEW_PROCESS) started_ids.insert(message->pid);
    if (message->type == JOB_OBJECT_MSG_EXIT_PROCESS ||
        message->type == JOB_OBJECT_MSG_ABNORMAL_EXIT_PROCESS) {
      exited_ids.insert(message->pid);
    }
    if (message->type == JOB_OBJECT_MSG_ACTIVE_PROCESS_ZERO) {
      zero = true;
      break;
    }
  }
  EXPECT_EQ(started_ids, std::set<DWORD>(pids.begin(), pids.end()));
  EXPECT_EQ(exited_ids, std::set<DWORD>(pids.begin(), pids.end()));
  EXPECT_TRUE(zero);
}

TEST(WinJobTree, UnderWineTheLimitQueryStubIsDetected) {
  if (!testing::UnderWine()) GTEST_SKIP() << "Wine-specific: Windows reads its limits back";
  JobLimits limits;
  limits.max_processes = 5;
  auto job = JobObject::Create(limits);
  ASSERT_FALSE(job.ok()) << "Wine now reads job limits back: update the notes";
  EXPECT_EQ(job.error().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(job.error().context().find("limit flags"), std::string::npos) << job.error().ToString();
}

TEST(WinJobTree, RealWindowsStoresTheLimitsAsAsked) {
  if (testing::UnderWine()) GTEST_SKIP() << "Wine's QueryInformationJobObject answers zeros";
  JobLimits limits;
  limits.max_processes = 5;
  limits.memory_bytes = 256ull << 20;
  auto job = JobObject::Create(limits);
  ASSERT_TRUE(job.ok()) << job.error().ToString();
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION info{};
  ASSERT_TRUE(QueryInformationJobObject(job->get(), JobObjectExtendedLimitInformation, &info,
                                        sizeof info, nullptr));
  const DWORD flags = info.BasicLimitInformation.LimitFlags;
  EXPECT_NE(flags & JOB_OBJECT_LIMIT_ACTIVE_PROCESS, 0u);
  EXPECT_NE(flags & JOB_OBJECT_LIMIT_JOB_MEMORY, 0u);
  EXPECT_EQ(flags & (JOB_OBJECT_LIMIT_BREAKAWAY_OK | JOB_OBJECT_LIMIT_SILENT_BREAKAWAY_OK), 0u);
  EXPECT_EQ(info.BasicLimitInformation.ActiveProcessLimit, 5u);
  EXPECT_EQ(info.JobMemoryLimit, 256ull << 20);
  JOBOBJECT_BASIC_UI_RESTRICTIONS ui{};
  ASSERT_TRUE(
      QueryInformationJobObject(job->get(), JobObjectBasicUIRestrictions, &ui, sizeof ui, nullptr));
  EXPECT_EQ(ui.UIRestrictionsClass, static_cast<DWORD>(JOB_OBJECT_UILIMIT_ALL));
}

TEST(WinJobTree, RealWindowsEnforcesTheProcessLimit) {
  if (testing::UnderWine()) {
    GTEST_SKIP() << "Wine stores job process limits but does not enforce them";
  }
  SpawnRequest request = ProbeRequest({"tree", "1", "6"});
  request.limits.max_processes = 3;
  Started started = StartProbe(request);
  const auto lines = ReadLines(started.out.get(), 7, 10s);
  EXPECT_EQ(NumbersAfter(lines, "pid").size(), 3u) << ::testing::PrintToString(lines);
  EXPECT_EQ(NumbersAfter(lines, "spawn-error").size(), 4u) << ::testing::PrintToString(lines);
  ASSERT_TRUE(started.tree.Kill().ok());
  ASSERT_TRUE(started.tree.Wait().ok());
}

TEST(WinJobTree, RealWindowsEnforcesTheMemoryLimit) {
  if (testing::UnderWine()) {
    GTEST_SKIP() << "Wine stores job memory limits but does not enforce them";
  }
  SpawnRequest request = ProbeRequest({"alloc", "512"});
  request.limits.memory_bytes = 128ull << 20;
  Started started = StartProbe(request);
  const auto lines = ReadLines(started.out.get(), 1, 20s);
  auto status = started.tree.Wait();
  ASSERT_TRUE(status.ok());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines.front().rfind("alloc-error", 0), 0u) << lines.front();
  EXPECT_TRUE(status->oom_killed);
}

}  // namespace
}  // namespace stockade::runner::win_os
