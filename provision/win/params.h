// Reading a step's journaled params and before-state (JSON) with errors that name the step, the
// member and what was expected. Params come from the planner; before-states from CaptureBefore
// in this or an earlier process. A missing or mistyped member is kInvalidArgument for params and
// kStateCorrupt for a before-state (the journal holds something this code did not write).
#ifndef STOCKADE_PROVISION_WIN_PARAMS_H_
#define STOCKADE_PROVISION_WIN_PARAMS_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "provision/step.h"

namespace stockade::provision::win {

class JsonReader {
 public:
  // `what` names the document in messages ("identity.user params", "state.directory before").
  JsonReader(const nlohmann::json& json, std::string what, ErrorCode code)
      : json_(json), what_(std::move(what)), code_(code) {}

  static JsonReader Params(const StepSpec& spec) {
    return JsonReader(spec.params, spec.kind + " params (" + spec.target + ")",
                      ErrorCode::kInvalidArgument);
  }
  static JsonReader Before(const StepSpec& spec, const nlohmann::json& before) {
    return JsonReader(before, spec.kind + " before-state (" + spec.target + ")",
                      ErrorCode::kStateCorrupt);
  }

  // A required non-empty string.
  Expected<std::string> String(const char* key) const;
  // An optional string; `fallback` when absent or null.
  Expected<std::string> StringOr(const char* key, const std::string& fallback) const;
  // A string or null (absent counts as null).
  Expected<std::optional<std::string>> NullableString(const char* key) const;
  Expected<bool> Bool(const char* key) const;
  Expected<bool> BoolOr(const char* key, bool fallback) const;
  Expected<std::int64_t> IntOr(const char* key, std::int64_t fallback, std::int64_t min,
                               std::int64_t max) const;
  // An array of strings; empty when absent and !required.
  Expected<std::vector<std::string>> Strings(const char* key, bool required) const;
  // An array of integers in [min, max]; empty when absent.
  Expected<std::vector<std::int64_t>> Ints(const char* key, std::int64_t min,
                                           std::int64_t max) const;
  // A member of any type; kind-specific checks are the caller's.
  Expected<nlohmann::json> Member(const char* key) const;

  Error Bad(const std::string& key, const std::string& expected) const;

 private:
  const nlohmann::json& json_;
  std::string what_;
  ErrorCode code_;
};

}  // namespace stockade::provision::win

#endif  // STOCKADE_PROVISION_WIN_PARAMS_H_
