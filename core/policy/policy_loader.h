// Loading and validating policy files (TOML, schema in docs/policy.md).
//
// Every error names where it is ("<source>:<line>:<column>: ") and what was expected, with a
// stable code: kPolicyParse (not TOML: syntax, duplicate keys or tables, bad UTF-8),
// kPolicyVersion (version missing, not an integer, not positive, or newer than kPolicyVersion),
// kPolicyInvalid (valid TOML but not a valid policy: unknown keys, wrong types, values out of
// range, bad paths, a file over kMaxPolicyFileBytes), kNotFound / kIo / kPermissionDenied (the
// file cannot be read).
//
// Keys a file leaves out take the embedded default's value (default_policy.h), so `version = 1`
// alone is the default policy, and a section only needs the keys it changes.
#ifndef STOCKADE_CORE_POLICY_POLICY_LOADER_H_
#define STOCKADE_CORE_POLICY_POLICY_LOADER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/policy/policy.h"

namespace stockade {

// Policy files are small; anything larger is refused before it is read (1 MiB).
inline constexpr std::uintmax_t kMaxPolicyFileBytes = 1024 * 1024;

// Parses and validates `text`; `source_name` (a path, usually) prefixes every error and becomes
// Policy::source. Keys absent from `text` take DefaultPolicy()'s values.
Expected<Policy> ParsePolicy(std::string_view text, std::string_view source_name);

// As ParsePolicy, but keys absent from `text` keep `base`'s values. DefaultPolicy() is built with
// this from an all-default Policy{}; tests use it to show which keys a text sets.
Expected<Policy> ParsePolicyOver(std::string_view text, std::string_view source_name,
                                 const Policy& base);

// Reads `path` (UTF-8) and parses it with ParsePolicy, naming the file in errors as `path` was
// written. Refuses a file larger than kMaxPolicyFileBytes without reading it, a directory, a
// missing file (kNotFound) and an unreadable one.
Expected<Policy> LoadPolicyFile(const std::string& path);

// An empty `path` means the embedded default (a copy of DefaultPolicy()); otherwise
// LoadPolicyFile(path).
Expected<Policy> LoadPolicyOrDefault(const std::string& path);

// The effective policy of a command: the first non-empty of `flag_path` (--policy) and
// `env_path` (STOCKADE_POLICY) is loaded and must exist; otherwise `default_path` (the platform's
// default location) is loaded if anything exists there; otherwise the embedded default applies.
Expected<Policy> LoadEffectivePolicy(std::string_view flag_path, std::string_view env_path,
                                     std::string_view default_path);

// The same with this process's environment: $STOCKADE_POLICY, then the platform's default
// location (paths::DefaultPolicyPath() in core/paths/locations.h).
Expected<Policy> LoadEffectivePolicy(std::string_view flag_path);

}  // namespace stockade

#endif  // STOCKADE_CORE_POLICY_POLICY_LOADER_H_
