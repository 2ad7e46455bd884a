// Security identifiers: an owning value type, string conversions and account lookups.
#ifndef STOCKADE_PROVISION_WIN_SID_H_
#define STOCKADE_PROVISION_WIN_SID_H_

#include <windows.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace stockade::provision::win {

// A SID held by value (its bytes in a vector, so copying and destruction need no API).
class Sid {
 public:
  // Parses "S-1-5-21-..." or an SDDL alias such as "BA" (ConvertStringSidToSidW).
  // Errors: kInvalidArgument naming the string.
  static Expected<Sid> FromString(std::string_view text);
  // Copies a SID the caller owns. Errors: kInvalidArgument when IsValidSid says it is not one.
  static Expected<Sid> FromPsid(PSID sid);
  // CreateWellKnownSid for the local machine (WinLocalSystemSid, WinBuiltinAdministratorsSid...).
  static Expected<Sid> WellKnown(WELL_KNOWN_SID_TYPE type);

  // Contract: the SID is valid for as long as this object lives unchanged.
  PSID get() const { return const_cast<BYTE*>(bytes_.data()); }
  DWORD size() const { return static_cast<DWORD>(bytes_.size()); }
  // "S-1-5-..." (never an alias).
  std::string ToString() const;

  bool operator==(const Sid& other) const { return bytes_ == other.bytes_; }

 private:
  explicit Sid(std::vector<BYTE> bytes) : bytes_(std::move(bytes)) {}
  std::vector<BYTE> bytes_;
};

// Compares two SID strings by value ("BA" equals "S-1-5-32-544"); false when either does not
// parse.
bool SameSid(std::string_view a, std::string_view b);

// What LookupAccountNameW / LookupAccountSidW say about an account.
struct Account {
  Sid sid;
  std::string domain;  // "BUILTIN", "NT AUTHORITY", the computer's name, a domain's name
  std::string name;    // the account's name as the system spells it
  SID_NAME_USE use = SidTypeUnknown;
};

// "user", "group", "alias", "well-known group", ... for messages.
const char* SidUseName(SID_NAME_USE use);

// Looks `name` up with LookupAccountNameW. nullopt when the system maps no account to it
// (ERROR_NONE_MAPPED). Errors: kOs naming the API and the name for anything else.
Expected<std::optional<Account>> LookupAccountByName(std::string_view name);

// As above, but only accounts of this machine count (its own account domain, BUILTIN and the
// well-known "NT AUTHORITY"/"" domains): an unqualified name can also resolve to a domain
// account on a domain-joined machine, which is never what a local sandbox identity means.
Expected<std::optional<Account>> LookupLocalAccount(std::string_view name);

// LookupAccountSidW; nullopt when the SID maps to no account (ERROR_NONE_MAPPED), as for a
// deleted account ("Account Unknown") or a synthetic SID.
Expected<std::optional<Account>> LookupAccountBySid(const Sid& sid);

// The SID of the account `name` on this machine. Errors: kNotFound naming LookupAccountNameW
// and the name when it maps to nothing local, kOs for other failures.
Expected<Sid> ResolveLocalAccountSid(std::string_view name);

// True when `text` is a synthetic write SID as Stockade makes them: "S-1-5-21-a-b-c-d", four
// 32-bit values after 21 (the shape of an account SID in a machine domain, which access checks
// treat like any other SID).
bool IsSyntheticWriteSid(std::string_view text);

// "S-1-5-21-a-b-c-d" from four values (the write SID's format).
std::string FormatWriteSid(const std::uint32_t (&values)[4]);

}  // namespace stockade::provision::win

#endif  // STOCKADE_PROVISION_WIN_SID_H_
