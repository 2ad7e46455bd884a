#include "audit/linux/audit_rules.h"

#include <linux/audit.h>
#include <sys/syscall.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace stockade::audit::linux_os {
namespace {

struct Field {
  std::uint32_t field;
  std::uint32_t op;
  std::uint32_t value;
};

std::string BuildRule(const std::vector<int>& syscalls, bool all_syscalls,
                      const std::vector<Field>& fields, const std::string& key) {
  audit_rule_data rule{};
  rule.flags = AUDIT_FILTER_EXIT;
  rule.action = AUDIT_ALWAYS;
  for (int i = 0; i < AUDIT_BITMASK_SIZE; ++i) rule.mask[i] = all_syscalls ? ~0U : 0U;
  for (const int nr : syscalls) rule.mask[nr / 32] |= 1U << (nr % 32);
  std::uint32_t n = 0;
  for (const Field& f : fields) {
    rule.fields[n] = f.field;
    rule.fieldflags[n] = f.op;
    rule.values[n] = f.value;
    ++n;
  }
  // The key is a string field: its value is the length, the bytes follow in buf.
  rule.fields[n] = AUDIT_FILTERKEY;
  rule.fieldflags[n] = AUDIT_EQUAL;
  rule.values[n] = static_cast<std::uint32_t>(key.size());
  ++n;
  rule.field_count = n;
  rule.buflen = static_cast<std::uint32_t>(key.size());
  std::string out(sizeof(rule) + key.size(), '\0');
  std::memcpy(out.data(), &rule, sizeof(rule));
  std::memcpy(out.data() + sizeof(rule), key.data(), key.size());
  return out;
}

}  // namespace

std::string RuleKeyForPid(pid_t pid) { return kRuleKeyPrefix + std::to_string(pid); }

std::optional<pid_t> OwnerOfRuleKey(const std::string& key) {
  const std::string prefix = kRuleKeyPrefix;
  if (key.size() <= prefix.size() || key.compare(0, prefix.size(), prefix) != 0) {
    return std::nullopt;
  }
  pid_t pid = 0;
  const char* first = key.data() + prefix.size();
  const char* last = key.data() + key.size();
  const auto [ptr, ec] = std::from_chars(first, last, pid);
  if (ec != std::errc() || ptr != last || pid <= 0) return std::nullopt;
  return pid;
}

std::vector<std::string> RulesForUid(std::uint32_t uid, const std::string& key) {
  const Field arch{AUDIT_ARCH, AUDIT_EQUAL, AUDIT_ARCH_X86_64};
  const Field who{AUDIT_UID, AUDIT_EQUAL, uid};
  const Field success{AUDIT_SUCCESS, AUDIT_EQUAL, 1};
  auto failing_with = [](int err) {
    return Field{AUDIT_EXIT, AUDIT_EQUAL, static_cast<std::uint32_t>(-err)};
  };
  return {
      BuildRule({SYS_execve, SYS_execveat}, false, {arch, who, success}, key),
      BuildRule({SYS_clone, SYS_clone3, SYS_fork, SYS_vfork}, false, {arch, who, success}, key),
      BuildRule({SYS_exit_group}, false, {arch, who}, key),
      BuildRule({}, true, {arch, who, failing_with(EACCES)}, key),
      BuildRule({}, true, {arch, who, failing_with(EPERM)}, key),
  };
}

std::string KeyOfRule(const std::string& rule_data) {
  if (rule_data.size() < sizeof(audit_rule_data)) return "";
  audit_rule_data rule{};
  std::memcpy(&rule, rule_data.data(), sizeof(rule));
  std::size_t offset = 0;
  for (std::uint32_t i = 0; i < rule.field_count && i < AUDIT_MAX_FIELDS; ++i) {
    const std::uint32_t f = rule.fields[i];
    // String-valued fields consume rule.values[i] bytes of buf, in field order.
    const bool is_string = f == AUDIT_FILTERKEY || f == AUDIT_WATCH || f == AUDIT_DIR ||
                           f == AUDIT_OBJ_USER || f == AUDIT_OBJ_ROLE || f == AUDIT_OBJ_TYPE ||
                           f == AUDIT_OBJ_LEV_LOW || f == AUDIT_OBJ_LEV_HIGH ||
                           f == AUDIT_SUBJ_USER || f == AUDIT_SUBJ_ROLE || f == AUDIT_SUBJ_TYPE ||
                           f == AUDIT_SUBJ_SEN || f == AUDIT_SUBJ_CLR || f == AUDIT_EXE;
    if (!is_string) continue;
    const std::size_t len = rule.values[i];
    if (sizeof(rule) + offset + len > rule_data.size()) return "";
    if (f == AUDIT_FILTERKEY) return rule_data.substr(sizeof(rule) + offset, len);
    offset += len;
  }
  return "";
}

}  // namespace stockade::audit::linux_os
