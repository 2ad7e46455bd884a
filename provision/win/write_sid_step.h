// kind::kWriteSid on Windows: persists the synthetic write SID -- the restricting SID of the
// runner's write-restricted tokens, granted write on workspaces -- in the registry.
//
// params:  {"sid": "S-1-5-21-a-b-c-d", "key": "SOFTWARE\\Stockade" (optional),
//           "value": "WriteSid" (optional)}
// before:  the value's registry snapshot (registry.h): previous type and bytes or absent, and
//          which keys on the path were missing.
// Apply:   refuses a SID that LookupAccountSidW maps to an existing account (a synthetic SID
//          must never alias a real principal), then RegSetValueExW(REG_SZ).
// Check:   RegQueryValueExW reads back REG_SZ equal to the SID. Real under Wine.
// Undo:    the previous value exactly (or none), and keys we created removed when empty.
//
// The SID is made by the planner (GenerateWriteSid below) so that it is in the journaled params:
// a step rebuilt after a crash writes the same SID again.
#ifndef STOCKADE_PROVISION_WIN_WRITE_SID_STEP_H_
#define STOCKADE_PROVISION_WIN_WRITE_SID_STEP_H_

#include <memory>
#include <optional>
#include <string>

#include "provision/win/checked_step.h"

namespace stockade::provision::win {

inline constexpr char kStockadeKey[] = "SOFTWARE\\Stockade";
inline constexpr char kWriteSidValue[] = "WriteSid";

// A new synthetic SID "S-1-5-21-a-b-c-d" from four 32-bit values of the OS CSPRNG
// (crypto::RandomBytes: BCryptGenRandom). Errors: kCrypto.
Expected<std::string> GenerateWriteSid();

// The SID persisted by an earlier apply, for the planner to reuse (nullopt when none is stored).
// Errors: kStateCorrupt when the value is there but not a synthetic SID string.
Expected<std::optional<std::string>> ReadPersistedWriteSid(
    const std::string& key = kStockadeKey, const std::string& value = kWriteSidValue);

class WriteSidStep : public CheckedStep {
 public:
  // Errors: kInvalidArgument when "sid" is not of the form S-1-5-21-a-b-c-d.
  static Expected<std::unique_ptr<Step>> Create(const StepSpec& spec);

  std::string Describe() const override;
  Expected<nlohmann::json> CaptureBefore() override;
  // The value exists (whatever it holds).
  Expected<bool> TargetPresent() override;
  Status Apply() override;
  Status Undo(const nlohmann::json& before) override;

 protected:
  Expected<std::string> Check() override;
  Expected<std::string> CheckUndone(const nlohmann::json& before) override;

 private:
  WriteSidStep(const StepSpec& spec, std::string sid, std::string key, std::string value)
      : CheckedStep(spec), sid_(std::move(sid)), key_(std::move(key)), value_(std::move(value)) {}
  std::string sid_;
  std::string key_;
  std::string value_;
};

}  // namespace stockade::provision::win

#endif  // STOCKADE_PROVISION_WIN_WRITE_SID_STEP_H_
