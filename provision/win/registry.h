// HKLM registry values as the provisioner changes them: a snapshot of one value (and of which
// keys on its path were missing) that can be journaled as JSON and put back exactly -- same
// type, same bytes, value absent again, keys we created removed again when they are empty.
//
// All paths are subkeys of HKEY_LOCAL_MACHINE in the 64-bit view ("SOFTWARE\\Stockade").
#ifndef STOCKADE_PROVISION_WIN_REGISTRY_H_
#define STOCKADE_PROVISION_WIN_REGISTRY_H_

#include <windows.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"

namespace stockade::provision::win {

struct RegValue {
  DWORD type = REG_NONE;
  std::vector<BYTE> data;

  bool operator==(const RegValue&) const = default;
};

// What one value looked like before a change.
struct RegValueSnapshot {
  std::string key;    // subkey of HKLM
  std::string value;  // value name ("" is the key's default value)
  // The keys on the path to `key` that did not exist, outermost first ("SOFTWARE\\Stockade").
  std::vector<std::string> missing_keys;
  std::optional<RegValue> previous;  // nullopt: the value did not exist

  // {"key","value","missing_keys":[...],"previous":null|{"type":n,"data":"<hex>"}}
  nlohmann::json ToJson() const;
  // Errors: kStateCorrupt naming the member that is missing or malformed.
  static Expected<RegValueSnapshot> FromJson(const nlohmann::json& json);
};

// Reads `value` under HKLM\`key`; nullopt when the key or the value does not exist.
// Errors: kPermissionDenied / kOs naming RegOpenKeyExW or RegQueryValueExW and the path.
Expected<std::optional<RegValue>> ReadRegValue(const std::string& key, const std::string& value);

// True when HKLM\`key` exists.
Expected<bool> RegKeyExists(const std::string& key);

// Captures what RestoreRegValue needs. Changes nothing.
Expected<RegValueSnapshot> CaptureRegValue(const std::string& key, const std::string& value);

// Creates HKLM\`key` (and missing parents) and sets `value`. Errors name RegCreateKeyExW /
// RegSetValueExW and the path.
Status WriteRegValue(const std::string& key, const std::string& value, const RegValue& data);
Status WriteRegDword(const std::string& key, const std::string& value, DWORD data);
Status WriteRegString(const std::string& key, const std::string& value, const std::string& data);

// Puts back what `snapshot` recorded: the previous value exactly (type and bytes) or no value,
// then deletes the keys listed as missing, innermost first, each only when it holds no values and
// no subkeys any more (another writer's values are never deleted with them). Idempotent.
Status RestoreRegValue(const RegValueSnapshot& snapshot);

// "" when the live registry matches `snapshot` (the value as before; every missing key that is
// still there holds something); otherwise a sentence naming the first difference.
Expected<std::string> DescribeRegDifference(const RegValueSnapshot& snapshot);

// A REG_SZ value's bytes for `text` (UTF-16 with its terminating NUL, as RegSetValueExW stores
// it), and the text of a REG_SZ / REG_EXPAND_SZ value (nullopt for other types).
RegValue RegStringValue(const std::string& text);
std::optional<std::string> RegValueText(const RegValue& value);

// Names of the values directly under HKLM\`key` (empty when the key does not exist).
Expected<std::vector<std::string>> RegValueNames(const std::string& key);
// Names of the subkeys directly under HKLM\`key` (empty when the key does not exist).
Expected<std::vector<std::string>> RegSubkeyNames(const std::string& key);

}  // namespace stockade::provision::win

#endif  // STOCKADE_PROVISION_WIN_REGISTRY_H_
