// The embedded default policy: what applies when no policy file exists, and where every key a
// policy file leaves out takes its value from. It is kept as TOML text (not as a C++ struct) so
// that it goes through the same parser and validation as an administrator's file, and so that
// `docs/policy.md` and `stockade policy show` can show it exactly.
#ifndef STOCKADE_CORE_POLICY_DEFAULT_POLICY_H_
#define STOCKADE_CORE_POLICY_DEFAULT_POLICY_H_

#include <string_view>

#include "core/policy/policy.h"

namespace stockade {

// The `source` of the embedded default, as shown in messages and `policy show`.
inline constexpr std::string_view kEmbeddedPolicySource = "<embedded default>";

// The embedded default policy as TOML. It sets every key of the schema explicitly.
std::string_view DefaultPolicyToml();

// The embedded default, parsed once (thread-safe) by ParsePolicyOver(DefaultPolicyToml(), ...,
// Policy{}). Contract: the text is valid (tests/core/policy_default_test.cc); if it ever were not,
// this aborts with the parser's message, because every caller relies on a valid default.
const Policy& DefaultPolicy();

}  // namespace stockade

#endif  // STOCKADE_CORE_POLICY_DEFAULT_POLICY_H_
