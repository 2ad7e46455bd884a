// A run in the unprovisioned mode: no service; the client launches the tree itself as the
// calling user (runner/linux/launcher.h, LaunchIdentity::same_user: user and PID namespaces,
// mount namespace, Landlock, seccomp) and watches it. The timeout is enforced here; Ctrl-C and
// SIGTERM kill the tree (the PID namespace's first process takes every other one with it); a
// client killed with SIGKILL takes the tree with it through the parent-death signal
// (LaunchOptions::kill_with_launcher).
#ifndef STOCKADE_RUNNER_CLIENT_LINUX_LOCAL_SESSION_H_
#define STOCKADE_RUNNER_CLIENT_LINUX_LOCAL_SESSION_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "runner/client/linux/relay.h"
#include "runner/launch_spec.h"
#include "runner/linux/launcher.h"

namespace stockade::runner::client::linux_os {

class LocalSession : public TreeSession {
 public:
  // Launches the tree. `temp_dir` (may be "") is removed recursively once the tree is gone (or
  // when the launch fails). Errors: ProcessTree::Launch's, with *failure_status set to 127
  // (command not found), 126 (not executable) or 125 (any other setup step).
  static Expected<std::unique_ptr<LocalSession>> Start(const LaunchSpec& spec,
                                                       runner::linux_os::LaunchOptions options,
                                                       std::string temp_dir, int* failure_status);
  ~LocalSession() override;

  int fd() const override { return tree_->pidfd(); }
  int MillisToDeadline() const override;
  Expected<std::optional<RunOutcome>> OnReadable() override;
  Expected<std::optional<RunOutcome>> OnDeadline() override;
  Status Interrupt(int signal) override;

 private:
  LocalSession(runner::linux_os::ProcessTree tree, std::chrono::milliseconds timeout,
               std::string temp_dir);
  Expected<std::optional<RunOutcome>> Finish();

  std::optional<runner::linux_os::ProcessTree> tree_;
  std::string temp_dir_;
  bool has_deadline_ = false;
  std::chrono::steady_clock::time_point deadline_{};
};

}  // namespace stockade::runner::client::linux_os

#endif  // STOCKADE_RUNNER_CLIENT_LINUX_LOCAL_SESSION_H_
