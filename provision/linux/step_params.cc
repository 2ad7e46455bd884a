#include "provision/linux/step_params.h"

namespace stockade::provision::linux_os {
namespace {

Error BadParam(const StepSpec& spec, const std::string& key, const std::string& why) {
  return Error(ErrorCode::kInvalidArgument, StepLabel(spec) + ": params." + key + " " + why);
}

}  // namespace

std::string StepLabel(const StepSpec& spec) {
  return spec.target.empty() ? spec.kind : spec.kind + " (" + spec.target + ")";
}

Error CorruptBefore(const StepSpec& spec, const std::string& what) {
  return Error(ErrorCode::kStateCorrupt, StepLabel(spec) + ": journaled before-state " + what);
}

Expected<std::string> ParamString(const StepSpec& spec, const std::string& key) {
  if (!spec.params.is_object() || !spec.params.contains(key)) {
    return BadParam(spec, key, "is missing");
  }
  const nlohmann::json& v = spec.params[key];
  if (!v.is_string()) return BadParam(spec, key, "must be a string");
  return v.get<std::string>();
}

Expected<std::string> ParamStringOr(const StepSpec& spec, const std::string& key,
                                    const std::string& fallback) {
  if (!spec.params.is_object() || !spec.params.contains(key)) return fallback;
  return ParamString(spec, key);
}

Expected<std::vector<std::string>> ParamStringList(const StepSpec& spec, const std::string& key) {
  std::vector<std::string> out;
  if (!spec.params.is_object() || !spec.params.contains(key)) return out;
  const nlohmann::json& v = spec.params[key];
  if (!v.is_array()) return BadParam(spec, key, "must be a list of strings");
  for (const nlohmann::json& item : v) {
    if (!item.is_string()) return BadParam(spec, key, "must be a list of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

Expected<std::int64_t> ParamInt(const StepSpec& spec, const std::string& key,
                                std::optional<std::int64_t> fallback, std::int64_t min,
                                std::int64_t max) {
  if (!spec.params.is_object() || !spec.params.contains(key)) {
    if (fallback) return *fallback;
    return BadParam(spec, key, "is missing");
  }
  const nlohmann::json& v = spec.params[key];
  if (!v.is_number_integer()) return BadParam(spec, key, "must be an integer");
  std::int64_t n = v.get<std::int64_t>();
  if (n < min || n > max) {
    return BadParam(spec, key,
                    "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return n;
}

bool IsValidAccountName(const std::string& name) {
  if (name.empty() || name.size() > 32) return false;
  char c0 = name[0];
  if (!((c0 >= 'a' && c0 <= 'z') || c0 == '_')) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

}  // namespace stockade::provision::linux_os
