#include "provision/win/write_sid_step.h"

#include <cstdint>
#include <cstring>

#include "core/crypto/random.h"
#include "core/log/logging.h"
#include "provision/win/params.h"
#include "provision/win/registry.h"
#include "provision/win/sid.h"

namespace stockade::provision::win {

Expected<std::string> GenerateWriteSid() {
  std::uint8_t bytes[16];
  STOCKADE_RETURN_IF_ERROR(crypto::RandomBytes(bytes));
  std::uint32_t values[4];
  std::memcpy(values, bytes, sizeof values);
  SecureZeroMemory(bytes, sizeof bytes);
  return FormatWriteSid(values);
}

Expected<std::optional<std::string>> ReadPersistedWriteSid(const std::string& key,
                                                           const std::string& value) {
  auto stored = ReadRegValue(key, value);
  if (!stored.ok()) return stored.error();
  if (!stored->has_value()) return std::optional<std::string>();
  auto text = RegValueText(**stored);
  if (!text.has_value() || !IsSyntheticWriteSid(*text)) {
    return Error(ErrorCode::kStateCorrupt,
                 "HKLM\\" + key + "\\" + value + " does not hold a write SID (S-1-5-21-a-b-c-d)");
  }
  return std::optional<std::string>(*text);
}

Expected<std::unique_ptr<Step>> WriteSidStep::Create(const StepSpec& spec) {
  auto reader = JsonReader::Params(spec);
  auto sid = reader.String("sid");
  if (!sid.ok()) return sid.error();
  if (!IsSyntheticWriteSid(*sid)) return reader.Bad("sid", "of the form S-1-5-21-a-b-c-d");
  auto key = reader.StringOr("key", kStockadeKey);
  if (!key.ok()) return key.error();
  if (key->empty()) return reader.Bad("key", "a non-empty registry path");
  auto value = reader.StringOr("value", kWriteSidValue);
  if (!value.ok()) return value.error();
  return std::unique_ptr<Step>(new WriteSidStep(spec, *sid, *key, *value));
}

std::string WriteSidStep::Describe() const {
  return "persist the write SID " + sid_ + " in HKLM\\" + key_ + "\\" + value_;
}

Expected<nlohmann::json> WriteSidStep::CaptureBefore() {
  auto snapshot = CaptureRegValue(key_, value_);
  if (!snapshot.ok()) return snapshot.error();
  return snapshot->ToJson();
}

Expected<bool> WriteSidStep::TargetPresent() {
  auto stored = ReadRegValue(key_, value_);
  if (!stored.ok()) return stored.error();
  return stored->has_value();
}

Status WriteSidStep::Apply() {
  auto sid = Sid::FromString(sid_);
  if (!sid.ok()) return sid.error();
  auto account = LookupAccountBySid(*sid);
  if (!account.ok()) return account.error();
  if (account->has_value()) {
    return Error(ErrorCode::kAlreadyExists,
                 "write SID " + sid_ + " is the SID of the existing account " + (*account)->domain +
                     "\\" + (*account)->name +
                     ": refused, a synthetic SID must not alias a real principal");
  }
  STOCKADE_RETURN_IF_ERROR(WriteRegString(key_, value_, sid_));
  log::Logger()->info("write SID {} stored in HKLM\\{}\\{}", sid_, key_, value_);
  return OkStatus();
}

Expected<std::string> WriteSidStep::Check() {
  auto stored = ReadRegValue(key_, value_);
  if (!stored.ok()) return stored.error();
  const std::string where = "HKLM\\" + key_ + "\\" + value_;
  if (!stored->has_value()) return std::string(where + " does not exist");
  if ((*stored)->type != REG_SZ) {
    return std::string(where + " has type " + std::to_string((*stored)->type) +
                       ", expected REG_SZ");
  }
  auto text = RegValueText(**stored);
  if (!text.has_value() || *text != sid_) {
    return std::string(where + " holds '" + text.value_or("") + "', expected " + sid_);
  }
  return std::string();
}

Status WriteSidStep::Undo(const nlohmann::json& before) {
  auto snapshot = RegValueSnapshot::FromJson(before);
  if (!snapshot.ok()) return snapshot.error().Wrap(spec().target);
  STOCKADE_RETURN_IF_ERROR(RestoreRegValue(*snapshot));
  log::Logger()->info("write SID: HKLM\\{}\\{} restored", key_, value_);
  return OkStatus();
}

Expected<std::string> WriteSidStep::CheckUndone(const nlohmann::json& before) {
  auto snapshot = RegValueSnapshot::FromJson(before);
  if (!snapshot.ok()) return snapshot.error().Wrap(spec().target);
  return DescribeRegDifference(*snapshot);
}

}  // namespace stockade::provision::win
