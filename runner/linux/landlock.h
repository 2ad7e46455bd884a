// Landlock for the tree: reads everywhere (the file permissions still apply), writes only under
// the writable roots and a few device nodes every program expects (/dev/null, terminals); for a
// blocked network, TCP connect and bind only on the allowed loopback ports; signals and abstract
// unix sockets scoped to the tree (ABI >= 6); denials after execve logged to the kernel audit
// (ABI 7). No userspace library or new enough header exists on Debian 12, so the ABI structures
// and constants are spelt out in landlock.cc and the system calls (444-446) made directly.
//
// The ruleset is built in the parent (opening paths, adding rules, reporting errors normally);
// the child only calls landlock_restrict_self on the inherited descriptor.
#ifndef STOCKADE_RUNNER_LINUX_LANDLOCK_H_
#define STOCKADE_RUNNER_LINUX_LANDLOCK_H_

#include <cstdint>

#include "core/error.h"
#include "runner/launch_spec.h"
#include "runner/linux/setup_failure.h"
#include "runner/linux/unique_fd.h"

namespace stockade::runner::linux_os {

// The kernel's Landlock ABI version; 0 when Landlock is not available (not built in, not in the
// "lsm=" list, or disabled). Asked once and cached.
int LandlockAbi();

struct LandlockRuleset {
  UniqueFd fd;  // close-on-exec; the child's copy disappears at execve
  int abi = 0;
  std::uint32_t restrict_flags = 0;  // for landlock_restrict_self
  bool restricts_tcp = false;
};

// Builds the ruleset for `spec`. A writable root that does not exist fails the launch (the spec
// promised the tree a place to write); missing device nodes are skipped.
// Errors: kUnsupported when the kernel has no Landlock, or (ABI < 4) when TCP ports must be
// restricted; kPathInvalid / kOs naming the path or the rule that could not be added.
Expected<LandlockRuleset> BuildLandlockRuleset(const LaunchSpec& spec);

// In the child, after no_new_privs: landlock_restrict_self. Async-signal-safe.
bool ApplyLandlock(int ruleset_fd, std::uint32_t flags, SetupFailure* failure) noexcept;

}  // namespace stockade::runner::linux_os

#endif  // STOCKADE_RUNNER_LINUX_LANDLOCK_H_
