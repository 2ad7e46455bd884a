#include "runner/service/win/system_facts.h"

#include <windows.h>

#include "provision/journal/journal.h"
#include "provision/step.h"
#include "provision/win/accounts.h"
#include "provision/win/handles.h"
#include "provision/win/security.h"
#include "provision/win/win_util.h"

namespace stockade::runner::service::win_os {

namespace pw = stockade::provision::win;

std::uint32_t SidTable::UidFor(const Sid& sid) {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::string text = sid.ToString();
  auto found = by_sid_.find(text);
  if (found != by_sid_.end()) return found->second;
  const std::uint32_t uid = next_++;
  by_sid_[text] = uid;
  by_uid_[uid] = text;
  return uid;
}

std::optional<Sid> SidTable::SidFor(std::uint32_t uid) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = by_uid_.find(uid);
  if (found == by_uid_.end()) return std::nullopt;
  auto sid = Sid::FromString(found->second);
  if (!sid.ok()) return std::nullopt;
  return *sid;
}

Expected<std::optional<Account>> WinSystemFacts::FindAccount(const std::string& name) {
  auto account = pw::LookupLocalAccount(name);
  if (!account.ok()) return account.error();
  if (!account->has_value() || (*account)->use != SidTypeUser) return std::optional<Account>();
  const std::uint32_t uid = sids_.UidFor((*account)->sid);
  return std::optional<Account>(Account{name, uid, uid});
}

Expected<std::string> WinSystemFacts::RealPath(const std::string& path) {
  pw::UniqueHandle handle(CreateFileW(pw::Wide(path).c_str(), FILE_READ_ATTRIBUTES,
                                      FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                                      nullptr, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, nullptr));
  if (!handle) {
    const DWORD error = GetLastError();
    return pw::Win32Error(pw::CodeForWin32(error), "CreateFileW(" + path + ")", error);
  }
  std::wstring buffer(32768, L'\0');
  const DWORD n = GetFinalPathNameByHandleW(
      handle.get(), buffer.data(), static_cast<DWORD>(buffer.size()), FILE_NAME_NORMALIZED);
  if (n == 0 || n >= buffer.size()) {
    return pw::LastWin32Error("GetFinalPathNameByHandleW(" + path + ")");
  }
  buffer.resize(n);
  if (buffer.rfind(L"\\\\?\\UNC\\", 0) == 0) {
    return Error(ErrorCode::kPathInvalid, "'" + path + "' is on a network share: not supported");
  }
  if (buffer.rfind(L"\\\\?\\", 0) == 0) buffer.erase(0, 4);
  return pw::Utf8(buffer);
}

Expected<std::uint32_t> WinSystemFacts::OwnerUid(const std::string& path) {
  auto security = pw::ReadFileSecurity(path, /*with_owner=*/true);
  if (!security.ok()) return security.error();
  auto owner = Sid::FromString(security->owner);
  if (!owner.ok()) return owner.error().Wrap("owner of " + path);
  return sids_.UidFor(*owner);
}

Expected<std::string> WinSystemFacts::HomeOf(std::uint32_t uid) {
  auto sid = sids_.SidFor(uid);
  if (!sid.has_value())
    return Error(ErrorCode::kNotFound, "no SID behind uid " + std::to_string(uid));
  auto profile = pw::ProfilePathOf(*sid);
  if (!profile.ok()) return profile.error();
  if (!profile->has_value()) {
    return Error(ErrorCode::kNotFound, sid->ToString() + " has no profile folder");
  }
  return **profile;
}

Expected<std::vector<Grant>> WinSystemFacts::LiveGrants() {
  provision::JournalOptions options;
  options.read_only = true;
  auto journal = provision::Journal::Open(state_dir_, options);
  if (!journal.ok()) {
    if (journal.error().code() == ErrorCode::kNotFound) return std::vector<Grant>{};
    return journal.error();
  }
  auto steps = journal->LiveSteps();
  if (!steps.ok()) return steps.error();
  std::vector<Grant> grants;
  for (const auto& step : *steps) {
    if (step.spec.kind != provision::kind::kWorkspaceGrant) continue;
    auto path = step.spec.params.find("path");
    if (path == step.spec.params.end() || !path->is_string()) continue;
    Grant grant;
    grant.path = path->get<std::string>();
    auto owner = step.spec.params.find("owner_sid");
    if (owner != step.spec.params.end() && owner->is_string()) {
      auto sid = Sid::FromString(owner->get<std::string>());
      if (sid.ok()) grant.owner_uid = sids_.UidFor(*sid);
    }
    grants.push_back(std::move(grant));
  }
  return grants;
}

}  // namespace stockade::runner::service::win_os
