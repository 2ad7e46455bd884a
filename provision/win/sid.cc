#include "provision/win/sid.h"

#include <sddl.h>

#include <charconv>

#include "provision/win/handles.h"
#include "provision/win/win_util.h"

namespace stockade::provision::win {

Expected<Sid> Sid::FromString(std::string_view text) {
  // Wine's ConvertStringSidToSidW accepts "" (Windows refuses it with ERROR_INVALID_SID).
  if (text.empty()) {
    return Win32Error(ErrorCode::kInvalidArgument, "ConvertStringSidToSidW('')", ERROR_INVALID_SID);
  }
  PSID raw = nullptr;
  const BOOL ok = ConvertStringSidToSidW(Wide(text).c_str(), &raw);
  LocalPtr<void> owned(raw);
  if (!ok) {
    return Win32Error(ErrorCode::kInvalidArgument,
                      "ConvertStringSidToSidW('" + std::string(text) + "')", GetLastError());
  }
  return FromPsid(raw);
}

Expected<Sid> Sid::FromPsid(PSID sid) {
  if (sid == nullptr || !IsValidSid(sid)) {
    return Error(ErrorCode::kInvalidArgument, "IsValidSid: not a valid SID");
  }
  const DWORD length = GetLengthSid(sid);
  std::vector<BYTE> bytes(length);
  if (!CopySid(length, bytes.data(), sid)) return LastWin32Error("CopySid");
  return Sid(std::move(bytes));
}

Expected<Sid> Sid::WellKnown(WELL_KNOWN_SID_TYPE type) {
  std::vector<BYTE> bytes(SECURITY_MAX_SID_SIZE);
  DWORD size = SECURITY_MAX_SID_SIZE;
  if (!CreateWellKnownSid(type, nullptr, bytes.data(), &size)) {
    return LastWin32Error("CreateWellKnownSid(" + std::to_string(static_cast<int>(type)) + ")");
  }
  bytes.resize(size);
  return Sid(std::move(bytes));
}

std::string Sid::ToString() const {
  wchar_t* raw = nullptr;
  const BOOL ok = ConvertSidToStringSidW(get(), &raw);
  LocalPtr<wchar_t> owned(raw);
  // Only fails on an invalid SID or out of memory; every Sid is validated on construction.
  return ok ? Utf8(raw) : std::string("S-?");
}

bool SameSid(std::string_view a, std::string_view b) {
  auto sa = Sid::FromString(a);
  auto sb = Sid::FromString(b);
  return sa.ok() && sb.ok() && *sa == *sb;
}

const char* SidUseName(SID_NAME_USE use) {
  switch (use) {
    case SidTypeUser:
      return "user";
    case SidTypeGroup:
      return "domain group";
    case SidTypeDomain:
      return "domain";
    case SidTypeAlias:
      return "local group";
    case SidTypeWellKnownGroup:
      return "well-known group";
    case SidTypeDeletedAccount:
      return "deleted account";
    case SidTypeInvalid:
      return "invalid account";
    case SidTypeComputer:
      return "computer";
    case SidTypeLabel:
      return "integrity label";
    default:
      return "unknown account type";
  }
}

namespace {

bool IsLocalDomain(const std::string& domain, const std::string& computer) {
  return domain.empty() || EqualsIgnoreCase(domain, computer) ||
         EqualsIgnoreCase(domain, "BUILTIN") || EqualsIgnoreCase(domain, "NT AUTHORITY");
}

}  // namespace

Expected<std::optional<Account>> LookupAccountByName(std::string_view name) {
  const std::wstring wname = Wide(name);
  std::vector<BYTE> sid(SECURITY_MAX_SID_SIZE);
  DWORD sid_size = SECURITY_MAX_SID_SIZE;
  std::wstring domain(256, L'\0');
  DWORD domain_size = 256;
  SID_NAME_USE use = SidTypeUnknown;
  BOOL ok = LookupAccountNameW(nullptr, wname.c_str(), sid.data(), &sid_size, domain.data(),
                               &domain_size, &use);
  if (!ok && GetLastError() == ERROR_INSUFFICIENT_BUFFER) {
    sid.resize(sid_size);
    domain.resize(domain_size);
    ok = LookupAccountNameW(nullptr, wname.c_str(), sid.data(), &sid_size, domain.data(),
                            &domain_size, &use);
  }
  if (!ok) {
    const DWORD err = GetLastError();
    if (err == ERROR_NONE_MAPPED) return std::optional<Account>();
    return Win32Error("LookupAccountNameW(" + std::string(name) + ")", err);
  }
  auto parsed = Sid::FromPsid(sid.data());
  if (!parsed.ok()) return parsed.error().Wrap("LookupAccountNameW(" + std::string(name) + ")");
  domain.resize(domain_size);
  // LookupAccountNameW does not return the canonical spelling; the name as asked is kept.
  return std::optional<Account>(Account{*parsed, Utf8(domain), std::string(name), use});
}

Expected<std::optional<Account>> LookupLocalAccount(std::string_view name) {
  auto found = LookupAccountByName(name);
  if (!found.ok() || !found->has_value()) return found;
  auto computer = ComputerName();
  if (!computer.ok()) return computer.error();
  if (!IsLocalDomain((*found)->domain, *computer)) return std::optional<Account>();
  return found;
}

Expected<std::optional<Account>> LookupAccountBySid(const Sid& sid) {
  std::wstring name(256, L'\0');
  std::wstring domain(256, L'\0');
  DWORD name_size = 256;
  DWORD domain_size = 256;
  SID_NAME_USE use = SidTypeUnknown;
  BOOL ok = LookupAccountSidW(nullptr, sid.get(), name.data(), &name_size, domain.data(),
                              &domain_size, &use);
  if (!ok && GetLastError() == ERROR_INSUFFICIENT_BUFFER) {
    name.resize(name_size);
    domain.resize(domain_size);
    ok = LookupAccountSidW(nullptr, sid.get(), name.data(), &name_size, domain.data(), &domain_size,
                           &use);
  }
  if (!ok) {
    const DWORD err = GetLastError();
    if (err == ERROR_NONE_MAPPED) return std::optional<Account>();
    return Win32Error("LookupAccountSidW(" + sid.ToString() + ")", err);
  }
  name.resize(name_size);
  domain.resize(domain_size);
  return std::optional<Account>(Account{sid, Utf8(domain), Utf8(name), use});
}

Expected<Sid> ResolveLocalAccountSid(std::string_view name) {
  auto found = LookupLocalAccount(name);
  if (!found.ok()) return found.error();
  if (!found->has_value()) {
    return Win32Error(ErrorCode::kNotFound,
                      "LookupAccountNameW(" + std::string(name) + "): no local account",
                      ERROR_NONE_MAPPED);
  }
  return (*found)->sid;
}

bool IsSyntheticWriteSid(std::string_view text) {
  constexpr std::string_view kPrefix = "S-1-5-21-";
  if (text.substr(0, kPrefix.size()) != kPrefix) return false;
  std::string_view rest = text.substr(kPrefix.size());
  for (int i = 0; i < 4; ++i) {
    std::uint32_t value = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
    if (ec != std::errc() || end == rest.data()) return false;
    // No leading zeros or signs: the text must be what FormatWriteSid produces, so that the
    // registry and the journal hold exactly one spelling of each SID.
    const std::size_t digits = static_cast<std::size_t>(end - rest.data());
    if (digits > 1 && rest.front() == '0') return false;
    rest.remove_prefix(digits);
    if (i < 3) {
      if (rest.empty() || rest.front() != '-') return false;
      rest.remove_prefix(1);
    }
  }
  return rest.empty() && Sid::FromString(text).ok();
}

std::string FormatWriteSid(const std::uint32_t (&values)[4]) {
  std::string out = "S-1-5-21";
  for (std::uint32_t v : values) out += "-" + std::to_string(v);
  return out;
}

}  // namespace stockade::provision::win
