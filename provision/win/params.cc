#include "provision/win/params.h"

namespace stockade::provision::win {

Error JsonReader::Bad(const std::string& key, const std::string& expected) const {
  return Error(code_, what_ + ": '" + key + "' must be " + expected);
}

Expected<std::string> JsonReader::String(const char* key) const {
  if (!json_.is_object() || !json_.contains(key) || !json_[key].is_string() ||
      json_[key].get<std::string>().empty()) {
    return Bad(key, "a non-empty string");
  }
  return json_[key].get<std::string>();
}

Expected<std::string> JsonReader::StringOr(const char* key, const std::string& fallback) const {
  if (!json_.is_object() || !json_.contains(key) || json_[key].is_null()) return fallback;
  if (!json_[key].is_string()) return Bad(key, "a string");
  return json_[key].get<std::string>();
}

Expected<std::optional<std::string>> JsonReader::NullableString(const char* key) const {
  if (!json_.is_object() || !json_.contains(key) || json_[key].is_null()) {
    return std::optional<std::string>();
  }
  if (!json_[key].is_string()) return Bad(key, "a string or null");
  return std::optional<std::string>(json_[key].get<std::string>());
}

Expected<bool> JsonReader::Bool(const char* key) const {
  if (!json_.is_object() || !json_.contains(key) || !json_[key].is_boolean()) {
    return Bad(key, "true or false");
  }
  return json_[key].get<bool>();
}

Expected<bool> JsonReader::BoolOr(const char* key, bool fallback) const {
  if (!json_.is_object() || !json_.contains(key) || json_[key].is_null()) return fallback;
  if (!json_[key].is_boolean()) return Bad(key, "true or false");
  return json_[key].get<bool>();
}

Expected<std::int64_t> JsonReader::IntOr(const char* key, std::int64_t fallback, std::int64_t min,
                                         std::int64_t max) const {
  if (!json_.is_object() || !json_.contains(key) || json_[key].is_null()) return fallback;
  const auto& v = json_[key];
  if (!v.is_number_integer() || v.get<std::int64_t>() < min || v.get<std::int64_t>() > max) {
    return Bad(key, "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return v.get<std::int64_t>();
}

Expected<std::vector<std::string>> JsonReader::Strings(const char* key, bool required) const {
  std::vector<std::string> out;
  if (!json_.is_object() || !json_.contains(key) || json_[key].is_null()) {
    if (required) return Bad(key, "an array of strings");
    return out;
  }
  if (!json_[key].is_array()) return Bad(key, "an array of strings");
  for (const auto& item : json_[key]) {
    if (!item.is_string() || item.get<std::string>().empty()) {
      return Bad(key, "an array of non-empty strings");
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

Expected<std::vector<std::int64_t>> JsonReader::Ints(const char* key, std::int64_t min,
                                                     std::int64_t max) const {
  std::vector<std::int64_t> out;
  if (!json_.is_object() || !json_.contains(key) || json_[key].is_null()) return out;
  const std::string expected =
      "an array of integers in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  if (!json_[key].is_array()) return Bad(key, expected);
  for (const auto& item : json_[key]) {
    if (!item.is_number_integer() || item.get<std::int64_t>() < min ||
        item.get<std::int64_t>() > max) {
      return Bad(key, expected);
    }
    out.push_back(item.get<std::int64_t>());
  }
  return out;
}

Expected<nlohmann::json> JsonReader::Member(const char* key) const {
  if (!json_.is_object() || !json_.contains(key)) return Bad(key, "present");
  return json_[key];
}

}  // namespace stockade::provision::win
