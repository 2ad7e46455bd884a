// What seccomp, the capability drop, no_new_privs and the identity switch take away. Where the
// operation works for the same user without the sandbox, that is checked first.
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <map>

#include "tests/runner/linux/runner_test_support.h"

namespace stockade::runner::testing {
namespace {

using SyscallTest = RunnerTest;

TEST_F(SyscallTest, DangerousSystemCallsFail) {
  // op -> whether the same user can do it without the sandbox on this machine (the control).
  const std::map<std::string, bool> ops = {
      {"ptrace", true},   {"unshare-user", true}, {"clone-user", true},
      {"io_uring", true}, {"keyctl", true},       {"add_key", true},
      {"bpf", false},     {"perf", false},        {"mount", false},
  };
  std::filesystem::create_directory(ws_ + "/mnt");
  for (const auto& [op, works_unconfined] : ops) {
    std::vector<std::string> args = {op};
    if (op == "mount") args.push_back(ws_ + "/mnt");
    if (works_unconfined) {
      const ProbeResult control = RunUnconfined(args, user_.uid, user_.gid);
      EXPECT_EQ(control.status.code, 0) << "control " << op << ": " << control.out;
    }
    const ProbeResult r = Run(ProbeSpec(args));
    EXPECT_EQ(r.status.code, 1) << op << ": " << r.out;
    EXPECT_EQ(ErrnoIn(r.out), EPERM) << op << ": " << r.out;
  }
}

TEST_F(SyscallTest, TiocstiFails) {
  const ProbeResult control = RunUnconfined({"tiocsti"}, user_.uid, user_.gid);
  if (ReadFileOrEmpty("/proc/sys/dev/tty/legacy_tiocsti").rfind("1", 0) == 0) {
    EXPECT_EQ(control.status.code, 0) << "control: " << control.out;
  }
  const ProbeResult r = Run(ProbeSpec({"tiocsti"}));
  EXPECT_EQ(r.status.code, 1) << r.out;
  EXPECT_NE(r.out.find("tiocsti: errno=1 "), std::string::npos) << r.out;
}

TEST_F(SyscallTest, CapabilitiesAreAllZeroAndNoNewPrivsIsSet) {
  const ProbeResult r = Run(ProbeSpec({"status"}));
  ASSERT_EQ(r.status.code, 0) << r.out;
  for (const char* key : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
    EXPECT_NE(r.out.find(std::string(key) + ":\t0000000000000000"), std::string::npos)
        << key << " in\n"
        << r.out;
  }
  EXPECT_NE(r.out.find("NoNewPrivs:\t1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Seccomp:\t2"), std::string::npos) << r.out;
}

TEST_F(SyscallTest, RunsAsTheIdentityWithNoSupplementaryGroups) {
  const ProbeResult r = Run(ProbeSpec({"id"}));
  ASSERT_EQ(r.status.code, 0) << r.out;
  const std::string u = std::to_string(user_.uid);
  const std::string g = std::to_string(user_.gid);
  EXPECT_NE(r.out.find("uid=" + u + " euid=" + u + " suid=" + u + " gid=" + g + " egid=" + g +
                       " groups=\n"),
            std::string::npos)
      << r.out;
}

TEST_F(SyscallTest, SetuidRootBinaryCannotRegainRoot) {
  const std::string suid = base_ + "/suid-probe";
  std::filesystem::copy_file(STOCKADE_PROBE_PATH, suid);
  ASSERT_EQ(::chown(suid.c_str(), 0, 0), 0);
  ASSERT_EQ(::chmod(suid.c_str(), 04755), 0);
  // Control: without no_new_privs the same user becomes root through it.
  const ProbeResult control = RunUnconfined({"exec", suid, "id"}, user_.uid, user_.gid);
  ASSERT_NE(control.out.find(" euid=0 "), std::string::npos) << control.out;

  const ProbeResult r = Run(ProbeSpec({"exec", suid, "id"}));
  EXPECT_EQ(r.status.code, 0) << r.out;
  EXPECT_NE(r.out.find(" euid=" + std::to_string(user_.uid) + " "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("euid=0"), std::string::npos) << r.out;
}

TEST_F(SyscallTest, CannotSignalTheSameUsersProcessesOutsideTheTree) {
  // A process of the sandbox user outside the tree: same uid, so only Landlock's signal scope
  // (ABI 6) stands between the tree and it.
  const pid_t outsider = ::fork();
  if (outsider == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setresgid(user_.gid, user_.gid, user_.gid) != 0 ||
        ::setresuid(user_.uid, user_.uid, user_.uid) != 0) {
      ::_exit(1);
    }
    for (;;) ::pause();
  }
  ASSERT_GT(outsider, 0);
  const std::string pid = std::to_string(outsider);
  const ProbeResult control = RunUnconfined({"signal", pid, "18"}, user_.uid, user_.gid);
  EXPECT_EQ(control.status.code, 0) << control.out;  // SIGCONT: harmless
  const ProbeResult r = Run(ProbeSpec({"signal", pid, "15"}));
  EXPECT_EQ(ErrnoIn(r.out), EPERM) << r.out;
  EXPECT_TRUE(ProcessAlive(outsider));
  ::kill(outsider, SIGKILL);
  ::waitpid(outsider, nullptr, 0);
}

}  // namespace
}  // namespace stockade::runner::testing
