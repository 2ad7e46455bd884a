// The cgroup of one process tree: created under a Stockade-owned parent, limits written and read
// back, the first process cloned straight into it (clone3 CLONE_INTO_CGROUP) so that nothing it
// starts is ever outside, killed as a whole (cgroup.kill), and removed afterwards.
//
// Two layouts are supported. Pure cgroup v2 (every current distribution under systemd): one
// hierarchy holds kill, pids and memory. The v1/v2 hybrid (this project's development machines):
// cgroup.kill and CLONE_INTO_CGROUP come from the v2 hierarchy (/sys/fs/cgroup/unified), which
// has no pids or memory controller there, so the limits come from the v1 pids and memory
// hierarchies, which the child joins itself before anything else (see launcher.cc).
#ifndef STOCKADE_RUNNER_LINUX_CGROUP_H_
#define STOCKADE_RUNNER_LINUX_CGROUP_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "runner/launch_spec.h"
#include "runner/linux/unique_fd.h"

namespace stockade::runner::linux_os {

struct CgroupOptions {
  // The Stockade-owned parent cgroup, created when missing in every hierarchy used; each tree
  // gets a child "run-<pid>-<n>" of it. Tests use their own name so they never meet the service.
  std::string parent_name = "stockade";
  // True: the parent sits under the caller's own cgroup in each hierarchy (the service's
  // delegated subtree; the caller's own accounting and limits keep covering the trees). False:
  // under each hierarchy's root. On pure v2 with the caller in a non-root cgroup, the pids and
  // memory controllers can only be enabled below it if the caller's cgroup is delegated and holds
  // no process itself (the "no internal processes" rule); otherwise use false.
  bool under_own_cgroup = true;
};

// Where the hierarchies are mounted and where the calling process sits in each.
struct CgroupLayout {
  std::string v2_mount;       // "" when there is no cgroup2 hierarchy
  std::string v2_own;         // the caller's cgroup in it, "/..." relative to v2_mount
  std::string pids_v1_mount;  // "" when pids is not a v1 controller here
  std::string pids_v1_own;
  std::string memory_v1_mount;  // "" when memory is not a v1 controller here
  std::string memory_v1_own;
};

// Reads /proc/self/mountinfo and /proc/self/cgroup.
// Errors: kIo when they cannot be read; kUnsupported when no usable hierarchy is mounted.
Expected<CgroupLayout> DetectCgroupLayout();

// Removes the parent cgroup of `options` from every hierarchy of `layout`, for the owner of the
// parent when it is done with it (the service at shutdown, a test at teardown). Trees still
// living under it keep it: that is not an error (EBUSY is skipped), nor is a missing folder.
// Errors: kInvalidArgument for a parent name that is not one plain name; kOs naming the folder.
Status RemoveCgroupParent(const CgroupLayout& layout, const CgroupOptions& options);

class TreeCgroup {
 public:
  // Creates the tree's cgroup in every hierarchy it needs and writes the limits of `limits`
  // (0 = none), reading each one back. Requires root (or a delegated parent).
  // Errors: kUnsupported when a requested limit has no controller; kPermissionDenied / kOs /
  // kIo naming the cgroup file; kVerificationFailed when a limit reads back differently.
  static Expected<TreeCgroup> Create(const CgroupLayout& layout, const CgroupOptions& options,
                                     const LaunchLimits& limits);

  // A moved-from TreeCgroup owns nothing and cleans up nothing.
  TreeCgroup(TreeCgroup&& other) noexcept;
  TreeCgroup& operator=(TreeCgroup&& other) noexcept;
  TreeCgroup(const TreeCgroup&) = delete;
  TreeCgroup& operator=(const TreeCgroup&) = delete;
  // Kills whatever is left and removes the cgroups (best effort; call Remove() to see errors).
  ~TreeCgroup();

  // The v2 cgroup folder, for clone3(CLONE_INTO_CGROUP); -1 without a v2 hierarchy.
  int clone_into_fd() const { return v2_dir_.get(); }
  // Open v1 "tasks" files the child must write "0" into itself, first thing, while it is still
  // single-threaded (its one thread is then the whole process; see Create).
  const std::vector<int>& join_fds() const { return join_raw_; }
  // Every folder of this tree (v2 first), for messages and tests.
  std::vector<std::string> paths() const;

  // Kills every process of the tree at once: cgroup.kill on v2; on a v1-only machine, SIGKILL
  // to every listed process until none is listed. Errors: kOs / kIo naming the file.
  Status Kill();
  // The pids in the tree now (the union over the hierarchies).
  Expected<std::vector<pid_t>> Processes() const;
  // Waits until no process is left. Errors: kTimeout after `timeout`, listing the survivors.
  Status WaitUntilEmpty(std::chrono::milliseconds timeout) const;
  // How often the memory limit's OOM killer fired in this tree (0 without a memory limit).
  Expected<std::uint64_t> OomKillCount() const;
  // Removes every folder of the tree; they must be empty. Missing folders are fine.
  // Errors: kOs naming the folder (EBUSY: processes left).
  Status Remove();

 private:
  TreeCgroup() = default;

  std::string v2_path_;      // "" when unused
  std::string pids_path_;    // the folder that holds pids.max (v2 or v1), "" when no limit
  std::string memory_path_;  // the folder that holds the memory limit, "" when no limit
  std::vector<std::string> v1_paths_;  // v1 folders created (pids, memory)
  bool memory_on_v2_ = false;
  UniqueFd v2_dir_;
  std::vector<UniqueFd> join_;
  std::vector<int> join_raw_;
  bool removed_ = true;  // nothing to clean up until Create succeeded
};

}  // namespace stockade::runner::linux_os

#endif  // STOCKADE_RUNNER_LINUX_CGROUP_H_
