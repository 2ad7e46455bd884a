// The tree's seccomp filter, compiled with libseccomp in the parent (once per kind, then cached)
// and installed by the child as its last step before execve.
//
// Always refused with EPERM: ptrace and process_vm_readv/writev; io_uring_setup/enter/register
// (io_uring performs I/O without passing through the system calls filtered here); bpf;
// perf_event_open; keyctl, add_key, request_key; mount, umount2, pivot_root and the new mount API
// (fsopen, fsmount, fsconfig, fspick, move_mount, open_tree, mount_setattr); setns; unshare and
// clone with CLONE_NEWUSER; module and kexec loading; ioctl TIOCSTI and TIOCLINUX (typing into a
// terminal). clone3 fails with ENOSYS, because its flags sit in memory a filter cannot read: libc
// then falls back to clone, whose flags the filter does see.
//
// Network blocked without loopback ports: socket(AF_INET/AF_INET6) fails with EACCES. Blocked
// with loopback ports: only TCP sockets may be created (Landlock then limits connect and bind to
// those ports); every other AF_INET/AF_INET6 socket (UDP, raw, SCTP, MPTCP) and TCP Fast Open
// (an implicit connect through sendto/sendmsg) fail with EACCES.
//
// System call arguments are compared on their low 32 bits where the kernel reads an int, so a
// caller cannot slip past the filter with garbage in the upper half of a register. Any other
// architecture (i386 or x32 system calls from an x86_64 process) kills the process.
//
// Logged (SeccompKind::log_denials): every refusal above leaves an AUDIT_SECCOMP record naming
// the syscall (neither the arguments nor the errno). The ENOSYS of clone3 is a compatibility
// answer, not a denial: the audit capture counts and drops those records
// (docs/audit-capture-linux.md).
#ifndef STOCKADE_RUNNER_LINUX_SECCOMP_H_
#define STOCKADE_RUNNER_LINUX_SECCOMP_H_

#include <linux/filter.h>

#include <memory>
#include <vector>

#include "core/error.h"
#include "runner/launch_spec.h"
#include "runner/linux/setup_failure.h"

namespace stockade::runner::linux_os {

enum class SeccompNetwork {
  kAllowed,        // no socket restriction
  kBlocked,        // no AF_INET / AF_INET6 socket at all
  kLoopbackPorts,  // TCP sockets only (ports restricted by Landlock)
};

// What the filter of a tree depends on.
struct SeccompKind {
  SeccompNetwork network = SeccompNetwork::kBlocked;
  // Install with SECCOMP_FILTER_FLAG_LOG: the kernel emits an AUDIT_SECCOMP record (type 1326)
  // for every refusal (LaunchSpec::log_seccomp_denials). The rules are the same either way.
  bool log_denials = false;
};

SeccompKind SeccompKindFor(const LaunchSpec& spec);

struct SeccompProgram {
  std::vector<sock_filter> instructions;
  sock_fprog program{};    // points into `instructions`
  unsigned int flags = 0;  // seccomp(SECCOMP_SET_MODE_FILTER, flags, ...): FLAG_LOG or 0
};

// The compiled filter for `kind` (built on first use, then shared; thread-safe).
// Errors: kOs when libseccomp fails, naming the rule; kUnsupported when logging is asked for
// and libseccomp or the kernel refuses SCMP_FLTATR_CTL_LOG (kernel before 4.14).
Expected<std::shared_ptr<const SeccompProgram>> SeccompProgramFor(const SeccompKind& kind);
// Same, without logging.
Expected<std::shared_ptr<const SeccompProgram>> SeccompProgramFor(SeccompNetwork network);

// In the child, after no_new_privs: seccomp(SECCOMP_SET_MODE_FILTER, program.flags).
// Async-signal-safe.
bool ApplySeccomp(const SeccompProgram& program, SetupFailure* failure) noexcept;

}  // namespace stockade::runner::linux_os

#endif  // STOCKADE_RUNNER_LINUX_SECCOMP_H_
