// The kernel audit rules Stockade adds for the sandbox uids, built as raw struct audit_rule_data
// (what AUDIT_ADD_RULE / AUDIT_DEL_RULE carry), and the key that marks them as Stockade's.
//
// Per sandbox uid, on the syscall-exit filter, x86-64 only (a 32-bit syscall made through the
// compat entry would not match: the seccomp filter of the runner refuses non-native arches):
//   1. execve, execveat that succeeded        -> SYSCALL + EXECVE + CWD + PATH records
//   2. clone, clone3, fork, vfork that succeeded (in the parent: exit = the child's pid), so a
//      process that forks without exec'ing (a subshell) still links its children to the tree
//   3. exit_group                             -> a0 = the exit status
//   4. any syscall failing with -EACCES       -> DAC/Landlock/seccomp denials
//   5. any syscall failing with -EPERM
// Every rule carries the key "<kRuleKeyPrefix><owner pid>", so the rules of a capture that was
// killed can be found and removed by the next one (and only those: a rule of another live
// capture, or of an administrator, is never touched).
#ifndef STOCKADE_AUDIT_LINUX_AUDIT_RULES_H_
#define STOCKADE_AUDIT_LINUX_AUDIT_RULES_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace stockade::audit::linux_os {

inline constexpr char kRuleKeyPrefix[] = "stockade-capture:";

// Keys the records of each rule carry (key="..." in the SYSCALL record) are the same for all
// rules of one capture; the decoder tells the rules apart by syscall number and exit value.
std::string RuleKeyForPid(pid_t pid);
// The owner pid encoded in a Stockade rule key, or nullopt for any other key.
std::optional<pid_t> OwnerOfRuleKey(const std::string& key);

// The five rules above for one uid, each as raw struct audit_rule_data bytes.
std::vector<std::string> RulesForUid(std::uint32_t uid, const std::string& key);

// The filter key of a raw rule (as listed by AUDIT_LIST_RULES), "" when it has none.
std::string KeyOfRule(const std::string& rule_data);

}  // namespace stockade::audit::linux_os

#endif  // STOCKADE_AUDIT_LINUX_AUDIT_RULES_H_
