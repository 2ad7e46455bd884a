// Shared pieces of the launcher tests: a throwaway system user for the sandbox identity, a
// scratch tree (workspace with .git, a world-writable folder outside it, secrets to deny), and
// helpers that run stockade_probe through the launcher or, as the positive control, without it.
#ifndef STOCKADE_TESTS_RUNNER_LINUX_RUNNER_TEST_SUPPORT_H_
#define STOCKADE_TESTS_RUNNER_LINUX_RUNNER_TEST_SUPPORT_H_

#include <gtest/gtest.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "runner/launch_spec.h"
#include "runner/linux/launcher.h"

namespace stockade::runner::testing {

// A system user "strun<pid>" (own group, no home, no shell) created on first use and deleted
// when the test process exits; users left by crashed earlier runs (their pid is gone) are
// deleted before a new one is made.
struct TestUser {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};
const TestUser& SandboxUser();

struct ProbeResult {
  linux_os::ExitStatus status;
  std::string out;  // stdout and stderr together
  std::vector<std::string> cgroups;
};

// "errno=N" in the probe's output, or -1.
int ErrnoIn(const std::string& out);
// Live (non-zombie) processes owned by `uid`, from /proc.
std::vector<pid_t> ProcessesOfUid(uid_t uid);
// True when `pid` exists and is not a zombie.
bool ProcessAlive(pid_t pid);
std::string ReadFileOrEmpty(const std::string& path);

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // A spec that runs the probe with `args` as the sandbox user: writable root ws_, ".git"
  // protected, secret_dir_ and secret_file_ denied, network blocked, 64 processes, 30 s.
  LaunchSpec ProbeSpec(const std::vector<std::string>& args) const;
  // Runs the spec, stdout and stderr captured; fails the test when the launch fails.
  ProbeResult Run(const LaunchSpec& spec);
  // Launches with output going to a memfd whose descriptor is returned in *out_fd.
  Expected<linux_os::ProcessTree> Start(const LaunchSpec& spec, int* out_fd);
  // The probe without any sandbox, as uid/gid (no supplementary groups), for positive controls.
  ProbeResult RunUnconfined(const std::vector<std::string>& args, uid_t uid, gid_t gid);

  std::string base_;         // /tmp/strun-XXXXXX, 0755, root
  std::string ws_;           // base_/ws, owned by the sandbox user
  std::string outside_;      // base_/outside, mode 0777: only Landlock keeps the tree out
  std::string secret_dir_;   // base_/secret (0755) with key (0644, "TOPSECRET")
  std::string secret_file_;  // base_/secret.txt (0644, "FILESECRET")
  linux_os::LaunchOptions options_;
  TestUser user_;
};

}  // namespace stockade::runner::testing

#endif  // STOCKADE_TESTS_RUNNER_LINUX_RUNNER_TEST_SUPPORT_H_
