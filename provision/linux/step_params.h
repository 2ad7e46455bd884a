// Reading a step's journaled params: each accessor names the step and the field in its error,
// so that a malformed or hand-edited journal row is reported precisely.
#ifndef STOCKADE_PROVISION_LINUX_STEP_PARAMS_H_
#define STOCKADE_PROVISION_LINUX_STEP_PARAMS_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "provision/step.h"

namespace stockade::provision::linux_os {

// kInvalidArgument "<kind> (<target>): params.<key> ..." when missing or of the wrong type.
Expected<std::string> ParamString(const StepSpec& spec, const std::string& key);
// `fallback` when absent; kInvalidArgument when present with the wrong type.
Expected<std::string> ParamStringOr(const StepSpec& spec, const std::string& key,
                                    const std::string& fallback);
Expected<std::vector<std::string>> ParamStringList(const StepSpec& spec, const std::string& key);
Expected<std::int64_t> ParamInt(const StepSpec& spec, const std::string& key,
                                std::optional<std::int64_t> fallback, std::int64_t min,
                                std::int64_t max);

// True for a name shadow-utils accepts as a system account: [a-z_][a-z0-9_-]* up to 32 chars.
bool IsValidAccountName(const std::string& name);

// The same message prefix for every error a step reports: "<kind> <target>".
std::string StepLabel(const StepSpec& spec);

// kStateCorrupt when a journaled before-state lacks `key` or has the wrong type.
Error CorruptBefore(const StepSpec& spec, const std::string& what);

}  // namespace stockade::provision::linux_os

#endif  // STOCKADE_PROVISION_LINUX_STEP_PARAMS_H_
