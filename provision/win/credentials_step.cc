#include "provision/win/credentials_step.h"

#include <set>

#include "core/crypto/random.h"
#include "core/log/logging.h"
#include "provision/win/accounts.h"
#include "provision/win/credential_store.h"
#include "provision/win/group_step.h"
#include "provision/win/params.h"
#include "provision/win/sid.h"
#include "provision/win/win_util.h"

namespace stockade::provision::win {

namespace {

struct Before {
  bool existed = false;
  std::vector<BYTE> content;
  std::string sddl;
};

Expected<Before> ParseBefore(const StepSpec& spec, const nlohmann::json& json) {
  auto reader = JsonReader::Before(spec, json);
  Before before;
  auto existed = reader.Bool("existed");
  if (!existed.ok()) return existed.error();
  before.existed = *existed;
  if (!before.existed) return before;
  auto content = reader.String("content");
  if (!content.ok()) return content.error();
  auto bytes = HexDecode(*content);
  if (!bytes.has_value()) return reader.Bad("content", "hex");
  before.content = std::move(*bytes);
  auto sddl = reader.String("sddl");
  if (!sddl.ok()) return sddl.error();
  before.sddl = *sddl;
  return before;
}

}  // namespace

Expected<std::unique_ptr<Step>> CredentialsStep::Create(const StepSpec& spec) {
  auto reader = JsonReader::Params(spec);
  auto path = reader.String("path");
  if (!path.ok()) return path.error();
  auto users = reader.Strings("users", /*required=*/true);
  if (!users.ok()) return users.error();
  if (users->empty()) return reader.Bad("users", "a non-empty array of user names");
  std::set<std::string> unique;
  for (const std::string& user : *users) {
    STOCKADE_RETURN_IF_ERROR(CheckAccountName(user, 20, "user name"));
    if (!unique.insert(user).second) return reader.Bad("users", "free of repeated names");
  }
  auto group = reader.String("group");
  if (!group.ok()) return group.error();
  auto length = reader.IntOr("password_length", 32, 16, 256);
  if (!length.ok()) return length.error();
  return std::unique_ptr<Step>(
      new CredentialsStep(spec, *path, *users, *group, static_cast<std::size_t>(*length)));
}

std::string CredentialsStep::Describe() const {
  std::string names;
  for (const std::string& user : users_) names += (names.empty() ? "" : ", ") + user;
  return "set CSPRNG passwords for " + names + " and store them DPAPI-protected in " + path_;
}

Expected<std::vector<Ace>> CredentialsStep::FileDacl(const std::string& group,
                                                     const std::vector<std::string>& users) {
  std::vector<Ace> aces;
  std::vector<std::string> denied{group};
  denied.insert(denied.end(), users.begin(), users.end());
  for (const std::string& name : denied) {
    auto sid = ResolveLocalAccountSid(name);
    if (!sid.ok()) return sid.error();
    auto ace = MakeAce(ACCESS_DENIED_ACE_TYPE, 0, kFullAccessMask, *sid);
    if (!ace.ok()) return ace.error();
    aces.push_back(std::move(*ace));
  }
  for (WELL_KNOWN_SID_TYPE type : {WinLocalSystemSid, WinBuiltinAdministratorsSid}) {
    auto sid = Sid::WellKnown(type);
    if (!sid.ok()) return sid.error();
    auto ace = MakeAce(ACCESS_ALLOWED_ACE_TYPE, 0, kFullAccessMask, *sid);
    if (!ace.ok()) return ace.error();
    aces.push_back(std::move(*ace));
  }
  return aces;
}

Expected<nlohmann::json> CredentialsStep::CaptureBefore() {
  auto bytes = ReadFileBytes(path_);
  if (!bytes.ok()) return bytes.error();
  if (!bytes->has_value())
    return nlohmann::json{{"existed", false}, {"content", nullptr}, {"sddl", nullptr}};
  auto security = ReadFileSecurity(path_, /*with_owner=*/true);
  if (!security.ok()) return security.error();
  return nlohmann::json{
      {"existed", true}, {"content", HexEncode(**bytes)}, {"sddl", security->sddl}};
}

Expected<bool> CredentialsStep::TargetPresent() {
  auto bytes = ReadFileBytes(path_);
  if (!bytes.ok()) return bytes.error();
  return bytes->has_value();
}

Status CredentialsStep::Apply() {
  auto dacl = FileDacl(group_, users_);
  if (!dacl.ok()) return dacl.error().Wrap(spec().target);
  CredentialMap credentials;
  for (const std::string& user : users_) {
    auto password = crypto::RandomPassword(password_length_);
    if (!password.ok()) return password.error().Wrap(spec().target);
    credentials.emplace(user, SecretString(std::move(*password)));
  }
  STOCKADE_RETURN_IF_ERROR(WriteCredentialFile(path_, credentials, *dacl));
  log::Logger()->info("credentials: wrote {} ({} users, machine DPAPI, protected DACL)", path_,
                      credentials.size());
  for (const auto& [user, password] : credentials) {
    STOCKADE_RETURN_IF_ERROR(SetLocalUserPassword(user, password));
  }
  return OkStatus();
}

Expected<std::string> CredentialsStep::Check() {
  auto bytes = ReadFileBytes(path_);
  if (!bytes.ok()) return bytes.error();
  if (!bytes->has_value()) return std::string("credential file " + path_ + " does not exist");
  auto credentials = UnprotectCredentials(**bytes);
  if (!credentials.ok()) {
    return std::string("credential file " + path_ +
                       " does not decrypt: " + credentials.error().ToString());
  }
  std::set<std::string> expected(users_.begin(), users_.end());
  std::set<std::string> actual;
  for (const auto& [user, password] : *credentials) {
    actual.insert(user);
    if (password.value().size() != password_length_) {
      return std::string("credential file " + path_ + ": the password of " + user + " has " +
                         std::to_string(password.value().size()) + " characters, expected " +
                         std::to_string(password_length_));
    }
  }
  if (actual != expected) {
    std::string names;
    for (const std::string& user : actual) names += (names.empty() ? "" : ", ") + user;
    return std::string("credential file " + path_ + " holds passwords for [" + names +
                       "], expected exactly the step's users");
  }
  auto dacl = FileDacl(group_, users_);
  if (!dacl.ok()) {
    if (dacl.error().code() == ErrorCode::kNotFound) return dacl.error().context();
    return dacl.error();
  }
  auto security = ReadFileSecurity(path_, /*with_owner=*/false);
  if (!security.ok()) return security.error();
  return DescribeDaclDifference("credential file " + path_, true, *dacl, *security);
}

Status CredentialsStep::Undo(const nlohmann::json& before_json) {
  auto before = ParseBefore(spec(), before_json);
  if (!before.ok()) return before.error();
  STOCKADE_RETURN_IF_ERROR(RemoveTemporaries(path_));
  if (!before->existed) {
    if (!DeleteFileW(Wide(path_).c_str())) {
      const DWORD err = GetLastError();
      if (err != ERROR_FILE_NOT_FOUND && err != ERROR_PATH_NOT_FOUND) {
        return Win32Error("DeleteFileW(" + path_ + ")", err);
      }
    }
    log::Logger()->info("credentials: removed {}", path_);
    return OkStatus();
  }
  auto previous = ParseSecuritySddl(before->sddl);
  if (!previous.ok()) return previous.error().Wrap(spec().target);
  STOCKADE_RETURN_IF_ERROR(
      WriteFileAtomically(path_, before->content, previous->dacl, previous->dacl_protected));
  std::optional<Sid> owner;
  if (!previous->owner.empty()) {
    auto sid = Sid::FromString(previous->owner);
    if (!sid.ok()) return sid.error();
    owner = *sid;
  }
  STOCKADE_RETURN_IF_ERROR(
      WriteFileSecurity(path_, previous->dacl, previous->dacl_protected, owner));
  // The accounts got new passwords in Apply: give them back the ones the restored file holds.
  auto credentials = UnprotectCredentials(before->content);
  if (!credentials.ok()) return credentials.error().Wrap("restore previous passwords");
  for (const auto& [user, password] : *credentials) {
    auto exists = GetLocalUser(user);
    if (!exists.ok()) return exists.error();
    if (!exists->has_value()) continue;
    STOCKADE_RETURN_IF_ERROR(SetLocalUserPassword(user, password));
  }
  return OkStatus();
}

Expected<std::string> CredentialsStep::CheckUndone(const nlohmann::json& before_json) {
  auto before = ParseBefore(spec(), before_json);
  if (!before.ok()) return before.error();
  auto bytes = ReadFileBytes(path_);
  if (!bytes.ok()) return bytes.error();
  if (!before->existed) {
    if (bytes->has_value()) return std::string("credential file " + path_ + " still exists");
    return std::string();
  }
  if (!bytes->has_value()) return std::string("credential file " + path_ + " is missing");
  if (**bytes != before->content) {
    return std::string("credential file " + path_ + " differs from its previous content");
  }
  auto previous = ParseSecuritySddl(before->sddl);
  if (!previous.ok()) return previous.error();
  auto security = ReadFileSecurity(path_, /*with_owner=*/true);
  if (!security.ok()) return security.error();
  if (!previous->owner.empty() && !SameSid(previous->owner, security->owner)) {
    return std::string("credential file " + path_ + " is owned by " + security->owner +
                       ", previously " + previous->owner);
  }
  return DescribeDaclDifference("credential file " + path_, previous->dacl_protected,
                                ExplicitAces(previous->dacl), *security);
}

}  // namespace stockade::provision::win
