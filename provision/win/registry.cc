#include "provision/win/registry.h"

#include <cstring>

#include "provision/win/handles.h"
#include "provision/win/win_util.h"

namespace stockade::provision::win {

namespace {

constexpr REGSAM kView = KEY_WOW64_64KEY;

std::string Describe(const std::string& key, const std::string& value) {
  return "HKLM\\" + key + (value.empty() ? std::string(" (default value)") : "\\" + value);
}

// Opens HKLM\key; an invalid handle (and OK) when it does not exist.
Expected<UniqueHkey> OpenKey(const std::string& key, REGSAM access) {
  HKEY raw = nullptr;
  const LONG rc = RegOpenKeyExW(HKEY_LOCAL_MACHINE, Wide(key).c_str(), 0, access | kView, &raw);
  if (rc == ERROR_FILE_NOT_FOUND) return UniqueHkey();
  if (rc != ERROR_SUCCESS) {
    return Win32Error("RegOpenKeyExW(HKLM\\" + key + ")", static_cast<DWORD>(rc));
  }
  return UniqueHkey(raw);
}

// The parent of "A\\B\\C" is "A\\B"; "" for a top-level key.
std::string Parent(const std::string& key) {
  const auto pos = key.rfind('\\');
  return pos == std::string::npos ? std::string() : key.substr(0, pos);
}

}  // namespace

nlohmann::json RegValueSnapshot::ToJson() const {
  nlohmann::json json;
  json["key"] = key;
  json["value"] = value;
  json["missing_keys"] = missing_keys;
  if (previous.has_value()) {
    json["previous"] = {{"type", previous->type}, {"data", HexEncode(previous->data)}};
  } else {
    json["previous"] = nullptr;
  }
  return json;
}

Expected<RegValueSnapshot> RegValueSnapshot::FromJson(const nlohmann::json& json) {
  auto bad = [](const std::string& what) {
    return Error(ErrorCode::kStateCorrupt, "registry snapshot: " + what);
  };
  if (!json.is_object()) return bad("not an object");
  RegValueSnapshot snapshot;
  if (!json.contains("key") || !json["key"].is_string()) return bad("'key' is not a string");
  if (!json.contains("value") || !json["value"].is_string()) return bad("'value' is not a string");
  snapshot.key = json["key"].get<std::string>();
  snapshot.value = json["value"].get<std::string>();
  if (!json.contains("missing_keys") || !json["missing_keys"].is_array()) {
    return bad("'missing_keys' is not an array");
  }
  for (const auto& k : json["missing_keys"]) {
    if (!k.is_string()) return bad("'missing_keys' holds a non-string");
    snapshot.missing_keys.push_back(k.get<std::string>());
  }
  if (!json.contains("previous")) return bad("'previous' is missing");
  const auto& previous = json["previous"];
  if (!previous.is_null()) {
    if (!previous.is_object() || !previous.contains("type") ||
        !previous["type"].is_number_unsigned() || !previous.contains("data") ||
        !previous["data"].is_string()) {
      return bad("'previous' is not {type, data}");
    }
    auto data = HexDecode(previous["data"].get<std::string>());
    if (!data.has_value()) return bad("'previous.data' is not hex");
    snapshot.previous = RegValue{previous["type"].get<DWORD>(), std::move(*data)};
  }
  return snapshot;
}

Expected<std::optional<RegValue>> ReadRegValue(const std::string& key, const std::string& value) {
  auto opened = OpenKey(key, KEY_QUERY_VALUE);
  if (!opened.ok()) return opened.error();
  if (!opened->valid()) return std::optional<RegValue>();
  const std::wstring name = Wide(value);
  RegValue out;
  DWORD size = 0;
  LONG rc = RegQueryValueExW(opened->get(), name.c_str(), nullptr, &out.type, nullptr, &size);
  // The value may grow between the two calls: retry with the size the second call reports.
  for (int attempt = 0; rc == ERROR_SUCCESS || rc == ERROR_MORE_DATA; ++attempt) {
    out.data.assign(size, 0);
    rc = RegQueryValueExW(opened->get(), name.c_str(), nullptr, &out.type,
                          out.data.empty() ? nullptr : out.data.data(), &size);
    if (rc == ERROR_SUCCESS) {
      out.data.resize(size);
      return std::optional<RegValue>(std::move(out));
    }
    if (rc != ERROR_MORE_DATA || attempt == 3) break;
  }
  if (rc == ERROR_FILE_NOT_FOUND) return std::optional<RegValue>();
  return Win32Error("RegQueryValueExW(" + Describe(key, value) + ")", static_cast<DWORD>(rc));
}

Expected<bool> RegKeyExists(const std::string& key) {
  auto opened = OpenKey(key, KEY_QUERY_VALUE);
  if (!opened.ok()) return opened.error();
  return opened->valid();
}

Expected<RegValueSnapshot> CaptureRegValue(const std::string& key, const std::string& value) {
  RegValueSnapshot snapshot;
  snapshot.key = key;
  snapshot.value = value;
  // Walk up from the key until an existing one: everything below it is missing.
  std::vector<std::string> missing;
  for (std::string k = key; !k.empty(); k = Parent(k)) {
    auto exists = RegKeyExists(k);
    if (!exists.ok()) return exists.error();
    if (*exists) break;
    missing.push_back(k);
  }
  snapshot.missing_keys.assign(missing.rbegin(), missing.rend());  // outermost first
  auto previous = ReadRegValue(key, value);
  if (!previous.ok()) return previous.error();
  snapshot.previous = std::move(*previous);
  return snapshot;
}

Status WriteRegValue(const std::string& key, const std::string& value, const RegValue& data) {
  HKEY raw = nullptr;
  const LONG rc =
      RegCreateKeyExW(HKEY_LOCAL_MACHINE, Wide(key).c_str(), 0, nullptr, REG_OPTION_NON_VOLATILE,
                      KEY_SET_VALUE | kView, nullptr, &raw, nullptr);
  if (rc != ERROR_SUCCESS) {
    return Win32Error("RegCreateKeyExW(HKLM\\" + key + ")", static_cast<DWORD>(rc));
  }
  UniqueHkey opened(raw);
  const LONG set = RegSetValueExW(opened.get(), Wide(value).c_str(), 0, data.type,
                                  data.data.empty() ? nullptr : data.data.data(),
                                  static_cast<DWORD>(data.data.size()));
  if (set != ERROR_SUCCESS) {
    return Win32Error("RegSetValueExW(" + Describe(key, value) + ")", static_cast<DWORD>(set));
  }
  return OkStatus();
}

Status WriteRegDword(const std::string& key, const std::string& value, DWORD data) {
  RegValue v{REG_DWORD, std::vector<BYTE>(sizeof data)};
  std::memcpy(v.data.data(), &data, sizeof data);
  return WriteRegValue(key, value, v);
}

Status WriteRegString(const std::string& key, const std::string& value, const std::string& data) {
  return WriteRegValue(key, value, RegStringValue(data));
}

RegValue RegStringValue(const std::string& text) {
  const std::wstring wide = Wide(text);
  RegValue v{REG_SZ, std::vector<BYTE>((wide.size() + 1) * sizeof(wchar_t), 0)};
  std::memcpy(v.data.data(), wide.c_str(), wide.size() * sizeof(wchar_t));
  return v;
}

std::optional<std::string> RegValueText(const RegValue& value) {
  if (value.type != REG_SZ && value.type != REG_EXPAND_SZ) return std::nullopt;
  std::wstring wide(value.data.size() / sizeof(wchar_t), L'\0');
  std::memcpy(wide.data(), value.data.data(), wide.size() * sizeof(wchar_t));
  while (!wide.empty() && wide.back() == L'\0') wide.pop_back();
  return Utf8(wide);
}

namespace {

// Whether HKLM\key exists and holds no values and no subkeys.
Expected<bool> KeyIsEmpty(const std::string& key, bool* exists) {
  auto opened = OpenKey(key, KEY_QUERY_VALUE);
  if (!opened.ok()) return opened.error();
  *exists = opened->valid();
  if (!*exists) return false;
  DWORD subkeys = 0;
  DWORD values = 0;
  const LONG rc = RegQueryInfoKeyW(opened->get(), nullptr, nullptr, nullptr, &subkeys, nullptr,
                                   nullptr, &values, nullptr, nullptr, nullptr, nullptr);
  if (rc != ERROR_SUCCESS) {
    return Win32Error("RegQueryInfoKeyW(HKLM\\" + key + ")", static_cast<DWORD>(rc));
  }
  return subkeys == 0 && values == 0;
}

}  // namespace

Status RestoreRegValue(const RegValueSnapshot& snapshot) {
  if (snapshot.previous.has_value()) {
    STOCKADE_RETURN_IF_ERROR(WriteRegValue(snapshot.key, snapshot.value, *snapshot.previous));
  } else {
    auto opened = OpenKey(snapshot.key, KEY_SET_VALUE);
    if (!opened.ok()) return opened.error();
    if (opened->valid()) {
      const LONG rc = RegDeleteValueW(opened->get(), Wide(snapshot.value).c_str());
      if (rc != ERROR_SUCCESS && rc != ERROR_FILE_NOT_FOUND) {
        return Win32Error("RegDeleteValueW(" + Describe(snapshot.key, snapshot.value) + ")",
                          static_cast<DWORD>(rc));
      }
    }
  }
  for (auto it = snapshot.missing_keys.rbegin(); it != snapshot.missing_keys.rend(); ++it) {
    bool exists = false;
    auto empty = KeyIsEmpty(*it, &exists);
    if (!empty.ok()) return empty.error();
    if (!exists) continue;
    if (!*empty) break;  // someone else's values or keys live there now: keep it and its parents
    const LONG rc = RegDeleteKeyExW(HKEY_LOCAL_MACHINE, Wide(*it).c_str(), kView, 0);
    if (rc != ERROR_SUCCESS && rc != ERROR_FILE_NOT_FOUND) {
      return Win32Error("RegDeleteKeyExW(HKLM\\" + *it + ")", static_cast<DWORD>(rc));
    }
  }
  return OkStatus();
}

Expected<std::string> DescribeRegDifference(const RegValueSnapshot& snapshot) {
  auto now = ReadRegValue(snapshot.key, snapshot.value);
  if (!now.ok()) return now.error();
  const std::string where = Describe(snapshot.key, snapshot.value);
  if (now->has_value() != snapshot.previous.has_value()) {
    return std::string(where + (now->has_value() ? " exists, expected absent" : " is missing"));
  }
  if (now->has_value() && !(**now == *snapshot.previous)) {
    return std::string(where + " is type " + std::to_string((*now)->type) + " data " +
                       HexEncode((*now)->data) + ", expected type " +
                       std::to_string(snapshot.previous->type) + " data " +
                       HexEncode(snapshot.previous->data));
  }
  for (const std::string& key : snapshot.missing_keys) {
    bool exists = false;
    auto empty = KeyIsEmpty(key, &exists);
    if (!empty.ok()) return empty.error();
    if (exists && *empty) {
      return std::string("HKLM\\" + key + " was created by Stockade and is still there (empty)");
    }
  }
  return std::string();
}

Expected<std::vector<std::string>> RegValueNames(const std::string& key) {
  std::vector<std::string> names;
  auto opened = OpenKey(key, KEY_QUERY_VALUE);
  if (!opened.ok()) return opened.error();
  if (!opened->valid()) return names;
  for (DWORD i = 0;; ++i) {
    wchar_t name[16384];  // the registry's limit for value names
    DWORD length = 16384;
    const LONG rc =
        RegEnumValueW(opened->get(), i, name, &length, nullptr, nullptr, nullptr, nullptr);
    if (rc == ERROR_NO_MORE_ITEMS) break;
    if (rc != ERROR_SUCCESS) {
      return Win32Error("RegEnumValueW(HKLM\\" + key + ")", static_cast<DWORD>(rc));
    }
    names.push_back(Utf8(std::wstring_view(name, length)));
  }
  return names;
}

Expected<std::vector<std::string>> RegSubkeyNames(const std::string& key) {
  std::vector<std::string> names;
  auto opened = OpenKey(key, KEY_ENUMERATE_SUB_KEYS);
  if (!opened.ok()) return opened.error();
  if (!opened->valid()) return names;
  for (DWORD i = 0;; ++i) {
    wchar_t name[256];  // the registry's limit for key names
    DWORD length = 256;
    const LONG rc =
        RegEnumKeyExW(opened->get(), i, name, &length, nullptr, nullptr, nullptr, nullptr);
    if (rc == ERROR_NO_MORE_ITEMS) break;
    if (rc != ERROR_SUCCESS) {
      return Win32Error("RegEnumKeyExW(HKLM\\" + key + ")", static_cast<DWORD>(rc));
    }
    names.push_back(Utf8(std::wstring_view(name, length)));
  }
  return names;
}

}  // namespace stockade::provision::win
