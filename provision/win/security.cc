#include "provision/win/security.h"

#include <aclapi.h>
#include <sddl.h>

#include <cstdio>
#include <cstring>

#include "provision/win/handles.h"
#include "provision/win/win_util.h"

namespace stockade::provision::win {

namespace {

// ACE types whose layout is header, mask, SID (ACCESS_ALLOWED_ACE and its relatives).
bool HasPlainSid(BYTE type) {
  switch (type) {
    case ACCESS_ALLOWED_ACE_TYPE:
    case ACCESS_DENIED_ACE_TYPE:
    case SYSTEM_AUDIT_ACE_TYPE:
    case SYSTEM_ALARM_ACE_TYPE:
    case SYSTEM_MANDATORY_LABEL_ACE_TYPE:
      return true;
    default:
      return false;
  }
}

const char* TypeLetters(BYTE type) {
  switch (type) {
    case ACCESS_ALLOWED_ACE_TYPE:
      return "A";
    case ACCESS_DENIED_ACE_TYPE:
      return "D";
    case SYSTEM_AUDIT_ACE_TYPE:
      return "AU";
    case SYSTEM_ALARM_ACE_TYPE:
      return "AL";
    case SYSTEM_MANDATORY_LABEL_ACE_TYPE:
      return "ML";
    default:
      return nullptr;
  }
}

std::string FlagLetters(BYTE flags) {
  std::string out;
  if (flags & OBJECT_INHERIT_ACE) out += "OI";
  if (flags & CONTAINER_INHERIT_ACE) out += "CI";
  if (flags & NO_PROPAGATE_INHERIT_ACE) out += "NP";
  if (flags & INHERIT_ONLY_ACE) out += "IO";
  if (flags & INHERITED_ACE) out += "ID";
  if (flags & SUCCESSFUL_ACCESS_ACE_FLAG) out += "SA";
  if (flags & FAILED_ACCESS_ACE_FLAG) out += "FA";
  return out;
}

// The SDDL of a descriptor's `parts`.
Expected<std::string> ToSddl(PSECURITY_DESCRIPTOR sd, SECURITY_INFORMATION parts) {
  wchar_t* raw = nullptr;
  const BOOL ok = ConvertSecurityDescriptorToStringSecurityDescriptorW(sd, SDDL_REVISION_1, parts,
                                                                       &raw, nullptr);
  LocalPtr<wchar_t> owned(raw);
  if (!ok) return LastWin32Error("ConvertSecurityDescriptorToStringSecurityDescriptorW");
  return Utf8(raw);
}

Expected<LocalPtr<void>> FromSddl(const std::string& sddl, ErrorCode code) {
  PSECURITY_DESCRIPTOR raw = nullptr;
  const BOOL ok = ConvertStringSecurityDescriptorToSecurityDescriptorW(
      Wide(sddl).c_str(), SDDL_REVISION_1, &raw, nullptr);
  LocalPtr<void> owned(raw);
  if (!ok) {
    return Win32Error(code, "ConvertStringSecurityDescriptorToSecurityDescriptorW('" + sddl + "')",
                      GetLastError());
  }
  return owned;
}

// Fills a SecurityInfo from a descriptor (owner, DACL, protection, SDDL).
Expected<SecurityInfo> Describe(PSECURITY_DESCRIPTOR sd, bool with_owner) {
  SecurityInfo info;
  SECURITY_DESCRIPTOR_CONTROL control = 0;
  DWORD revision = 0;
  if (!GetSecurityDescriptorControl(sd, &control, &revision)) {
    return LastWin32Error("GetSecurityDescriptorControl");
  }
  info.dacl_protected = (control & SE_DACL_PROTECTED) != 0;
  BOOL present = FALSE;
  BOOL defaulted = FALSE;
  PACL dacl = nullptr;
  if (!GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted)) {
    return LastWin32Error("GetSecurityDescriptorDacl");
  }
  info.dacl_present = present && dacl != nullptr;
  if (info.dacl_present) {
    auto aces = ReadAces(dacl);
    if (!aces.ok()) return aces.error();
    info.dacl = std::move(*aces);
  }
  SECURITY_INFORMATION parts = DACL_SECURITY_INFORMATION;
  if (with_owner) {
    PSID owner = nullptr;
    if (!GetSecurityDescriptorOwner(sd, &owner, &defaulted)) {
      return LastWin32Error("GetSecurityDescriptorOwner");
    }
    if (owner != nullptr) {
      auto sid = Sid::FromPsid(owner);
      if (!sid.ok()) return sid.error();
      info.owner = sid->ToString();
      parts |= OWNER_SECURITY_INFORMATION;
    }
  }
  auto sddl = ToSddl(sd, parts);
  if (!sddl.ok()) return sddl.error();
  info.sddl = std::move(*sddl);
  return info;
}

}  // namespace

Expected<Ace> MakeAce(BYTE type, BYTE flags, ACCESS_MASK mask, const Sid& sid) {
  if (type != ACCESS_ALLOWED_ACE_TYPE && type != ACCESS_DENIED_ACE_TYPE &&
      type != SYSTEM_AUDIT_ACE_TYPE) {
    return Error(ErrorCode::kInvalidArgument,
                 "MakeAce: unsupported ACE type " + std::to_string(type));
  }
  // ACCESS_ALLOWED_ACE, ACCESS_DENIED_ACE and SYSTEM_AUDIT_ACE share one layout: header, mask,
  // then the SID where the SidStart member begins.
  const DWORD size = static_cast<DWORD>(offsetof(ACCESS_ALLOWED_ACE, SidStart)) + sid.size();
  Ace ace;
  ace.type = type;
  ace.flags = flags;
  ace.mask = mask;
  ace.sid = sid.ToString();
  ace.raw.assign(size, 0);
  ACE_HEADER header{type, flags, static_cast<WORD>(size)};
  std::memcpy(ace.raw.data(), &header, sizeof header);
  std::memcpy(ace.raw.data() + offsetof(ACCESS_ALLOWED_ACE, Mask), &mask, sizeof mask);
  std::memcpy(ace.raw.data() + offsetof(ACCESS_ALLOWED_ACE, SidStart), sid.get(), sid.size());
  return ace;
}

Expected<std::vector<Ace>> ReadAces(const ACL* acl) {
  std::vector<Ace> out;
  if (acl == nullptr) return out;
  const BYTE* base = reinterpret_cast<const BYTE*>(acl);
  std::size_t offset = sizeof(ACL);
  for (WORD i = 0; i < acl->AceCount; ++i) {
    if (offset + sizeof(ACE_HEADER) > acl->AclSize) {
      return Error(ErrorCode::kStateCorrupt,
                   "ACL: ACE " + std::to_string(i) + " lies outside the ACL");
    }
    ACE_HEADER header;
    std::memcpy(&header, base + offset, sizeof header);
    if (header.AceSize < sizeof(ACE_HEADER) || offset + header.AceSize > acl->AclSize) {
      return Error(ErrorCode::kStateCorrupt, "ACL: ACE " + std::to_string(i) + " has a bad size");
    }
    Ace ace;
    ace.type = header.AceType;
    ace.flags = header.AceFlags;
    ace.raw.assign(base + offset, base + offset + header.AceSize);
    if (header.AceSize >= offsetof(ACCESS_ALLOWED_ACE, SidStart)) {
      std::memcpy(&ace.mask, ace.raw.data() + offsetof(ACCESS_ALLOWED_ACE, Mask), sizeof ace.mask);
    }
    if (HasPlainSid(ace.type) && header.AceSize > offsetof(ACCESS_ALLOWED_ACE, SidStart)) {
      PSID sid = ace.raw.data() + offsetof(ACCESS_ALLOWED_ACE, SidStart);
      if (IsValidSid(sid)) {
        auto parsed = Sid::FromPsid(sid);
        if (parsed.ok()) ace.sid = parsed->ToString();
      }
    }
    out.push_back(std::move(ace));
    offset += header.AceSize;
  }
  return out;
}

std::string AceToString(const Ace& ace) {
  const char* letters = TypeLetters(ace.type);
  char mask[16];
  std::snprintf(mask, sizeof mask, "0x%lx", static_cast<unsigned long>(ace.mask));
  std::string out = "(";
  out += letters != nullptr ? letters : ("type" + std::to_string(ace.type));
  out +=
      ";" + FlagLetters(ace.flags) + ";" + mask + ";;;" + (ace.sid.empty() ? "?" : ace.sid) + ")";
  return out;
}

std::string AcesToString(const std::vector<Ace>& aces) {
  std::string out;
  for (const Ace& ace : aces) out += AceToString(ace);
  return out.empty() ? "(none)" : out;
}

Expected<AclBuffer> AclBuffer::Build(const std::vector<Ace>& aces) {
  std::size_t size = sizeof(ACL);
  for (const Ace& ace : aces) size += ace.raw.size();
  size = (size + sizeof(DWORD) - 1) & ~(sizeof(DWORD) - 1);
  if (size > 0xFFFF) {
    return Error(ErrorCode::kInvalidArgument,
                 "ACL of " + std::to_string(aces.size()) + " ACEs exceeds 64 KiB");
  }
  AclBuffer buffer;
  buffer.storage_.assign((size + sizeof(std::uint64_t) - 1) / sizeof(std::uint64_t), 0);
  // ACL_REVISION_DS admits object ACEs; it is also valid for ACLs holding only plain ACEs.
  BYTE revision = ACL_REVISION;
  for (const Ace& ace : aces) {
    if (ace.type > ACCESS_MAX_MS_V2_ACE_TYPE) revision = ACL_REVISION_DS;
  }
  if (!InitializeAcl(buffer.get(), static_cast<DWORD>(size), revision)) {
    return LastWin32Error("InitializeAcl");
  }
  for (const Ace& ace : aces) {
    if (!AddAce(buffer.get(), revision, MAXDWORD, const_cast<BYTE*>(ace.raw.data()),
                static_cast<DWORD>(ace.raw.size()))) {
      return LastWin32Error("AddAce" + AceToString(ace));
    }
  }
  return buffer;
}

std::vector<Ace> ExplicitAces(const std::vector<Ace>& aces) {
  std::vector<Ace> out;
  for (const Ace& ace : aces) {
    if (!ace.inherited()) out.push_back(ace);
  }
  return out;
}

std::vector<Ace> CanonicalOrder(std::vector<Ace> aces) {
  std::vector<Ace> out;
  out.reserve(aces.size());
  for (const Ace& ace : aces) {
    if (!ace.inherited() && ace.type == ACCESS_DENIED_ACE_TYPE) out.push_back(ace);
  }
  for (const Ace& ace : aces) {
    if (!ace.inherited() && ace.type != ACCESS_DENIED_ACE_TYPE) out.push_back(ace);
  }
  for (const Ace& ace : aces) {
    if (ace.inherited()) out.push_back(ace);
  }
  return out;
}

bool HasAce(const std::vector<Ace>& aces, BYTE type, BYTE flags, ACCESS_MASK mask,
            const std::string& sid, bool explicit_only) {
  const BYTE wanted = static_cast<BYTE>(flags & ~INHERITED_ACE);
  for (const Ace& ace : aces) {
    if (ace.type != type || (explicit_only && ace.inherited())) continue;
    if ((ace.flags & wanted) != wanted || (ace.mask & mask) != mask) continue;
    if (SameSid(ace.sid, sid)) return true;
  }
  return false;
}

bool NamesAnySid(const std::vector<Ace>& aces, const std::vector<std::string>& sids) {
  for (const Ace& ace : aces) {
    for (const std::string& sid : sids) {
      if (!ace.sid.empty() && SameSid(ace.sid, sid)) return true;
    }
  }
  return false;
}

Expected<SecurityInfo> ReadFileSecurity(const std::string& path, bool with_owner) {
  PSECURITY_DESCRIPTOR raw = nullptr;
  SECURITY_INFORMATION parts = DACL_SECURITY_INFORMATION;
  if (with_owner) parts |= OWNER_SECURITY_INFORMATION;
  PSID owner = nullptr;
  PACL dacl = nullptr;
  const DWORD rc =
      GetNamedSecurityInfoW(Wide(path).c_str(), SE_FILE_OBJECT, parts,
                            with_owner ? &owner : nullptr, nullptr, &dacl, nullptr, &raw);
  LocalPtr<void> sd(raw);
  if (rc != ERROR_SUCCESS) return Win32Error("GetNamedSecurityInfoW(" + path + ")", rc);
  auto info = Describe(sd.get(), with_owner);
  if (!info.ok()) return info.error().Wrap("GetNamedSecurityInfoW(" + path + ")");
  return info;
}

Expected<SecurityInfo> ParseSecuritySddl(const std::string& sddl) {
  auto sd = FromSddl(sddl, ErrorCode::kStateCorrupt);
  if (!sd.ok()) return sd.error();
  return Describe(sd->get(), sddl.rfind("O:", 0) == 0);
}

Expected<std::string> FormatSecuritySddl(const std::string& owner, const std::vector<Ace>& dacl,
                                         bool dacl_protected) {
  SECURITY_DESCRIPTOR sd;
  if (!InitializeSecurityDescriptor(&sd, SECURITY_DESCRIPTOR_REVISION)) {
    return LastWin32Error("InitializeSecurityDescriptor");
  }
  auto acl = AclBuffer::Build(dacl);
  if (!acl.ok()) return acl.error();
  if (!SetSecurityDescriptorDacl(&sd, TRUE, acl->get(), FALSE)) {
    return LastWin32Error("SetSecurityDescriptorDacl");
  }
  if (dacl_protected && !SetSecurityDescriptorControl(&sd, SE_DACL_PROTECTED, SE_DACL_PROTECTED)) {
    return LastWin32Error("SetSecurityDescriptorControl");
  }
  SECURITY_INFORMATION parts = DACL_SECURITY_INFORMATION;
  std::optional<Sid> owner_sid;
  if (!owner.empty()) {
    auto parsed = Sid::FromString(owner);
    if (!parsed.ok()) return parsed.error();
    owner_sid = *parsed;
    if (!SetSecurityDescriptorOwner(&sd, owner_sid->get(), FALSE)) {
      return LastWin32Error("SetSecurityDescriptorOwner");
    }
    parts |= OWNER_SECURITY_INFORMATION;
  }
  return ToSddl(&sd, parts);
}

Expected<std::string> CanonicalSddl(const std::string& sddl, SECURITY_INFORMATION parts) {
  auto sd = FromSddl(sddl, ErrorCode::kInvalidArgument);
  if (!sd.ok()) return sd.error();
  return ToSddl(sd->get(), parts);
}

Status WriteFileSecurity(const std::string& path, const std::vector<Ace>& aces, bool dacl_protected,
                         const std::optional<Sid>& owner) {
  auto acl = AclBuffer::Build(ExplicitAces(aces));
  if (!acl.ok()) return acl.error().Wrap("SetNamedSecurityInfoW(" + path + ")");
  SECURITY_INFORMATION parts =
      DACL_SECURITY_INFORMATION | (dacl_protected ? PROTECTED_DACL_SECURITY_INFORMATION
                                                  : UNPROTECTED_DACL_SECURITY_INFORMATION);
  std::optional<PrivilegeScope> restore;
  if (owner.has_value()) {
    parts |= OWNER_SECURITY_INFORMATION;
    // Only an owner in the caller's own token may be set without SeRestorePrivilege; restoring
    // a journaled owner (another user, TrustedInstaller) needs it.
    auto privilege = PrivilegeScope::Enable(SE_RESTORE_NAME);
    if (!privilege.ok()) return privilege.error().Wrap("SetNamedSecurityInfoW(" + path + ") owner");
    restore.emplace(std::move(*privilege));
  }
  std::wstring wpath = Wide(path);
  const DWORD rc = SetNamedSecurityInfoW(wpath.data(), SE_FILE_OBJECT, parts,
                                         owner.has_value() ? owner->get() : nullptr, nullptr,
                                         acl->get(), nullptr);
  if (rc != ERROR_SUCCESS) return Win32Error("SetNamedSecurityInfoW(" + path + ")", rc);
  return OkStatus();
}

std::string DescribeDaclDifference(const std::string& what, bool expected_protected,
                                   const std::vector<Ace>& expected_explicit,
                                   const SecurityInfo& actual) {
  if (!actual.dacl_present) return what + " has no DACL (everyone has full access)";
  const std::vector<Ace> actual_explicit = ExplicitAces(actual.dacl);
  if (actual_explicit != expected_explicit) {
    return what + " has explicit ACEs " + AcesToString(actual_explicit) + ", expected " +
           AcesToString(expected_explicit) + " (read back: " + actual.sddl + ")";
  }
  if (actual.dacl_protected != expected_protected) {
    return what + "'s DACL is " + (actual.dacl_protected ? "" : "not ") +
           "protected from inheritance, expected " + (expected_protected ? "" : "not ") +
           "protected (read back: " + actual.sddl + ")";
  }
  return "";
}

Expected<std::string> SaclToSddl(const ACL* sacl) {
  if (sacl == nullptr) return std::string();
  SECURITY_DESCRIPTOR sd;
  if (!InitializeSecurityDescriptor(&sd, SECURITY_DESCRIPTOR_REVISION)) {
    return LastWin32Error("InitializeSecurityDescriptor");
  }
  if (!SetSecurityDescriptorSacl(&sd, TRUE, const_cast<ACL*>(sacl), FALSE)) {
    return LastWin32Error("SetSecurityDescriptorSacl");
  }
  return ToSddl(&sd, SACL_SECURITY_INFORMATION);
}

Expected<std::vector<Ace>> SaclAcesFromSddl(const std::string& sddl) {
  if (sddl.empty()) return std::vector<Ace>();
  auto sd = FromSddl(sddl, ErrorCode::kStateCorrupt);
  if (!sd.ok()) return sd.error();
  BOOL present = FALSE;
  BOOL defaulted = FALSE;
  PACL sacl = nullptr;
  if (!GetSecurityDescriptorSacl(sd->get(), &present, &sacl, &defaulted)) {
    return LastWin32Error("GetSecurityDescriptorSacl");
  }
  return ReadAces(present ? sacl : nullptr);
}

Expected<PrivilegeScope> PrivilegeScope::Enable(const wchar_t* privilege) {
  const std::string name = Utf8(privilege);
  HANDLE raw = nullptr;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY, &raw)) {
    return LastWin32Error("OpenProcessToken(" + name + ")");
  }
  UniqueHandle token(raw);
  LUID luid{};
  if (!LookupPrivilegeValueW(nullptr, privilege, &luid)) {
    return LastWin32Error("LookupPrivilegeValueW(" + name + ")");
  }
  TOKEN_PRIVILEGES wanted{1, {{luid, SE_PRIVILEGE_ENABLED}}};
  TOKEN_PRIVILEGES previous{};
  DWORD previous_size = sizeof previous;
  if (!AdjustTokenPrivileges(token.get(), FALSE, &wanted, sizeof previous, &previous,
                             &previous_size)) {
    return LastWin32Error("AdjustTokenPrivileges(" + name + ")");
  }
  // AdjustTokenPrivileges succeeds without enabling a privilege the token does not hold.
  if (GetLastError() == ERROR_NOT_ALL_ASSIGNED) {
    return Win32Error(ErrorCode::kNotElevated,
                      "AdjustTokenPrivileges(" + name +
                          "): the process token does not hold this privilege (run elevated)",
                      ERROR_NOT_ALL_ASSIGNED);
  }
  // `previous` lists the privilege only when its state changed, i.e. it was disabled before.
  const bool restore = previous.PrivilegeCount == 1 &&
                       (previous.Privileges[0].Attributes & SE_PRIVILEGE_ENABLED) == 0;
  return PrivilegeScope(token.release(), luid, restore);
}

PrivilegeScope::PrivilegeScope(PrivilegeScope&& other) noexcept
    : token_(std::exchange(other.token_, nullptr)),
      luid_(other.luid_),
      restore_(std::exchange(other.restore_, false)) {}

PrivilegeScope::~PrivilegeScope() {
  if (token_ == nullptr) return;
  if (restore_) {
    TOKEN_PRIVILEGES disable{1, {{luid_, 0}}};
    AdjustTokenPrivileges(token_, FALSE, &disable, 0, nullptr, nullptr);
  }
  CloseHandle(token_);
}

Expected<DWORD> FileAttributes(const std::string& path) {
  const DWORD attributes = GetFileAttributesW(Wide(path).c_str());
  if (attributes == INVALID_FILE_ATTRIBUTES)
    return LastWin32Error("GetFileAttributesW(" + path + ")");
  return attributes;
}

Status RefuseReparsePoint(const std::string& path, const std::string& what) {
  auto attributes = FileAttributes(path);
  if (!attributes.ok()) return attributes.error();
  if (*attributes & FILE_ATTRIBUTE_REPARSE_POINT) {
    return Error(ErrorCode::kPathInvalid,
                 what + " " + path +
                     " is a symbolic link, junction or other reparse point (GetFileAttributesW: "
                     "FILE_ATTRIBUTE_REPARSE_POINT): refused, its ACL changes would apply to "
                     "the link's target");
  }
  return OkStatus();
}

}  // namespace stockade::provision::win
