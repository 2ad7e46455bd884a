// The unprovisioned mode: an ordinary user, no service, no sandbox identity. The launcher runs
// as that user here (a forked test process that dropped root), and the tree gets a user + mount
// namespace, a PID namespace, Landlock, seccomp and no capabilities.
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <functional>
#include <regex>
#include <sstream>

#include "tests/runner/linux/runner_test_support.h"

namespace stockade::runner::testing {
namespace {

class UnprovisionedTest : public RunnerTest {
 protected:
  // Runs `body` in a child process that has become the sandbox user for good (no way back to
  // root), and returns what it printed. The body must not use gtest assertions.
  std::string AsUser(const std::function<std::string()>& body) {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      if (::setgroups(0, nullptr) != 0 || ::setresgid(user_.gid, user_.gid, user_.gid) != 0 ||
          ::setresuid(user_.uid, user_.uid, user_.uid) != 0) {
        ::_exit(100);
      }
      const std::string text = body();
      if (::write(fds[1], text.data(), text.size()) < 0) ::_exit(101);
      ::_exit(0);
    }
    ::close(fds[1]);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
    return out;
  }

  LaunchSpec SameUserSpec(const std::vector<std::string>& args) const {
    LaunchSpec spec = ProbeSpec(args);
    spec.identity = {};
    spec.identity.same_user = true;
    spec.limits = {};
    return spec;
  }

  // Runs one spec inside AsUser's child; "code=N out=<probe output>".
  std::string RunSpec(const LaunchSpec& spec) {
    linux_os::LaunchOptions options = options_;
    options.runtime_dir = user_run_;
    return AsUser([&] {
      int fd = -1;
      auto tree = Start(spec, &fd);  // NOLINT: Start only uses members set in SetUp
      if (!tree.ok()) return "launch failed: " + tree.error().ToString();
      auto status = tree->Wait();
      if (!status.ok()) return "wait failed: " + status.error().ToString();
      std::string out;
      ::lseek(fd, 0, SEEK_SET);
      char buf[4096];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<std::size_t>(n));
      std::ostringstream s;
      s << "code=" << status->code << " timed_out=" << status->timed_out << " out=" << out;
      return s.str();
    });
  }

  void SetUp() override {
    RunnerTest::SetUp();
    if (IsSkipped() || HasFailure()) return;
    user_run_ = base_ + "/user-run";
    ASSERT_EQ(::mkdir(user_run_.c_str(), 0755), 0);
    ASSERT_EQ(::chown(user_run_.c_str(), user_.uid, user_.gid), 0);
    options_.runtime_dir = user_run_;
  }

  std::string user_run_;
};

TEST_F(UnprovisionedTest, ConfinesTheCallersOwnUser) {
  const std::string inside = RunSpec(SameUserSpec({"write", ws_ + "/in.txt", "in"}));
  EXPECT_NE(inside.find("code=0"), std::string::npos) << inside;
  EXPECT_EQ(ReadFileOrEmpty(ws_ + "/in.txt"), "in");

  const std::string outside = RunSpec(SameUserSpec({"write", outside_ + "/out.txt", "x"}));
  EXPECT_EQ(ErrnoIn(outside), EACCES) << outside;
  EXPECT_FALSE(std::filesystem::exists(outside_ + "/out.txt"));

  const std::string git = RunSpec(SameUserSpec({"write", ws_ + "/.git/config", "x"}));
  EXPECT_EQ(ErrnoIn(git), EROFS) << git;
  EXPECT_EQ(ReadFileOrEmpty(ws_ + "/.git/config"), "[core]\n");

  const std::string secret = RunSpec(SameUserSpec({"read", secret_dir_ + "/key"}));
  EXPECT_EQ(ErrnoIn(secret), EACCES) << secret;
  const std::string secret_file = RunSpec(SameUserSpec({"read", secret_file_}));
  EXPECT_EQ(ErrnoIn(secret_file), EACCES) << secret_file;
  EXPECT_EQ(secret_file.find("FILESECRET"), std::string::npos);

  const std::string net = RunSpec(SameUserSpec({"socket", "inet"}));
  EXPECT_EQ(ErrnoIn(net), EACCES) << net;
  const std::string userns = RunSpec(SameUserSpec({"unshare-user"}));
  EXPECT_EQ(ErrnoIn(userns), EPERM) << userns;

  const std::string status = RunSpec(SameUserSpec({"status"}));
  EXPECT_NE(status.find("CapEff:\t0000000000000000"), std::string::npos) << status;
  EXPECT_NE(status.find("CapBnd:\t0000000000000000"), std::string::npos) << status;
  EXPECT_NE(status.find("NoNewPrivs:\t1"), std::string::npos) << status;

  const std::string id = RunSpec(SameUserSpec({"id"}));
  EXPECT_NE(id.find("euid=" + std::to_string(user_.uid) + " "), std::string::npos) << id;
}

TEST_F(UnprovisionedTest, TimeoutKillsTheWholePidNamespace) {
  LaunchSpec spec = SameUserSpec({"daemon", ws_ + "/daemon.pid", "stay"});
  spec.timeout = std::chrono::milliseconds(1000);
  const std::string r = RunSpec(spec);
  EXPECT_NE(r.find("code=137 timed_out=1"), std::string::npos) << r;
  // The launcher child has exited too: nothing of the user may be left.
  EXPECT_TRUE(ProcessesOfUid(user_.uid).empty());
}

TEST_F(UnprovisionedTest, ExitingCommandTakesItsDaemonWithIt) {
  const std::string r = RunSpec(SameUserSpec({"daemon", ws_ + "/daemon.pid", "exit"}));
  EXPECT_NE(r.find("code=0 timed_out=0"), std::string::npos) << r;
  EXPECT_FALSE(ReadFileOrEmpty(ws_ + "/daemon.pid").empty()) << "the daemon never started";
  EXPECT_TRUE(ProcessesOfUid(user_.uid).empty());
}

}  // namespace
}  // namespace stockade::runner::testing
