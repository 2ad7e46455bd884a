#include "runner/client/linux/local_session.h"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <optional>
#include <string>

namespace stockade::runner::client::linux_os {

namespace {

// The run's private temp folder and what the tree left in it (symlinks are removed, never
// followed). Best effort: a leftover in the user's own temp folder is the user's to see.
void RemoveTree(const std::string& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

// Which exit status a failed launch stands for.
int StatusForLaunchFailure(const runner::linux_os::LaunchFailureInfo& info) {
  if (info.program_not_found) return kStatusNotFound;
  if (info.step == runner::linux_os::SetupStep::kExec) {
    return info.err == ENOENT ? kStatusNotFound : kStatusNotExecutable;
  }
  return kStatusSandbox;
}

}  // namespace

LocalSession::LocalSession(runner::linux_os::ProcessTree tree, std::chrono::milliseconds timeout,
                           std::string temp_dir)
    : tree_(std::move(tree)), temp_dir_(std::move(temp_dir)) {
  if (timeout.count() > 0) {
    has_deadline_ = true;
    deadline_ = std::chrono::steady_clock::now() + timeout;
  }
}

Expected<std::unique_ptr<LocalSession>> LocalSession::Start(const LaunchSpec& spec,
                                                            runner::linux_os::LaunchOptions options,
                                                            std::string temp_dir,
                                                            int* failure_status) {
  runner::linux_os::LaunchFailureInfo info;
  options.failure_info = &info;
  auto tree = runner::linux_os::ProcessTree::Launch(spec, options);
  if (!tree.ok()) {
    RemoveTree(temp_dir);
    *failure_status = StatusForLaunchFailure(info);
    return tree.error();
  }
  return std::unique_ptr<LocalSession>(
      new LocalSession(std::move(*tree), spec.timeout, std::move(temp_dir)));
}

LocalSession::~LocalSession() {
  // The tree first (its destructor kills and reaps it when Wait() never ran), then its folder.
  tree_.reset();
  RemoveTree(temp_dir_);
}

int LocalSession::MillisToDeadline() const {
  if (!has_deadline_) return -1;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline_ - std::chrono::steady_clock::now());
  // Rounded up, so that the deadline has passed when poll() returns 0.
  return static_cast<int>(std::max<long long>(0, left.count() + 1));
}

Expected<std::optional<RunOutcome>> LocalSession::Finish() {
  // ProcessTree::Wait enforces the spec's timeout itself (its deadline started at launch, a
  // little before ours), kills the whole namespace on it, and reaps.
  auto status = tree_->Wait();
  if (!status.ok()) return status.error();
  RunOutcome outcome;
  outcome.code = status->code;
  outcome.signal = status->signal;
  outcome.timed_out = status->timed_out;
  outcome.killed = status->killed;
  return std::optional<RunOutcome>(outcome);
}

Expected<std::optional<RunOutcome>> LocalSession::OnReadable() { return Finish(); }

Expected<std::optional<RunOutcome>> LocalSession::OnDeadline() { return Finish(); }

Status LocalSession::Interrupt(int) { return tree_->Kill(); }

}  // namespace stockade::runner::client::linux_os
