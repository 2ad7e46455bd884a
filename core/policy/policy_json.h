// The policy as JSON: for `stockade policy show --json`, for audit sessions (the policy a run was
// launched under) and for the policy hash. The JSON mirrors the TOML schema key for key, with
// every value explicit (defaults filled in), so it says exactly what is enforced.
#ifndef STOCKADE_CORE_POLICY_POLICY_JSON_H_
#define STOCKADE_CORE_POLICY_POLICY_JSON_H_

#include <nlohmann/json.hpp>
#include <string>

#include "core/policy/policy.h"

namespace stockade {

// {"version":1,"identities":{"prefix":...},"network":{"offline":{"mode":...,"loopback_ports":[...]},
//  "online":{...}},"filesystem":{"writable_roots":[...],"protected":[...],"deny_read":[...]},
//  "limits":{"max_processes":...,"memory_mb":...},"audit":{"retention_days":...,"fail_open":...}}.
// Policy::source is left out: where a policy was read from is not part of what it says.
nlohmann::json PolicyToJson(const Policy& policy);

// The canonical encoding: PolicyToJson() serialised with object keys sorted, no whitespace,
// UTF-8 unescaped, lists in the order written. Two files that differ only in comments, layout,
// key order or keys left at their default give the same bytes.
std::string CanonicalPolicyJson(const Policy& policy);

// SHA-256 of CanonicalPolicyJson(), 64 lower-case hex digits: the policy hash recorded with each
// audit session and shown by `stockade policy show`.
std::string PolicyHash(const Policy& policy);

}  // namespace stockade

#endif  // STOCKADE_CORE_POLICY_POLICY_JSON_H_
