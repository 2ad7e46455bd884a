// Internal to core/policy: turns a parsed TOML document into a Policy, checking the version, the
// set of keys (every unknown key is an error, with the closest valid key suggested), the type of
// every value and the range of every number. Paths are checked afterwards (policy_path_checks.h),
// once all of them are known.
#ifndef STOCKADE_CORE_POLICY_POLICY_SCHEMA_H_
#define STOCKADE_CORE_POLICY_POLICY_SCHEMA_H_

#include <toml++/toml.h>

#include <optional>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/policy/policy.h"
#include "core/policy/policy_diagnostics.h"

namespace stockade::policy_internal {

// Limits of the numeric keys. Ports are TCP ports; the process cap is Linux's PID_MAX_LIMIT; the
// memory floor is what a shell and a compiler need to start at all; retention is a century.
inline constexpr std::int64_t kMinProcesses = 1;
inline constexpr std::int64_t kMaxProcesses = 4194304;
inline constexpr std::int64_t kMinMemoryMb = 16;
inline constexpr std::int64_t kMaxMemoryMb = 16 * 1024 * 1024;  // 16 TiB
inline constexpr std::int64_t kMinRetentionDays = 1;
inline constexpr std::int64_t kMaxRetentionDays = 36500;
// Path lists are short in practice; the cap keeps the pairwise overlap checks cheap on a hostile
// file.
inline constexpr std::size_t kMaxPathEntries = 1024;
// "<prefix>-offline" must fit the 20-character limit of Windows user names (Linux allows 32).
inline constexpr std::size_t kMaxPrefixLength = 20 - (sizeof("-offline") - 1);

struct SchemaResult {
  Policy policy;
  PathLocations locations;
};

// Reads `document` over `base` (absent keys keep base's values). Errors: kPolicyVersion for the
// version, kPolicyInvalid for everything else, each prefixed "<source>:<line>:<column>: ".
Expected<SchemaResult> ReadPolicySchema(const toml::table& document, std::string_view source,
                                        const Policy& base);

}  // namespace stockade::policy_internal

#endif  // STOCKADE_CORE_POLICY_POLICY_SCHEMA_H_
