// The tree's private mount namespace: protected paths (".git" inside a writable root) become
// read-only bind mounts of themselves, and deny-read paths disappear under something empty and
// inaccessible (a read-only mode-000 tmpfs for a folder, a mode-000 empty file for a file).
//
// Split in two: PlanMounts runs in the parent, where allocating, resolving paths and reporting
// rich errors are fine; ApplyMountPlan runs in the child between clone and execve, so it only
// makes system calls and reports through SetupFailure.
#ifndef STOCKADE_RUNNER_LINUX_MOUNT_NS_H_
#define STOCKADE_RUNNER_LINUX_MOUNT_NS_H_

#include <string>
#include <vector>

#include "core/error.h"
#include "runner/launch_spec.h"
#include "runner/linux/setup_failure.h"

namespace stockade::runner::linux_os {

struct MountPlan {
  // Existing protected paths, symlinks resolved, parents before children.
  std::vector<std::string> read_only;
  // Existing deny-read folders and files, symlinks resolved.
  std::vector<std::string> deny_dirs;
  std::vector<std::string> deny_files;
  // An empty mode-000 regular file bound over each deny-read file ("" when there is none).
  std::string empty_file;

  bool empty() const { return read_only.empty() && deny_dirs.empty() && deny_files.empty(); }
};

// Expands relative protected names under every writable root, resolves symlinks (the target is
// what gets protected or hidden), skips paths that do not exist, and when a deny-read file
// exists makes sure `runtime_dir`/inaccessible exists as an empty mode-000 file owned by the
// caller (created with its folder, mode 0755, when missing).
// Errors: kPathInvalid when a path cannot be resolved for another reason than not existing;
// kIo / kPermissionDenied naming the runtime file.
Expected<MountPlan> PlanMounts(const LaunchSpec& spec, const std::string& runtime_dir);

// In the child: unshare(CLONE_NEWNS), stop propagation back to the parent's namespace (rslave),
// then apply the plan. Each path is opened without following symlinks and checked to be the
// path planned (so a symlink swapped in since planning fails the launch instead of redirecting a
// mount), mounted through its /proc/self/fd link, and read back (read-only flag) after the
// mount. Needs CAP_SYS_ADMIN (root, or a fresh user namespace). Async-signal-safe.
bool ApplyMountPlan(const MountPlan& plan, SetupFailure* failure) noexcept;

}  // namespace stockade::runner::linux_os

#endif  // STOCKADE_RUNNER_LINUX_MOUNT_NS_H_
