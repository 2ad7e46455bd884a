#include "provision/win/group_step.h"

#include "core/log/logging.h"
#include "provision/win/accounts.h"
#include "provision/win/params.h"
#include "provision/win/sid.h"
#include "provision/win/win_util.h"

namespace stockade::provision::win {

Status CheckAccountName(const std::string& name, std::size_t max_length, const std::string& what) {
  const std::wstring wide = Wide(name);
  if (wide.empty() || wide.size() > max_length) {
    return Error(ErrorCode::kInvalidArgument, what + " '" + name + "' must have 1 to " +
                                                  std::to_string(max_length) + " characters");
  }
  if (wide.find_first_of(L"\"/\\[]:;|=,+*?<>@") != std::wstring::npos) {
    return Error(ErrorCode::kInvalidArgument,
                 what + " '" + name + "' contains a character Windows refuses in account names");
  }
  if (wide.find_first_not_of(L". ") == std::wstring::npos) {
    return Error(ErrorCode::kInvalidArgument, what + " '" + name + "' is only dots and spaces");
  }
  return OkStatus();
}

Expected<std::unique_ptr<Step>> GroupStep::Create(const StepSpec& spec) {
  auto reader = JsonReader::Params(spec);
  auto name = reader.String("name");
  if (!name.ok()) return name.error();
  STOCKADE_RETURN_IF_ERROR(CheckAccountName(*name, 256, "group name"));
  auto comment = reader.StringOr("comment", "Stockade sandbox identities");
  if (!comment.ok()) return comment.error();
  return std::unique_ptr<Step>(new GroupStep(spec, *name, *comment));
}

std::string GroupStep::Describe() const { return "create local group " + name_; }

Expected<nlohmann::json> GroupStep::CaptureBefore() {
  auto found = LookupLocalAccount(name_);
  if (!found.ok()) return found.error();
  if (found->has_value() && (*found)->use != SidTypeAlias) {
    return Error(ErrorCode::kAlreadyExists, "local group " + name_ + ": the name belongs to a " +
                                                SidUseName((*found)->use) + " (" +
                                                (*found)->sid.ToString() + ")");
  }
  return nlohmann::json{{"existed", found->has_value()}};
}

Expected<bool> GroupStep::TargetPresent() {
  auto found = LookupLocalAccount(name_);
  if (!found.ok()) return found.error();
  return found->has_value();
}

Status GroupStep::Apply() {
  Status added = AddLocalGroup(name_, comment_);
  if (!added.ok() && added.error().code() != ErrorCode::kAlreadyExists) return added;
  log::Logger()->info("local group {}: {}", name_,
                      added.ok() ? "created (NetLocalGroupAdd)" : "already there");
  return OkStatus();
}

Expected<std::string> GroupStep::Check() {
  auto found = LookupLocalAccount(name_);
  if (!found.ok()) return found.error();
  if (!found->has_value()) {
    return std::string("local group " + name_ +
                       " does not exist: LookupAccountNameW maps no account to it");
  }
  if ((*found)->use != SidTypeAlias) {
    return std::string(name_ + " resolves to a " + SidUseName((*found)->use) +
                       ", not a local group");
  }
  auto reported = NetLocalGroupReported(name_);
  if (!reported.ok()) return reported.error();
  if (!*reported) {
    return std::string("LookupAccountNameW resolves " + name_ +
                       " but NetLocalGroupGetInfo does not report it");
  }
  return std::string();
}

Status GroupStep::Undo(const nlohmann::json& before) {
  auto existed = JsonReader::Before(spec(), before).Bool("existed");
  if (!existed.ok()) return existed.error();
  if (*existed) return OkStatus();  // not ours: left exactly as it was
  STOCKADE_RETURN_IF_ERROR(DeleteLocalGroup(name_));
  log::Logger()->info("local group {}: deleted (NetLocalGroupDel)", name_);
  return OkStatus();
}

Expected<std::string> GroupStep::CheckUndone(const nlohmann::json& before) {
  auto existed = JsonReader::Before(spec(), before).Bool("existed");
  if (!existed.ok()) return existed.error();
  if (*existed) return Check();
  // Absence is read from LSA alone: under Wine NetLocalGroupGetInfo reports every name.
  auto found = LookupLocalAccount(name_);
  if (!found.ok()) return found.error();
  if (found->has_value()) {
    return std::string("local group " + name_ + " still exists (" + (*found)->sid.ToString() + ")");
  }
  return std::string();
}

}  // namespace stockade::provision::win
