// kind::kService on Linux, "direct" supervisor (this machine's PID 1 is not systemd): the real
// `stockaded serve` from this build is started detached, verified through a Ping on its socket,
// checked for drift and stopped again; everything is read back from /proc and the socket, not
// from the step. Runs as root; each test has its own state folder and service name.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "provision/executor.h"
#include "provision/linux/process.h"
#include "provision/linux/service_step.h"
#include "provision/step.h"
#include "runner/protocol/linux/connection.h"
#include "tests/provision/linux/linux_steps_test_support.h"

namespace stockade::provision::linux_os {
namespace {

namespace fs = std::filesystem;

const std::string kStockaded = std::string(STOCKADE_BUILD_DIR) + "/cli/stockaded";
const std::string kPolicy =
    std::string(STOCKADE_TEST_DATA_DIR) + "/../../docs/examples/policy.toml";

bool ServeIsBuilt() {
  auto result = RunProgram({kStockaded, "serve", "--help"}, std::chrono::seconds(20));
  // The placeholder subcommand has no options; the real one has --foreground.
  return result.ok() && result->succeeded() &&
         result->out.find("--foreground") != std::string::npos;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return s;
}

bool Alive(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  const std::string stat = ReadText("/proc/" + std::to_string(pid) + "/stat");
  const auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

class LinuxServiceStepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::IsRoot()) GTEST_SKIP() << "needs root";
    if (!fs::exists(kStockaded)) GTEST_SKIP() << kStockaded << " is not built";
    if (!ServeIsBuilt()) GTEST_SKIP() << "`stockaded serve` is not implemented in this build";
    dir_ = std::make_unique<testing::TempDir>("svc");
    state_ = dir_->path() + "/state";
    ASSERT_EQ(::mkdir(state_.c_str(), 0700), 0);
    name_ = "stk" + testing::UniquePrefix();
  }
  void TearDown() override {
    // Whatever a failing test left running is stopped by the same residue rule the uninstall
    // uses (any `serve ... --state-dir <state>`).
    if (!state_.empty()) {
      for (const std::string& left : ServiceResidue(name_, state_)) {
        if (left.rfind("process ", 0) == 0) ::kill(std::stoi(left.substr(8)), SIGKILL);
      }
    }
  }

  StepSpec Spec(const std::string& binary = kStockaded) const {
    return {kind::kService,
            "service " + binary,
            {{"binary", binary},
             {"state_dir", state_},
             {"policy", kPolicy},
             {"name", name_},
             {"supervisor", "direct"}}};
  }
  std::unique_ptr<Step> Make(const StepSpec& spec) {
    auto step = ServiceStep::Create(spec);
    EXPECT_TRUE(step.ok()) << (step.ok() ? "" : step.error().ToString());
    return step.ok() ? std::move(*step) : nullptr;
  }
  pid_t PidFromFile() const {
    const std::string text = ReadText(state_ + "/" + name_ + ".pid");
    return text.empty() ? 0 : static_cast<pid_t>(std::stol(text));
  }

  std::unique_ptr<testing::TempDir> dir_;
  std::string state_;
  std::string name_;
};

TEST_F(LinuxServiceStepTest, StartsADetachedDaemonThatAnswersPingAndStopsItOnUndo) {
  auto step = Make(Spec());
  ASSERT_NE(step, nullptr);
  auto before = step->CaptureBefore();
  ASSERT_TRUE(before.ok()) << before.error().ToString();
  EXPECT_EQ((*before)["mode"], "direct");
  EXPECT_FALSE((*before)["running"].get<bool>());
  auto applied = step->IsApplied();
  ASSERT_TRUE(applied.ok());
  EXPECT_FALSE(*applied);
  auto present = step->TargetPresent();
  ASSERT_TRUE(present.ok());
  EXPECT_FALSE(*present);

  // A descriptor this process holds without close-on-exec must not reach the daemon.
  const std::string marker = dir_->path() + "/leak-marker";
  const int leak = ::open(marker.c_str(), O_WRONLY | O_CREAT, 0600);
  ASSERT_GE(leak, 0);
  Status status = step->Apply();
  ::close(leak);
  ASSERT_TRUE(status.ok()) << status.error().ToString();
  status = step->Verify();
  ASSERT_TRUE(status.ok()) << status.error().ToString();

  const pid_t pid = PidFromFile();
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(Alive(pid));
  // A session of its own (not ours), and not its leader: it can never get a controlling terminal.
  EXPECT_NE(::getsid(pid), ::getsid(0));
  EXPECT_NE(::getsid(pid), pid);
  EXPECT_NE(::getppid(), pid);
  std::string exe(4096, '\0');
  const ssize_t n =
      ::readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), exe.data(), exe.size());
  ASSERT_GT(n, 0);
  exe.resize(static_cast<std::size_t>(n));
  EXPECT_EQ(exe, fs::canonical(kStockaded).string());
  for (const auto& fd : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    std::error_code ec;
    EXPECT_NE(fs::read_symlink(fd.path(), ec).string(), marker) << "descriptor leaked into it";
  }
  // Our own read-back: the socket answers, and with that pid.
  auto connection = runner::protocol::linux_os::Connection::Connect(state_ + "/stockaded.sock");
  ASSERT_TRUE(connection.ok()) << connection.error().ToString();
  auto pong = connection->Ping();
  ASSERT_TRUE(pong.ok()) << pong.error().ToString();
  EXPECT_EQ(pong->pid, pid);
  EXPECT_FALSE(ServiceResidue(name_, state_).empty());
  auto again = step->IsApplied();
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(*again);

  status = step->Undo(*before);
  ASSERT_TRUE(status.ok()) << status.error().ToString();
  status = step->VerifyUndone(*before);
  ASSERT_TRUE(status.ok()) << status.error().ToString();
  EXPECT_FALSE(Alive(pid));
  EXPECT_FALSE(fs::exists(state_ + "/" + name_ + ".pid"));
  EXPECT_FALSE(
      runner::protocol::linux_os::Connection::Connect(state_ + "/stockaded.sock").ok() &&
      runner::protocol::linux_os::Connection::Connect(state_ + "/stockaded.sock")->Ping().ok());
  EXPECT_TRUE(ServiceResidue(name_, state_).empty());
  // Undo is idempotent.
  EXPECT_TRUE(step->Undo(*before).ok());
  EXPECT_TRUE(step->VerifyUndone(*before).ok());
}

TEST_F(LinuxServiceStepTest, AKilledDaemonAndANewerPolicyAreDriftAndApplyRepairsThem) {
  // The policy is copied so that its modification time can be moved.
  const std::string policy = dir_->path() + "/policy.toml";
  fs::copy_file(kPolicy, policy);
  StepSpec spec = Spec();
  spec.params["policy"] = policy;
  auto step = Make(spec);
  ASSERT_NE(step, nullptr);
  auto before = step->CaptureBefore();
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(step->Apply().ok());
  ASSERT_TRUE(step->Verify().ok());
  const pid_t first = PidFromFile();

  ASSERT_EQ(::kill(first, SIGKILL), 0);
  for (int i = 0; i < 200 && Alive(first); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Status drift = step->Verify();
  ASSERT_FALSE(drift.ok());
  EXPECT_NE(drift.error().context().find("is not running"), std::string::npos)
      << drift.error().ToString();
  ASSERT_TRUE(step->Apply().ok());
  ASSERT_TRUE(step->Verify().ok());
  const pid_t second = PidFromFile();
  EXPECT_NE(second, first);

  // The policy edited after the daemon started: it serves the old one.
  const auto later = fs::file_time_type::clock::now() + std::chrono::minutes(5);
  fs::last_write_time(policy, later);
  drift = step->Verify();
  ASSERT_FALSE(drift.ok());
  EXPECT_NE(drift.error().context().find("changed after the service started"), std::string::npos)
      << drift.error().ToString();
  fs::last_write_time(policy, fs::file_time_type::clock::now() - std::chrono::minutes(1));
  ASSERT_TRUE(step->Verify().ok());

  ASSERT_TRUE(step->Undo(*before).ok());
  ASSERT_TRUE(step->VerifyUndone(*before).ok());
  EXPECT_FALSE(Alive(second));
}

TEST_F(LinuxServiceStepTest, ADaemonThatCannotStartIsReportedWithItsCause) {
  // execve fails: reported with errno, no pidfile.
  auto missing = Make(Spec(dir_->path() + "/no-such-stockaded"));
  ASSERT_NE(missing, nullptr);
  Status status = missing->Apply();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kOs) << status.error().ToString();
  EXPECT_NE(status.error().ToString().find("cannot execute"), std::string::npos);
  EXPECT_FALSE(fs::exists(state_ + "/" + name_ + ".pid"));

  // A program that exits at once: reported as such, with its console log.
  const std::string script = dir_->path() + "/fake-stockaded";
  {
    std::ofstream out(script);
    out << "#!/bin/sh\necho \"refusing to serve: $*\" >&2\nexit 3\n";
  }
  ::chmod(script.c_str(), 0755);
  auto exits = Make(Spec(script));
  ASSERT_NE(exits, nullptr);
  auto before = exits->CaptureBefore();
  ASSERT_TRUE(before.ok());
  status = exits->Apply();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kServiceUnavailable) << status.error().ToString();
  EXPECT_NE(status.error().context().find("refusing to serve: serve --foreground"),
            std::string::npos)
      << status.error().ToString();
  EXPECT_TRUE(exits->Undo(*before).ok());
  EXPECT_TRUE(exits->VerifyUndone(*before).ok());
  EXPECT_FALSE(fs::exists(state_ + "/" + name_ + ".pid"));
}

TEST_F(LinuxServiceStepTest, TheExecutorJournalsTheServiceAndRollsItBack) {
  ExecutorOptions options;
  options.state_dir = state_;
  RegisterPlatformSteps(options.registry);
  auto executor = Executor::Open(std::move(options));
  ASSERT_TRUE(executor.ok()) << executor.error().ToString();
  auto run = executor->Run(txn_kind::kApply, nlohmann::json::object(), {Spec()});
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  ASSERT_TRUE(run->changed);
  const pid_t pid = PidFromFile();
  EXPECT_TRUE(Alive(pid));
  // A second run with the same spec changes nothing: the daemon verifies as applied.
  auto second = executor->Run(txn_kind::kApply, nlohmann::json::object(), {Spec()});
  ASSERT_TRUE(second.ok()) << second.error().ToString();
  EXPECT_FALSE(second->changed);
  EXPECT_EQ(PidFromFile(), pid);

  auto rolled = executor->RollbackAll();
  ASSERT_TRUE(rolled.ok()) << rolled.error().ToString();
  EXPECT_FALSE(Alive(pid));
  EXPECT_TRUE(ServiceResidue(name_, state_).empty());
}

TEST(LinuxServiceStepSpec, RefusesRelativePathsBadNamesAndUnknownSupervisors) {
  auto make = [](nlohmann::json params) {
    return ServiceStep::Create({kind::kService, "service x", std::move(params)});
  };
  EXPECT_FALSE(make({{"binary", "stockaded"}, {"state_dir", "/var/lib/x"}}).ok());
  EXPECT_FALSE(make({{"binary", "/usr/bin/stockaded"}, {"state_dir", "var"}}).ok());
  EXPECT_FALSE(
      make({{"binary", "/usr/bin/stockaded"}, {"state_dir", "/s"}, {"name", "../x"}}).ok());
  EXPECT_FALSE(
      make({{"binary", "/usr/bin/stockaded"}, {"state_dir", "/s"}, {"supervisor", "init"}}).ok());
  auto ok = make({{"binary", "/usr/bin/stockaded"},
                  {"state_dir", "/var/lib/stockade/"},
                  {"policy", "/etc/stockade/policy.toml"}});
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();
  const auto* step = static_cast<const ServiceStep*>(ok->get());
  EXPECT_EQ(step->argv(), (std::vector<std::string>{"/usr/bin/stockaded", "serve", "--foreground",
                                                    "--state-dir", "/var/lib/stockade", "--policy",
                                                    "/etc/stockade/policy.toml"}));
  EXPECT_EQ(step->pid_file(), "/var/lib/stockade/stockaded.pid");
  EXPECT_EQ(step->socket_path(), "/var/lib/stockade/stockaded.sock");
  EXPECT_EQ(step->unit_path(), "/etc/systemd/system/stockaded.service");
  const std::string unit = step->UnitText();
  EXPECT_NE(unit.find("ExecStart=/usr/bin/stockaded serve --foreground --state-dir "
                      "/var/lib/stockade --policy /etc/stockade/policy.toml\n"),
            std::string::npos)
      << unit;
  EXPECT_NE(unit.find("Restart=on-failure"), std::string::npos);
  // systemd specifiers and spaces are escaped.
  auto odd = make({{"binary", "/opt/my tools/stockaded"}, {"state_dir", "/srv/100%"}});
  ASSERT_TRUE(odd.ok());
  EXPECT_NE(static_cast<const ServiceStep*>(odd->get())
                ->UnitText()
                .find("ExecStart=\"/opt/my tools/stockaded\" serve --foreground --state-dir "
                      "/srv/100%%\n"),
            std::string::npos);
}

}  // namespace
}  // namespace stockade::provision::linux_os
