#include "provision/win/state_dir_step.h"

#include "core/log/logging.h"
#include "provision/win/handles.h"
#include "provision/win/params.h"
#include "provision/win/sid.h"
#include "provision/win/win_util.h"

namespace stockade::provision::win {

namespace {

struct Before {
  bool existed = false;
  std::string sddl;
  std::vector<std::string> sids;
};

Expected<Before> ParseBefore(const StepSpec& spec, const nlohmann::json& json) {
  auto reader = JsonReader::Before(spec, json);
  Before before;
  auto existed = reader.Bool("existed");
  if (!existed.ok()) return existed.error();
  before.existed = *existed;
  auto sids = reader.Strings("sids", /*required=*/true);
  if (!sids.ok()) return sids.error();
  before.sids = std::move(*sids);
  if (before.existed) {
    auto sddl = reader.String("sddl");
    if (!sddl.ok()) return sddl.error();
    before.sddl = *sddl;
  }
  return before;
}

Expected<bool> FolderIsEmpty(const std::string& path) {
  WIN32_FIND_DATAW found{};
  UniqueFindHandle search(FindFirstFileW(Wide(path + "\\*").c_str(), &found));
  if (!search) return LastWin32Error("FindFirstFileW(" + path + "\\*)");
  do {
    const std::wstring name = found.cFileName;
    if (name != L"." && name != L"..") return false;
  } while (FindNextFileW(search.get(), &found));
  return true;
}

// SYSTEM and Administrators, full control, inherited by everything inside.
Expected<std::vector<Ace>> AdminAces() {
  std::vector<Ace> aces;
  for (WELL_KNOWN_SID_TYPE type : {WinLocalSystemSid, WinBuiltinAdministratorsSid}) {
    auto sid = Sid::WellKnown(type);
    if (!sid.ok()) return sid.error();
    auto ace = MakeAce(ACCESS_ALLOWED_ACE_TYPE, kInheritToAll, kFullAccessMask, *sid);
    if (!ace.ok()) return ace.error();
    aces.push_back(std::move(*ace));
  }
  return aces;
}

}  // namespace

Expected<std::unique_ptr<Step>> StateDirStep::Create(const StepSpec& spec) {
  auto reader = JsonReader::Params(spec);
  auto path = reader.String("path");
  if (!path.ok()) return path.error();
  auto group = reader.String("group");
  if (!group.ok()) return group.error();
  auto users = reader.Strings("users", /*required=*/false);
  if (!users.ok()) return users.error();
  std::vector<std::string> accounts{*group};
  accounts.insert(accounts.end(), users->begin(), users->end());
  return std::unique_ptr<Step>(new StateDirStep(spec, *path, std::move(accounts)));
}

std::string StateDirStep::Describe() const {
  return "make " + path_ + " an administrators-only folder the sandbox identities cannot write";
}

Expected<std::vector<Sid>> StateDirStep::DeniedSids() const {
  std::vector<Sid> sids;
  for (const std::string& name : accounts_) {
    auto sid = ResolveLocalAccountSid(name);
    if (!sid.ok()) return sid.error();
    sids.push_back(std::move(*sid));
  }
  return sids;
}

Expected<std::vector<Ace>> StateDirStep::FolderDacl(const std::vector<Sid>& denied) {
  std::vector<Ace> aces;
  for (const Sid& sid : denied) {
    auto ace = MakeAce(ACCESS_DENIED_ACE_TYPE, kInheritToAll, kWriteRightsMask, sid);
    if (!ace.ok()) return ace.error();
    aces.push_back(std::move(*ace));
  }
  auto admins = AdminAces();
  if (!admins.ok()) return admins.error();
  aces.insert(aces.end(), admins->begin(), admins->end());
  return aces;
}

Expected<nlohmann::json> StateDirStep::CaptureBefore() {
  auto sids = DeniedSids();
  if (!sids.ok()) return sids.error();
  nlohmann::json before{{"existed", false}, {"sddl", nullptr}, {"sids", nlohmann::json::array()}};
  for (const Sid& sid : *sids) before["sids"].push_back(sid.ToString());
  auto attributes = FileAttributes(path_);
  if (!attributes.ok()) {
    if (attributes.error().code() == ErrorCode::kNotFound) return before;
    return attributes.error();
  }
  STOCKADE_RETURN_IF_ERROR(RefuseReparsePoint(path_, "state folder"));
  auto security = ReadFileSecurity(path_, /*with_owner=*/true);
  if (!security.ok()) return security.error();
  before["existed"] = true;
  before["sddl"] = security->sddl;
  return before;
}

Status StateDirStep::Apply() {
  auto sids = DeniedSids();
  if (!sids.ok()) return sids.error().Wrap(spec().target);
  if (!CreateDirectoryW(Wide(path_).c_str(), nullptr) && GetLastError() != ERROR_ALREADY_EXISTS) {
    return LastWin32Error("CreateDirectoryW(" + path_ + ")");
  }
  STOCKADE_RETURN_IF_ERROR(RefuseReparsePoint(path_, "state folder"));
  auto attributes = FileAttributes(path_);
  if (!attributes.ok()) return attributes.error();
  if ((*attributes & FILE_ATTRIBUTE_DIRECTORY) == 0) {
    return Error(ErrorCode::kPathInvalid, "state folder " + path_ + " is a file");
  }
  auto dacl = FolderDacl(*sids);
  if (!dacl.ok()) return dacl.error();
  auto admins = Sid::WellKnown(WinBuiltinAdministratorsSid);
  if (!admins.ok()) return admins.error();
  STOCKADE_RETURN_IF_ERROR(WriteFileSecurity(path_, *dacl, /*dacl_protected=*/true, *admins));
  log::Logger()->info("state folder {}: owner Administrators, protected DACL {} (1 security write)",
                      path_, AcesToString(*dacl));
  return OkStatus();
}

Expected<std::string> StateDirStep::Check() {
  auto attributes = FileAttributes(path_);
  if (!attributes.ok()) {
    if (attributes.error().code() == ErrorCode::kNotFound) {
      return std::string("state folder " + path_ + " does not exist");
    }
    return attributes.error();
  }
  if (*attributes & FILE_ATTRIBUTE_REPARSE_POINT) {
    return std::string("state folder " + path_ + " is a reparse point (link or junction)");
  }
  auto sids = DeniedSids();
  if (!sids.ok()) {
    if (sids.error().code() == ErrorCode::kNotFound) return sids.error().context();
    return sids.error();
  }
  auto dacl = FolderDacl(*sids);
  if (!dacl.ok()) return dacl.error();
  auto security = ReadFileSecurity(path_, /*with_owner=*/true);
  if (!security.ok()) return security.error();
  std::string difference = DescribeDaclDifference("state folder " + path_, true, *dacl, *security);
  if (!difference.empty()) return difference;
  if (!SameSid(security->owner, "BA") && !SameSid(security->owner, "SY")) {
    return std::string("state folder " + path_ + " is owned by " + security->owner +
                       ", expected Administrators or SYSTEM");
  }
  return std::string();
}

Status StateDirStep::Undo(const nlohmann::json& before_json) {
  auto before = ParseBefore(spec(), before_json);
  if (!before.ok()) return before.error();
  auto attributes = FileAttributes(path_);
  if (!attributes.ok()) {
    if (attributes.error().code() == ErrorCode::kNotFound) return OkStatus();
    return attributes.error();
  }
  // Never write security through a link planted since: it would land on the target.
  STOCKADE_RETURN_IF_ERROR(RefuseReparsePoint(path_, "state folder"));
  auto security = ReadFileSecurity(path_, /*with_owner=*/true);
  if (!security.ok()) return security.error();
  if (before->existed) {
    auto previous = ParseSecuritySddl(before->sddl);
    if (!previous.ok()) return previous.error().Wrap(spec().target);
    const bool same_dacl = DescribeDaclDifference("", previous->dacl_protected,
                                                  ExplicitAces(previous->dacl), *security)
                               .empty();
    const bool same_owner = previous->owner.empty() || SameSid(previous->owner, security->owner);
    if (same_dacl && same_owner) return OkStatus();  // nothing to write
    std::optional<Sid> owner;
    if (!previous->owner.empty()) {
      auto sid = Sid::FromString(previous->owner);
      if (!sid.ok()) return sid.error();
      owner = *sid;
    }
    STOCKADE_RETURN_IF_ERROR(
        WriteFileSecurity(path_, previous->dacl, previous->dacl_protected, owner));
    log::Logger()->info("state folder {}: previous security restored ({})", path_, before->sddl);
    return OkStatus();
  }
  auto empty = FolderIsEmpty(path_);
  if (!empty.ok()) return empty.error();
  if (*empty) {
    if (!RemoveDirectoryW(Wide(path_).c_str()) && GetLastError() != ERROR_FILE_NOT_FOUND) {
      return LastWin32Error("RemoveDirectoryW(" + path_ + ")");
    }
    log::Logger()->info("state folder {}: removed", path_);
    return OkStatus();
  }
  if (!NamesAnySid(ExplicitAces(security->dacl), before->sids)) return OkStatus();
  auto admins = AdminAces();
  if (!admins.ok()) return admins.error();
  STOCKADE_RETURN_IF_ERROR(WriteFileSecurity(path_, *admins, /*dacl_protected=*/true));
  log::Logger()->info("state folder {}: kept (not empty), deny entries for the sandbox removed",
                      path_);
  return OkStatus();
}

Expected<std::string> StateDirStep::CheckUndone(const nlohmann::json& before_json) {
  auto before = ParseBefore(spec(), before_json);
  if (!before.ok()) return before.error();
  auto attributes = FileAttributes(path_);
  if (!attributes.ok()) {
    if (attributes.error().code() != ErrorCode::kNotFound) return attributes.error();
    if (before->existed) return std::string("state folder " + path_ + " is missing");
    return std::string();
  }
  auto security = ReadFileSecurity(path_, /*with_owner=*/true);
  if (!security.ok()) return security.error();
  if (before->existed) {
    auto previous = ParseSecuritySddl(before->sddl);
    if (!previous.ok()) return previous.error();
    if (!previous->owner.empty() && !SameSid(previous->owner, security->owner)) {
      return std::string("state folder " + path_ + " is owned by " + security->owner +
                         ", previously " + previous->owner);
    }
    return DescribeDaclDifference("state folder " + path_, previous->dacl_protected,
                                  ExplicitAces(previous->dacl), *security);
  }
  auto empty = FolderIsEmpty(path_);
  if (!empty.ok()) return empty.error();
  if (*empty)
    return std::string("state folder " + path_ +
                       " was created by Stockade and is still there (empty)");
  if (NamesAnySid(ExplicitAces(security->dacl), before->sids)) {
    return std::string("state folder " + path_ + " still has ACEs naming the sandbox identities: " +
                       AcesToString(ExplicitAces(security->dacl)));
  }
  return std::string();
}

}  // namespace stockade::provision::win
