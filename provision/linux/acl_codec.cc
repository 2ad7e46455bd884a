#include "provision/linux/acl_codec.h"

#include <algorithm>
#include <cstring>

namespace stockade::provision::linux_os {
namespace {

constexpr std::uint32_t kXattrVersion = 0x0002;  // POSIX_ACL_XATTR_VERSION
constexpr size_t kHeaderSize = 4;
constexpr size_t kEntrySize = 8;

std::uint32_t ReadLe32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
std::uint16_t ReadLe16(const unsigned char* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
void PutLe32(std::string* out, std::uint32_t v) {
  out->push_back(static_cast<char>(v & 0xff));
  out->push_back(static_cast<char>((v >> 8) & 0xff));
  out->push_back(static_cast<char>((v >> 16) & 0xff));
  out->push_back(static_cast<char>((v >> 24) & 0xff));
}
void PutLe16(std::string* out, std::uint16_t v) {
  out->push_back(static_cast<char>(v & 0xff));
  out->push_back(static_cast<char>((v >> 8) & 0xff));
}

bool ValidTag(std::uint16_t t) {
  return t == 0x01 || t == 0x02 || t == 0x04 || t == 0x08 || t == 0x10 || t == 0x20;
}

int TagOrder(AclTag tag) { return static_cast<int>(tag); }

Expected<std::uint16_t> ParsePerm(std::string_view s, std::string_view entry) {
  std::uint16_t perm = 0;
  for (char c : s) {
    switch (c) {
      case 'r':
        perm |= kAclRead;
        break;
      case 'w':
        perm |= kAclWrite;
        break;
      case 'x':
        perm |= kAclExecute;
        break;
      case '-':
        break;
      default:
        return Error(ErrorCode::kInvalidArgument,
                     "ACL entry '" + std::string(entry) + "': bad permission character");
    }
  }
  return perm;
}

}  // namespace

Expected<Acl> DecodeAclXattr(const void* data, size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  if (size < kHeaderSize || (size - kHeaderSize) % kEntrySize != 0) {
    return Error(ErrorCode::kInvalidArgument, "ACL xattr has a bad size " + std::to_string(size));
  }
  if (ReadLe32(p) != kXattrVersion) {
    return Error(ErrorCode::kInvalidArgument, "ACL xattr has an unknown version");
  }
  Acl acl;
  acl.reserve((size - kHeaderSize) / kEntrySize);
  for (size_t off = kHeaderSize; off < size; off += kEntrySize) {
    std::uint16_t tag = ReadLe16(p + off);
    if (!ValidTag(tag)) return Error(ErrorCode::kInvalidArgument, "ACL xattr has a bad tag");
    AclEntry e{static_cast<AclTag>(tag), static_cast<std::uint16_t>(ReadLe16(p + off + 2) & 7),
               ReadLe32(p + off + 4)};
    if (e.tag != AclTag::kUser && e.tag != AclTag::kGroup) e.id = kAclUndefinedId;
    acl.push_back(e);
  }
  return acl;
}

void EncodeAclXattr(const Acl& acl, std::string* out) {
  out->clear();
  out->reserve(kHeaderSize + acl.size() * kEntrySize);
  PutLe32(out, kXattrVersion);
  for (const AclEntry& e : acl) {
    PutLe16(out, static_cast<std::uint16_t>(e.tag));
    PutLe16(out, e.perm);
    bool named = e.tag == AclTag::kUser || e.tag == AclTag::kGroup;
    PutLe32(out, named ? e.id : kAclUndefinedId);
  }
}

std::string PermString(std::uint16_t perm) {
  std::string s = "---";
  if (perm & kAclRead) s[0] = 'r';
  if (perm & kAclWrite) s[1] = 'w';
  if (perm & kAclExecute) s[2] = 'x';
  return s;
}

std::string AclToText(const Acl& acl) {
  std::string out;
  for (const AclEntry& e : acl) {
    if (!out.empty()) out += ',';
    switch (e.tag) {
      case AclTag::kUserObj:
        out += "u::";
        break;
      case AclTag::kUser:
        out += "u:" + std::to_string(e.id) + ":";
        break;
      case AclTag::kGroupObj:
        out += "g::";
        break;
      case AclTag::kGroup:
        out += "g:" + std::to_string(e.id) + ":";
        break;
      case AclTag::kMask:
        out += "m::";
        break;
      case AclTag::kOther:
        out += "o::";
        break;
    }
    out += PermString(e.perm);
  }
  return out;
}

Expected<Acl> AclFromText(std::string_view text) {
  Acl acl;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view entry = text.substr(start, end - start);
    start = end + 1;
    if (entry.empty()) {
      if (end == text.size()) break;
      return Error(ErrorCode::kInvalidArgument,
                   "ACL text '" + std::string(text) + "' has an empty entry");
    }
    size_t c1 = entry.find(':');
    size_t c2 = c1 == std::string_view::npos ? c1 : entry.find(':', c1 + 1);
    if (c2 == std::string_view::npos) {
      return Error(ErrorCode::kInvalidArgument,
                   "ACL entry '" + std::string(entry) + "' is not tag:qualifier:perms");
    }
    std::string_view type = entry.substr(0, c1);
    std::string_view qual = entry.substr(c1 + 1, c2 - c1 - 1);
    auto perm = ParsePerm(entry.substr(c2 + 1), entry);
    if (!perm.ok()) return perm.error();
    AclEntry e{AclTag::kOther, *perm, kAclUndefinedId};
    bool named = !qual.empty();
    if (type == "u" || type == "user") {
      e.tag = named ? AclTag::kUser : AclTag::kUserObj;
    } else if (type == "g" || type == "group") {
      e.tag = named ? AclTag::kGroup : AclTag::kGroupObj;
    } else if ((type == "m" || type == "mask") && !named) {
      e.tag = AclTag::kMask;
    } else if ((type == "o" || type == "other") && !named) {
      e.tag = AclTag::kOther;
    } else {
      return Error(ErrorCode::kInvalidArgument,
                   "ACL entry '" + std::string(entry) + "' has an unknown tag");
    }
    if (named) {
      std::uint64_t id = 0;
      for (char c : qual) {
        if (c < '0' || c > '9' || id > 0xfffffffeull) {
          return Error(ErrorCode::kInvalidArgument,
                       "ACL entry '" + std::string(entry) + "' needs a numeric id");
        }
        id = id * 10 + static_cast<std::uint64_t>(c - '0');
      }
      if (id >= kAclUndefinedId) {
        return Error(ErrorCode::kInvalidArgument,
                     "ACL entry '" + std::string(entry) + "' has an out-of-range id");
      }
      e.id = static_cast<std::uint32_t>(id);
    }
    acl.push_back(e);
  }
  return acl;
}

Acl MinimalAclFromMode(mode_t mode) {
  return {{AclTag::kUserObj, static_cast<std::uint16_t>((mode >> 6) & 7), kAclUndefinedId},
          {AclTag::kGroupObj, static_cast<std::uint16_t>((mode >> 3) & 7), kAclUndefinedId},
          {AclTag::kOther, static_cast<std::uint16_t>(mode & 7), kAclUndefinedId}};
}

bool IsMinimal(const Acl& acl) {
  for (const AclEntry& e : acl) {
    if (e.tag != AclTag::kUserObj && e.tag != AclTag::kGroupObj && e.tag != AclTag::kOther) {
      return false;
    }
  }
  return true;
}

void SortAcl(Acl* acl) {
  std::stable_sort(acl->begin(), acl->end(), [](const AclEntry& a, const AclEntry& b) {
    if (a.tag != b.tag) return TagOrder(a.tag) < TagOrder(b.tag);
    return a.id < b.id;
  });
}

void RecalculateMask(Acl* acl) {
  std::uint16_t mask = 0;
  bool named = false;
  for (const AclEntry& e : *acl) {
    if (e.tag == AclTag::kUser || e.tag == AclTag::kGroup) named = true;
    if (e.tag == AclTag::kUser || e.tag == AclTag::kGroup || e.tag == AclTag::kGroupObj) {
      mask |= e.perm;
    }
  }
  auto it = std::find_if(acl->begin(), acl->end(),
                         [](const AclEntry& e) { return e.tag == AclTag::kMask; });
  if (!named) {
    if (it != acl->end()) acl->erase(it);
    return;
  }
  if (it != acl->end()) {
    it->perm = mask;
  } else {
    acl->push_back({AclTag::kMask, mask, kAclUndefinedId});
    SortAcl(acl);
  }
}

bool AclAllows(const Acl& acl, uid_t owner, gid_t group, const AclSubject& who,
               std::uint16_t want) {
  std::uint16_t mask = 7;
  for (const AclEntry& e : acl) {
    if (e.tag == AclTag::kMask) mask = e.perm;
  }
  auto in_groups = [&](gid_t g) {
    return std::find(who.gids.begin(), who.gids.end(), g) != who.gids.end();
  };
  for (const AclEntry& e : acl) {
    if (e.tag == AclTag::kUserObj && who.uid && *who.uid == owner) return (e.perm & want) == want;
  }
  for (const AclEntry& e : acl) {
    if (e.tag == AclTag::kUser && who.uid && *who.uid == e.id) {
      return (e.perm & mask & want) == want;
    }
  }
  bool matched = false;
  for (const AclEntry& e : acl) {
    if ((e.tag == AclTag::kGroupObj && in_groups(group)) ||
        (e.tag == AclTag::kGroup && in_groups(e.id))) {
      matched = true;
      if ((e.perm & want) == want) return (mask & want) == want;
    }
  }
  if (matched) return false;
  for (const AclEntry& e : acl) {
    if (e.tag == AclTag::kOther) return (e.perm & want) == want;
  }
  return false;
}

std::uint16_t EffectivePerms(const Acl& acl, uid_t owner, gid_t group, const AclSubject& who) {
  std::uint16_t out = 0;
  for (std::uint16_t bit : {kAclRead, kAclWrite, kAclExecute}) {
    if (AclAllows(acl, owner, group, who, bit)) out |= bit;
  }
  return out;
}

}  // namespace stockade::provision::linux_os
