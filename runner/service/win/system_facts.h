// The broker's questions (runner/service/broker.h: SystemFacts) answered on Windows.
//
// The portable broker speaks of numeric uids; Windows principals are SIDs. SidTable gives each
// SID the service meets a number of its own (from 100000 up, never 0: no caller is "root" on
// Windows, an administrator must own the grant like anyone else) and remembers the mapping for
// the service's lifetime, so that "same uid" means exactly "same SID". Numbers are never
// persisted and never compared with anything outside this process.
#ifndef STOCKADE_RUNNER_SERVICE_WIN_SYSTEM_FACTS_H_
#define STOCKADE_RUNNER_SERVICE_WIN_SYSTEM_FACTS_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "provision/win/sid.h"
#include "runner/service/broker.h"

namespace stockade::runner::service::win_os {

using provision::win::Sid;

class SidTable {
 public:
  // The number for `sid`, assigned on first use. Thread-safe.
  std::uint32_t UidFor(const Sid& sid);
  // The SID behind a number this table handed out; nullopt for any other number.
  std::optional<Sid> SidFor(std::uint32_t uid) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::uint32_t> by_sid_;
  std::map<std::uint32_t, std::string> by_uid_;
  std::uint32_t next_ = 100000;
};

class WinSystemFacts : public SystemFacts {
 public:
  // `state_dir` holds the provisioning journal (read-only here).
  WinSystemFacts(SidTable& sids, std::string state_dir)
      : sids_(sids), state_dir_(std::move(state_dir)) {}

  // A local account (LookupLocalAccount); uid and gid are its SidTable number.
  Expected<std::optional<Account>> FindAccount(const std::string& name) override;
  // GetFinalPathNameByHandleW without "\\?\"; network shares refused (kPathInvalid).
  Expected<std::string> RealPath(const std::string& path) override;
  // The owner SID of the path (GetNamedSecurityInfoW), as its SidTable number.
  Expected<std::uint32_t> OwnerUid(const std::string& path) override;
  // The profile folder of the SID behind `uid` (ProfileList); kNotFound when it has none.
  Expected<std::string> HomeOf(std::uint32_t uid) override;
  // Live "workspace.grant" steps of the journal; the owner is the step's "owner_sid" param
  // when the grant recorded one, else unset (the broker then uses the folder's owner).
  Expected<std::vector<Grant>> LiveGrants() override;

 private:
  SidTable& sids_;
  std::string state_dir_;
};

}  // namespace stockade::runner::service::win_os

#endif  // STOCKADE_RUNNER_SERVICE_WIN_SYSTEM_FACTS_H_
