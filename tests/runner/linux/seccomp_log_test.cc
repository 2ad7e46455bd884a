// The logging variant of the seccomp filter (LaunchSpec::log_seccomp_denials): same rules,
// installed with SECCOMP_FILTER_FLAG_LOG, and refused calls still fail with the filter's errno.
#include <gtest/gtest.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runner/launch_spec.h"
#include "runner/linux/seccomp.h"

namespace stockade::runner::linux_os {
namespace {

TEST(SeccompLogTest, KindFollowsTheSpec) {
  LaunchSpec spec;
  EXPECT_FALSE(SeccompKindFor(spec).log_denials);  // off by default
  spec.log_seccomp_denials = true;
  spec.network = NetworkAccess::kBlocked;
  const SeccompKind kind = SeccompKindFor(spec);
  EXPECT_TRUE(kind.log_denials);
  EXPECT_EQ(kind.network, SeccompNetwork::kBlocked);
}

TEST(SeccompLogTest, LoggedFilterHasTheSameRulesAndTheLogFlag) {
  auto plain = SeccompProgramFor(SeccompKind{SeccompNetwork::kBlocked, false});
  auto logged = SeccompProgramFor(SeccompKind{SeccompNetwork::kBlocked, true});
  ASSERT_TRUE(plain.ok()) << plain.error().ToString();
  ASSERT_TRUE(logged.ok()) << logged.error().ToString();
  EXPECT_EQ((*plain)->flags, 0u);
  EXPECT_EQ((*logged)->flags, static_cast<unsigned int>(SECCOMP_FILTER_FLAG_LOG));
  ASSERT_EQ((*plain)->instructions.size(), (*logged)->instructions.size());
  EXPECT_EQ(std::memcmp((*plain)->instructions.data(), (*logged)->instructions.data(),
                        (*plain)->instructions.size() * sizeof(sock_filter)),
            0);
  EXPECT_NE(plain->get(), logged->get());  // cached apart
}

// The kernel accepts the flag and the refusals keep their errno: ptrace EPERM, clone3 ENOSYS.
TEST(SeccompLogTest, LoggedFilterInstallsAndRefuses) {
  auto logged = SeccompProgramFor(SeccompKind{SeccompNetwork::kBlocked, true});
  ASSERT_TRUE(logged.ok()) << logged.error().ToString();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(10);
    SetupFailure failure{};
    if (!ApplySeccomp(**logged, &failure)) ::_exit(11);
    errno = 0;
    if (::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) != -1 || errno != EPERM) ::_exit(12);
    errno = 0;
    if (::syscall(SYS_clone3, nullptr, 0) != -1 || errno != ENOSYS) ::_exit(13);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10 no_new_privs, 11 install, 12 ptrace, 13 clone3";
}

}  // namespace
}  // namespace stockade::runner::linux_os
