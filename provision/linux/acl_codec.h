// POSIX ACLs as the kernel stores them ("system.posix_acl_access" / "system.posix_acl_default"
// extended attributes, format of <linux/posix_acl_xattr.h>), their short text form and the
// kernel's permission rule. The tree walker uses these directly instead of libacl's path calls:
// acl_get_file/acl_set_file resolve a path and follow a symlink in its last component, and have
// no fd-relative form for default ACLs, which a root process walking a tree that the sandbox
// could write must not do. Text forms are those of libacl (acl_to_any_text with
// TEXT_ABBREVIATE | TEXT_NUMERIC_IDS, ',' separated), so `setfacl --set` accepts them.
#ifndef STOCKADE_PROVISION_LINUX_ACL_CODEC_H_
#define STOCKADE_PROVISION_LINUX_ACL_CODEC_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace stockade::provision::linux_os {

inline constexpr char kAccessAclXattr[] = "system.posix_acl_access";
inline constexpr char kDefaultAclXattr[] = "system.posix_acl_default";

enum class AclTag : std::uint16_t {
  kUserObj = 0x01,
  kUser = 0x02,
  kGroupObj = 0x04,
  kGroup = 0x08,
  kMask = 0x10,
  kOther = 0x20,
};

inline constexpr std::uint16_t kAclRead = 4, kAclWrite = 2, kAclExecute = 1;
inline constexpr std::uint32_t kAclUndefinedId = 0xffffffffu;

struct AclEntry {
  AclTag tag;
  std::uint16_t perm;  // kAclRead | kAclWrite | kAclExecute
  std::uint32_t id;    // uid/gid for kUser/kGroup, kAclUndefinedId otherwise
  bool operator==(const AclEntry&) const = default;
};

// Entries in the order the kernel stores them (and getfacl prints them).
using Acl = std::vector<AclEntry>;

// Decodes an ACL xattr value. kInvalidArgument when the header or size is wrong.
Expected<Acl> DecodeAclXattr(const void* data, size_t size);
// Encodes `acl` as an xattr value (appends to `out` after clearing it).
void EncodeAclXattr(const Acl& acl, std::string* out);

// "u::rwx,u:1001:rwx,g::r-x,m::rwx,o::r-x".
std::string AclToText(const Acl& acl);
// Parses the form above (also accepts "user:", "group:", "mask:", "other:" and no-perm "-").
// kInvalidArgument naming the offending entry.
Expected<Acl> AclFromText(std::string_view text);

// The minimal ACL equivalent to the permission bits of `mode` (u::, g::, o::).
Acl MinimalAclFromMode(mode_t mode);
// True when `acl` has only the three base entries (what a file without an ACL xattr has).
bool IsMinimal(const Acl& acl);

// Sorts entries into the canonical order (tag, then id), as libacl writes them.
void SortAcl(Acl* acl);
// Sets the mask entry to the union of the group-class entries (named users, owning group, named
// groups), adding it when there are named entries, removing it when there are none: what
// setfacl does unless -n is given.
void RecalculateMask(Acl* acl);

// Who is asking, for EffectivePerms: a uid and every group it is in.
struct AclSubject {
  std::optional<uid_t> uid;  // nullopt: matches no owner or named-user entry
  std::vector<gid_t> gids;
};

// The kernel's POSIX ACL check (posix_acl_permission) for a request of `want` bits by `who` on a
// file owned by owner:group: the owner entry, else a named-user entry & mask, else a single
// matching group entry (owning or named) that holds all of `want` & mask, else other. Root's
// capabilities are not considered.
bool AclAllows(const Acl& acl, uid_t owner, gid_t group, const AclSubject& who, std::uint16_t want);
// The bits that AclAllows grants one at a time (r, w, x each on its own).
std::uint16_t EffectivePerms(const Acl& acl, uid_t owner, gid_t group, const AclSubject& who);

// "rwx" / "r-x" / "---" for a permission set.
std::string PermString(std::uint16_t perm);

}  // namespace stockade::provision::linux_os

#endif  // STOCKADE_PROVISION_LINUX_ACL_CODEC_H_
