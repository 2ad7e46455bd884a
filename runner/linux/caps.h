// Capabilities and no_new_privs for the child. The bounding set is emptied while the child is
// still root (dropping from it needs CAP_SETPCAP); the permitted, effective, inheritable and
// ambient sets are cleared after the identity switch (in the unprovisioned mode there is no
// switch, and the fresh user namespace would otherwise leave every capability in it); and
// no_new_privs makes sure no execve can add any back: setuid-root binaries and file
// capabilities then grant nothing. All async-signal-safe.
#ifndef STOCKADE_RUNNER_LINUX_CAPS_H_
#define STOCKADE_RUNNER_LINUX_CAPS_H_

#include "runner/linux/setup_failure.h"

namespace stockade::runner::linux_os {

// The highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap), read once in
// the parent; 40 (CAP_CHECKPOINT_RESTORE) when the file cannot be read.
int LastCapability();

// PR_CAPBSET_DROP for 0..last_cap, then reads each back (PR_CAPBSET_READ must say 0).
bool DropBoundingSet(int last_cap, SetupFailure* failure) noexcept;

// Clears the ambient set, then capset() with every set empty, then reads them back (capget).
bool ClearCapabilities(SetupFailure* failure) noexcept;

// PR_SET_NO_NEW_PRIVS, read back with PR_GET_NO_NEW_PRIVS.
bool SetNoNewPrivs(SetupFailure* failure) noexcept;

}  // namespace stockade::runner::linux_os

#endif  // STOCKADE_RUNNER_LINUX_CAPS_H_
