// Security descriptors, ACLs and SDDL: reading and writing the DACL of files and folders, turning
// ACLs into SDDL for the journal and back, comparing what was read back with what was asked, and
// enabling a token privilege for the duration of a scope.
//
// ACEs are handled as their raw bytes plus the decoded type/flags/mask/SID, so that ACEs this
// code does not understand (object ACEs, callback ACEs, conditional ACEs) survive a
// read-modify-write unchanged.
#ifndef STOCKADE_PROVISION_WIN_SECURITY_H_
#define STOCKADE_PROVISION_WIN_SECURITY_H_

#include <windows.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "provision/win/sid.h"

namespace stockade::provision::win {

// FILE_GENERIC_READ | FILE_GENERIC_WRITE | FILE_GENERIC_EXECUTE | DELETE: "Modify" in Explorer,
// what a writable root grants. Deliberately without FILE_DELETE_CHILD, so that a protected
// subfolder cannot be removed through its parent's rights.
inline constexpr ACCESS_MASK kModifyMask = 0x001301BF;
// The rights that change a file or folder, without SYNCHRONIZE and READ_CONTROL (which
// FILE_GENERIC_WRITE contains and reads need: denying them would break reading too):
// FILE_WRITE_DATA/ADD_FILE | FILE_APPEND_DATA/ADD_SUBDIRECTORY | FILE_WRITE_EA |
// FILE_DELETE_CHILD | FILE_WRITE_ATTRIBUTES | DELETE | WRITE_DAC | WRITE_OWNER.
inline constexpr ACCESS_MASK kWriteRightsMask = 0x000D0156;
// FILE_ALL_ACCESS.
inline constexpr ACCESS_MASK kFullAccessMask = 0x001F01FF;
// OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE ("OICI").
inline constexpr BYTE kInheritToAll = OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE;

struct Ace {
  BYTE type = 0;   // ACCESS_ALLOWED_ACE_TYPE, ACCESS_DENIED_ACE_TYPE, SYSTEM_AUDIT_ACE_TYPE, ...
  BYTE flags = 0;  // inheritance and audit flags (OBJECT_INHERIT_ACE, INHERITED_ACE, ...)
  ACCESS_MASK mask = 0;
  // "S-1-..." for ACE types whose SID follows the mask (allow, deny, audit, alarm, label);
  // empty for the others, which are only ever copied through `raw`.
  std::string sid;
  std::vector<BYTE> raw;  // the whole ACE as stored in the ACL

  bool inherited() const { return (flags & INHERITED_ACE) != 0; }
  bool operator==(const Ace& other) const { return raw == other.raw; }
};

// Builds an allow / deny / audit ACE (type ACCESS_ALLOWED_ACE_TYPE, ACCESS_DENIED_ACE_TYPE or
// SYSTEM_AUDIT_ACE_TYPE). Errors: kInvalidArgument for another type.
Expected<Ace> MakeAce(BYTE type, BYTE flags, ACCESS_MASK mask, const Sid& sid);

// The ACEs of `acl` in order; an empty vector for a null ACL. Errors: kStateCorrupt when the
// ACL's ACEs do not fit its size.
Expected<std::vector<Ace>> ReadAces(const ACL* acl);

// "(A;OICI;0x1301bf;;;S-1-5-...)" -- an ACE in SDDL style, for messages.
std::string AceToString(const Ace& ace);
std::string AcesToString(const std::vector<Ace>& aces);

// An ACL built from ACEs, in a buffer with the alignment an ACL needs.
class AclBuffer {
 public:
  // Errors: kOs from InitializeAcl / AddAce.
  static Expected<AclBuffer> Build(const std::vector<Ace>& aces);
  PACL get() { return reinterpret_cast<PACL>(storage_.data()); }

 private:
  std::vector<std::uint64_t> storage_;
};

// The ACEs that were set on the object itself (INHERITED_ACE clear), in order.
std::vector<Ace> ExplicitAces(const std::vector<Ace>& aces);

// `aces` in canonical order: explicit deny ACEs, then the other explicit ACEs, then inherited
// ones, each group keeping its order. Windows evaluates ACEs in order, so a deny placed after an
// allow for the same right would be ignored.
std::vector<Ace> CanonicalOrder(std::vector<Ace> aces);

// True when `aces` hold an ACE of `type` for `sid` whose flags include `flags` (ignoring
// INHERITED_ACE) and whose mask includes `mask`. `explicit_only` skips inherited ACEs.
bool HasAce(const std::vector<Ace>& aces, BYTE type, BYTE flags, ACCESS_MASK mask,
            const std::string& sid, bool explicit_only);

// True when any ACE names one of `sids` (string SIDs compared by value).
bool NamesAnySid(const std::vector<Ace>& aces, const std::vector<std::string>& sids);

// What a file's or folder's security descriptor says about ownership and access.
struct SecurityInfo {
  std::string owner;            // "S-1-..."; empty when not read
  bool dacl_present = false;    // a NULL DACL (everyone full access) reads as false
  bool dacl_protected = false;  // SE_DACL_PROTECTED: inheritance from the parent is blocked
  std::vector<Ace> dacl;        // every ACE, inherited ones included
  std::string sddl;             // the same as SDDL ("O:...D:P(...)"), for the journal
};

// GetNamedSecurityInfoW(path, SE_FILE_OBJECT): owner (when `with_owner`) and DACL.
// Errors: kNotFound when the path does not exist, kPermissionDenied, kOs; the context names
// GetNamedSecurityInfoW and the path.
Expected<SecurityInfo> ReadFileSecurity(const std::string& path, bool with_owner);

// Parses journaled SDDL ("O:..D:P(..)") back into a SecurityInfo.
// Errors: kStateCorrupt naming ConvertStringSecurityDescriptorToSecurityDescriptorW.
Expected<SecurityInfo> ParseSecuritySddl(const std::string& sddl);

// SDDL for an owner (optional, "" for none) and a DACL with its protection flag.
Expected<std::string> FormatSecuritySddl(const std::string& owner, const std::vector<Ace>& dacl,
                                         bool dacl_protected);

// Parses and re-formats `sddl` with the given parts, so that two spellings of the same
// descriptor compare equal ("BA" vs "S-1-5-32-544", flag order). Errors: kInvalidArgument.
Expected<std::string> CanonicalSddl(const std::string& sddl, SECURITY_INFORMATION parts);

// Sets the DACL of `path` with SetNamedSecurityInfoW: the explicit ACEs of `aces` (inherited
// ones are dropped -- Windows re-derives them from the parent) and the protection flag, and the
// owner when `owner` is given. For a folder, Windows itself propagates inheritable ACEs to the
// existing children: one call here is one security write of ours, never a walk of the tree.
// Setting an owner other than the caller's own needs SeRestorePrivilege, enabled here for the
// call. Errors name SetNamedSecurityInfoW and the path.
Status WriteFileSecurity(const std::string& path, const std::vector<Ace>& aces, bool dacl_protected,
                         const std::optional<Sid>& owner = std::nullopt);

// "" when `actual` has the protection flag and exactly the explicit ACEs (in order) of
// `expected`; otherwise a sentence naming the first difference, for kVerificationFailed.
std::string DescribeDaclDifference(const std::string& what, bool expected_protected,
                                   const std::vector<Ace>& expected_explicit,
                                   const SecurityInfo& actual);

// SDDL of a SACL ("S:(AU;FA;...)"); "" for a null SACL.
Expected<std::string> SaclToSddl(const ACL* sacl);
// The ACEs of journaled SACL SDDL; empty for "". Errors: kStateCorrupt.
Expected<std::vector<Ace>> SaclAcesFromSddl(const std::string& sddl);

// Enables a privilege of the process token (SE_SECURITY_NAME, SE_RESTORE_NAME, ...) for the
// scope's lifetime and puts back the previous state when destroyed.
class PrivilegeScope {
 public:
  // Errors: kNotElevated when the token does not hold the privilege at all (not elevated);
  // kOs from OpenProcessToken / LookupPrivilegeValueW / AdjustTokenPrivileges.
  static Expected<PrivilegeScope> Enable(const wchar_t* privilege);
  PrivilegeScope(PrivilegeScope&& other) noexcept;
  PrivilegeScope& operator=(PrivilegeScope&&) = delete;
  PrivilegeScope(const PrivilegeScope&) = delete;
  PrivilegeScope& operator=(const PrivilegeScope&) = delete;
  ~PrivilegeScope();

 private:
  PrivilegeScope(HANDLE token, LUID luid, bool restore)
      : token_(token), luid_(luid), restore_(restore) {}
  HANDLE token_ = nullptr;  // owned
  LUID luid_{};
  bool restore_ = false;  // true when we enabled it and must disable it again
};

// Attributes of `path` without following a final reparse point's target.
// Errors: kNotFound when missing, kOs otherwise (GetFileAttributesW names the path).
Expected<DWORD> FileAttributes(const std::string& path);

// kPathInvalid when `path` is a symlink, junction or other reparse point: security writes
// through one would land on its target, outside what was asked.
Status RefuseReparsePoint(const std::string& path, const std::string& what);

}  // namespace stockade::provision::win

#endif  // STOCKADE_PROVISION_WIN_SECURITY_H_
