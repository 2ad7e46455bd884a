// What an assembled kernel audit event means for Stockade: a process exec'd, forked, exited, or
// was denied an access. Pure parsing of the records (no state): attribution to sessions and
// process GUIDs is the correlator's job (audit/linux/correlator.h).
//
// Sources of each meaning (see audit/linux/audit_rules.h for the rules):
//  - exec: SYSCALL (execve/execveat, success) + EXECVE (argv; long arguments arrive in pieces,
//    "aN_len=" then "aN[k]=" hex) + CWD; the image is the SYSCALL's exe= (the new image).
//  - fork: SYSCALL (clone/clone3/fork/vfork, success): pid = parent, exit = child.
//  - exit: SYSCALL exit_group: a0 = the status (code = status & 0xff).
//  - denial, Landlock: LANDLOCK_ACCESS (1423) "blockers=fs.write_file path=... " or
//    "blockers=net.connect_tcp daddr=... dest=..."; the pid comes from the event's SYSCALL.
//  - denial, syscall: SYSCALL exit=-13/-1 of our rule, with PATH (the name, made absolute with
//    CWD) or SOCKADDR (address:port) records, when no Landlock record explains it.
//  - denial, seccomp: SECCOMP (1326) code=RET_ERRNO (no errno: the kernel logs the action only)
//    of a filter installed with SECCOMP_FILTER_FLAG_LOG; the target is the syscall (with the
//    argument the runner's filter refuses it for: "socket(AF_INET/AF_INET6)", "ioctl
//    TIOCSTI/TIOCLINUX", ...).
#ifndef STOCKADE_AUDIT_LINUX_RECORD_DECODER_H_
#define STOCKADE_AUDIT_LINUX_RECORD_DECODER_H_

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "audit/event.h"
#include "audit/linux/audit_record.h"

namespace stockade::audit::linux_os {

struct ExecFact {
  std::int64_t pid = 0, ppid = 0, uid = -1;
  TimeNs time = 0;
  std::string image, cwd;
  std::vector<std::string> argv;
};
struct ForkFact {
  std::int64_t parent_pid = 0, child_pid = 0, uid = -1;
  TimeNs time = 0;
};
struct ExitFact {
  std::int64_t pid = 0, uid = -1;
  TimeNs time = 0;
  std::int64_t code = 0;
  std::int64_t signal = 0;  // killed by this signal (from the connector; code is then unused)
};
struct DenialFact {
  std::int64_t pid = 0, ppid = 0, uid = -1;
  TimeNs time = 0;
  DenialEvent denial;  // process_guid left empty
};
using AuditFact = std::variant<ExecFact, ForkFact, ExitFact, DenialFact>;

// What the decoder read and dropped on purpose (added to, never reset).
struct DecodeCounts {
  // seccomp records of an ENOSYS answer (clone3, so that libc falls back to clone): the filter's
  // compatibility answers, not denials.
  std::uint64_t seccomp_compat_refusals = 0;
};

// Decodes one event. `rule_key`: the key of this capture's rules; SYSCALL-only events (exec,
// fork, exit, syscall denials) of other keys are ignored, Landlock records are taken whatever
// the key (the syscall that was denied need not match any rule). Malformed records are skipped.
// seccomp records (whatever the key) are denials naming the syscall, except the filter's ENOSYS
// answers (clone3), which are dropped and counted in `counts` (when not null).
std::vector<AuditFact> DecodeAuditEvent(const AuditEvent& event, const std::string& rule_key,
                                        DecodeCounts* counts = nullptr);

// The x86-64 name of a syscall number ("openat"), or "syscall <n>".
std::string SyscallName(std::int64_t nr);

// "addr:port" ("[addr]:port" for IPv6, the path for AF_UNIX) of a sockaddr in hex, as audit
// logs it in SOCKADDR saddr=; "" when it is not one of those families.
std::string SockaddrTarget(const std::string& raw_hex, std::string* family = nullptr);

}  // namespace stockade::audit::linux_os

#endif  // STOCKADE_AUDIT_LINUX_RECORD_DECODER_H_
