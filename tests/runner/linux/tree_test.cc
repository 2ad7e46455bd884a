// The tree as a whole: exit statuses, limits, timeout and kill, and that no descendant survives
// (double fork, setsid, SIGHUP ignored) - checked from outside by pid, by uid and by cgroup.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <regex>
#include <thread>

#include "tests/runner/linux/runner_test_support.h"

namespace stockade::runner::testing {
namespace {

using TreeTest = RunnerTest;
using std::chrono::steady_clock;

pid_t WaitForPidFile(const std::string& path) {
  for (int i = 0; i < 5000; ++i) {
    const std::string text = ReadFileOrEmpty(path);
    if (!text.empty()) return static_cast<pid_t>(std::stol(text));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return -1;
}

void ExpectCgroupsGone(const std::vector<std::string>& cgroups) {
  EXPECT_FALSE(cgroups.empty());
  for (const auto& dir : cgroups) {
    EXPECT_FALSE(std::filesystem::exists(dir)) << dir << " was not removed";
  }
}

TEST_F(TreeTest, ExitCodeIsPropagated) {
  const ProbeResult r = Run(ProbeSpec({"exit", "3"}));
  EXPECT_EQ(r.status.code, 3);
  EXPECT_EQ(r.status.signal, 0);
  EXPECT_FALSE(r.status.timed_out);
  ExpectCgroupsGone(r.cgroups);
}

TEST_F(TreeTest, DeathBySignalIs128PlusTheSignal) {
  const ProbeResult killed = Run(ProbeSpec({"kill", "9"}));
  EXPECT_EQ(killed.status.code, 137);
  EXPECT_EQ(killed.status.signal, SIGKILL);
  const ProbeResult term = Run(ProbeSpec({"kill", "15"}));
  EXPECT_EQ(term.status.code, 143);
  EXPECT_EQ(term.status.signal, SIGTERM);
}

TEST_F(TreeTest, ProcessLimitBoundsAForkBomb) {
  LaunchSpec spec = ProbeSpec({"forkbomb", "200"});
  spec.limits.max_processes = 16;
  const ProbeResult r = Run(spec);
  ASSERT_EQ(r.status.code, 0) << r.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("forked=([0-9]+) errno=([0-9]+)"))) << r.out;
  const int forked = std::stoi(m[1]);
  EXPECT_LT(forked, 16) << r.out;  // the probe itself counts
  EXPECT_GT(forked, 0) << r.out;
  EXPECT_EQ(std::stoi(m[2]), EAGAIN) << r.out;
}

TEST_F(TreeTest, MemoryLimitKillsTheTree) {
  LaunchSpec spec = ProbeSpec({"alloc", "512"});
  spec.limits.memory_bytes = 64ULL << 20;
  const ProbeResult r = Run(spec);
  EXPECT_EQ(r.status.signal, SIGKILL) << r.out;
  EXPECT_EQ(r.status.code, 137);
  EXPECT_TRUE(r.status.oom_killed);
  EXPECT_EQ(r.out.find("alloc: ok"), std::string::npos) << r.out;

  // Control: the same allocation fits without the limit.
  LaunchSpec unlimited = ProbeSpec({"alloc", "512"});
  const ProbeResult ok = Run(unlimited);
  EXPECT_EQ(ok.status.code, 0) << ok.out;
}

TEST_F(TreeTest, TimeoutKillsADoubleForkedSetsidDaemon) {
  const std::string pidfile = ws_ + "/daemon.pid";
  LaunchSpec spec = ProbeSpec({"daemon", pidfile, "stay"});
  spec.timeout = std::chrono::milliseconds(1500);
  int out = -1;
  const auto start = steady_clock::now();
  auto tree = Start(spec, &out);
  ASSERT_TRUE(tree.ok()) << tree.error().ToString();
  const pid_t daemon = WaitForPidFile(pidfile);
  ASSERT_GT(daemon, 0);
  // Read back from the cgroup: the daemon left the session and the parent, not the cgroup.
  auto listed = tree->Processes();
  ASSERT_TRUE(listed.ok());
  EXPECT_NE(std::find(listed->begin(), listed->end(), daemon), listed->end());
  EXPECT_NE(std::find(listed->begin(), listed->end(), tree->pid()), listed->end());
  EXPECT_NE(::getsid(daemon), ::getsid(tree->pid()));
  const auto cgroups = tree->cgroup_paths();

  auto status = tree->Wait();
  const auto elapsed = steady_clock::now() - start;
  ::close(out);
  ASSERT_TRUE(status.ok()) << status.error().ToString();
  EXPECT_TRUE(status->timed_out);
  EXPECT_EQ(status->code, 137);
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  EXPECT_GE(elapsed, std::chrono::milliseconds(1400));
  EXPECT_FALSE(ProcessAlive(daemon)) << "daemon " << daemon << " survived";
  EXPECT_TRUE(ProcessesOfUid(user_.uid).empty());
  ExpectCgroupsGone(cgroups);
}

TEST_F(TreeTest, DaemonLeftBehindDiesWhenTheCommandExits) {
  const std::string pidfile = ws_ + "/daemon.pid";
  int out = -1;
  auto tree = Start(ProbeSpec({"daemon", pidfile, "exit"}), &out);
  ASSERT_TRUE(tree.ok()) << tree.error().ToString();
  const auto cgroups = tree->cgroup_paths();
  const pid_t daemon = WaitForPidFile(pidfile);
  ASSERT_GT(daemon, 0);
  auto status = tree->Wait();
  ::close(out);
  ASSERT_TRUE(status.ok()) << status.error().ToString();
  EXPECT_EQ(status->code, 0);
  EXPECT_FALSE(status->timed_out);
  EXPECT_FALSE(ProcessAlive(daemon)) << "daemon " << daemon << " survived";
  EXPECT_TRUE(ProcessesOfUid(user_.uid).empty());
  ExpectCgroupsGone(cgroups);
}

TEST_F(TreeTest, KillEndsTheWholeTree) {
  const std::string pidfile = ws_ + "/daemon.pid";
  int out = -1;
  auto tree = Start(ProbeSpec({"daemon", pidfile, "stay"}), &out);
  ASSERT_TRUE(tree.ok()) << tree.error().ToString();
  const pid_t daemon = WaitForPidFile(pidfile);
  ASSERT_GT(daemon, 0);
  ASSERT_TRUE(ProcessAlive(daemon));
  ASSERT_TRUE(tree->Kill().ok());
  auto status = tree->Wait();
  ::close(out);
  ASSERT_TRUE(status.ok()) << status.error().ToString();
  EXPECT_TRUE(status->killed);
  EXPECT_EQ(status->code, 137);
  EXPECT_FALSE(ProcessAlive(daemon));
  EXPECT_TRUE(ProcessesOfUid(user_.uid).empty());
}

TEST_F(TreeTest, DestroyingTheHandleKillsTheTree) {
  const std::string pidfile = ws_ + "/daemon.pid";
  int out = -1;
  pid_t daemon = -1;
  std::vector<std::string> cgroups;
  {
    auto tree = Start(ProbeSpec({"daemon", pidfile, "stay"}), &out);
    ASSERT_TRUE(tree.ok()) << tree.error().ToString();
    daemon = WaitForPidFile(pidfile);
    cgroups = tree->cgroup_paths();
  }
  ::close(out);
  ASSERT_GT(daemon, 0);
  EXPECT_FALSE(ProcessAlive(daemon));
  ExpectCgroupsGone(cgroups);
}

TEST_F(TreeTest, SetupFailureNamesTheFailingSystemCall) {
  const std::string private_dir = base_ + "/root-only";
  ASSERT_EQ(::mkdir(private_dir.c_str(), 0700), 0);
  LaunchSpec spec = ProbeSpec({"exit", "0"});
  spec.cwd = private_dir;
  int out = -1;
  auto tree = Start(spec, &out);
  ::close(out);
  ASSERT_FALSE(tree.ok());
  EXPECT_EQ(tree.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(tree.error().os_error(), EACCES);
  EXPECT_NE(tree.error().context().find("chdir"), std::string::npos) << tree.error().ToString();
  EXPECT_NE(tree.error().context().find(private_dir), std::string::npos) << tree.error().ToString();

  LaunchSpec missing = ProbeSpec({});
  missing.argv = {ws_ + "/no-such-program"};
  auto tree2 = Start(missing, &out);
  ::close(out);
  ASSERT_FALSE(tree2.ok());
  EXPECT_EQ(tree2.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(tree2.error().context().find("execve"), std::string::npos) << tree2.error().ToString();
  EXPECT_TRUE(ProcessesOfUid(user_.uid).empty());

  LaunchSpec bad_root = ProbeSpec({"exit", "0"});
  bad_root.writable_roots.push_back(base_ + "/no-such-root");
  auto tree3 = Start(bad_root, &out);
  ::close(out);
  ASSERT_FALSE(tree3.ok());
  EXPECT_NE(tree3.error().context().find("no-such-root"), std::string::npos)
      << tree3.error().ToString();
}

}  // namespace
}  // namespace stockade::runner::testing
