#include "provision/win/workspace_grant_step.h"

#include "core/log/logging.h"
#include "core/paths/path_rules.h"
#include "provision/win/params.h"
#include "provision/win/sid.h"
#include "provision/win/win_util.h"

namespace stockade::provision::win {

namespace {

constexpr auto kStyle = paths::PathStyle::kWindows;

// An allow ACE that applies to the object itself and is inherited by files and folders below,
// with at least the Modify rights.
bool GrantsModify(const std::vector<Ace>& aces, const Sid& sid) {
  for (const Ace& ace : aces) {
    if (ace.type != ACCESS_ALLOWED_ACE_TYPE || (ace.flags & INHERIT_ONLY_ACE) != 0) continue;
    if ((ace.flags & kInheritToAll) != kInheritToAll) continue;
    if ((ace.mask & kModifyMask) != kModifyMask) continue;
    if (SameSid(ace.sid, sid.ToString())) return true;
  }
  return false;
}

// The explicit deny ACE a protected path carries for `sid`.
bool DeniesWrite(const std::vector<Ace>& aces, const Sid& sid, BYTE flags) {
  return HasAce(aces, ACCESS_DENIED_ACE_TYPE, flags, kWriteRightsMask, sid.ToString(),
                /*explicit_only=*/true);
}

struct ProtectedBefore {
  std::string path;
  std::optional<std::string> sddl;
};

struct Before {
  std::string root_sddl;
  std::vector<std::string> sids;
  std::vector<ProtectedBefore> protected_paths;
};

Expected<Before> ParseBefore(const StepSpec& spec, const nlohmann::json& json) {
  auto reader = JsonReader::Before(spec, json);
  Before before;
  auto root = reader.String("root");
  if (!root.ok()) return root.error();
  before.root_sddl = *root;
  auto sids = reader.Strings("sids", /*required=*/true);
  if (!sids.ok()) return sids.error();
  before.sids = std::move(*sids);
  auto list = reader.Member("protected");
  if (!list.ok()) return list.error();
  if (!list->is_array()) return reader.Bad("protected", "an array");
  for (const auto& item : *list) {
    JsonReader entry(item, spec.kind + " before-state protected entry", ErrorCode::kStateCorrupt);
    auto path = entry.String("path");
    if (!path.ok()) return path.error();
    auto sddl = entry.NullableString("sddl");
    if (!sddl.ok()) return sddl.error();
    before.protected_paths.push_back({*path, *sddl});
  }
  return before;
}

// Exists? (false for missing; errors other than "not found" are returned).
Expected<std::optional<DWORD>> AttributesIfPresent(const std::string& path) {
  auto attributes = FileAttributes(path);
  if (!attributes.ok()) {
    if (attributes.error().code() == ErrorCode::kNotFound) return std::optional<DWORD>();
    return attributes.error();
  }
  return std::optional<DWORD>(*attributes);
}

BYTE DenyFlags(DWORD attributes) {
  return (attributes & FILE_ATTRIBUTE_DIRECTORY) ? kInheritToAll : BYTE{0};
}

// Puts the explicit ACEs and protection of `sddl` back on `path` unless they are there already.
// Returns whether it wrote.
Expected<bool> RestoreDacl(const std::string& path, const std::string& sddl) {
  auto previous = ParseSecuritySddl(sddl);
  if (!previous.ok()) return previous.error();
  auto current = ReadFileSecurity(path, /*with_owner=*/false);
  if (!current.ok()) return current.error();
  const std::vector<Ace> wanted = ExplicitAces(previous->dacl);
  if (DescribeDaclDifference(path, previous->dacl_protected, wanted, *current).empty()) {
    return false;
  }
  STOCKADE_RETURN_IF_ERROR(WriteFileSecurity(path, wanted, previous->dacl_protected));
  return true;
}

}  // namespace

Expected<std::unique_ptr<Step>> WorkspaceGrantStep::Create(const StepSpec& spec) {
  auto reader = JsonReader::Params(spec);
  auto path = reader.String("path");
  if (!path.ok()) return path.error();
  auto root = paths::Normalize(*path, kStyle);
  if (!root.ok()) return root.error().Wrap(spec.kind + " params 'path'");
  auto sid = reader.String("sid");
  if (!sid.ok()) return sid.error();
  if (!Sid::FromString(*sid).ok()) return reader.Bad("sid", "a SID string");
  auto group = reader.StringOr("group", "");
  if (!group.ok()) return group.error();
  auto listed = reader.Strings("protected", /*required=*/false);
  if (!listed.ok()) return listed.error();
  std::vector<std::string> protected_paths;
  for (const std::string& entry : *listed) {
    Expected<std::string> full = paths::IsAbsolute(entry, kStyle)
                                     ? paths::Normalize(entry, kStyle)
                                     : paths::JoinWithin(*root, entry, kStyle);
    if (!full.ok()) return full.error().Wrap(spec.kind + " params 'protected'");
    if (!paths::IsWithin(*full, *root, kStyle) || paths::Equal(*full, *root, kStyle)) {
      return reader.Bad("protected",
                        "paths strictly inside '" + *root + "' ('" + entry + "' is not)");
    }
    protected_paths.push_back(*full);
  }
  return std::unique_ptr<Step>(
      new WorkspaceGrantStep(spec, *root, *sid, *group, std::move(protected_paths)));
}

std::string WorkspaceGrantStep::Describe() const {
  return "grant write on " + root_ + " to " + write_sid_ +
         (group_.empty() ? std::string() : " and " + group_) + " (" +
         std::to_string(protected_.size()) + " protected subpaths)";
}

Expected<std::vector<Sid>> WorkspaceGrantStep::Sids() const {
  std::vector<Sid> sids;
  auto write_sid = Sid::FromString(write_sid_);
  if (!write_sid.ok()) return write_sid.error();
  sids.push_back(*write_sid);
  if (!group_.empty()) {
    auto group = ResolveLocalAccountSid(group_);
    if (!group.ok()) return group.error();
    sids.push_back(*group);
  }
  return sids;
}

Expected<nlohmann::json> WorkspaceGrantStep::CaptureBefore() {
  auto sids = Sids();
  if (!sids.ok()) return sids.error();
  STOCKADE_RETURN_IF_ERROR(RefuseReparsePoint(root_, "workspace"));
  auto root = ReadFileSecurity(root_, /*with_owner=*/false);
  if (!root.ok()) return root.error();
  nlohmann::json before{{"root", root->sddl},
                        {"sids", nlohmann::json::array()},
                        {"protected", nlohmann::json::array()}};
  for (const Sid& sid : *sids) before["sids"].push_back(sid.ToString());
  for (const std::string& path : protected_) {
    auto attributes = AttributesIfPresent(path);
    if (!attributes.ok()) return attributes.error();
    nlohmann::json entry{{"path", path}, {"sddl", nullptr}};
    if (attributes->has_value()) {
      STOCKADE_RETURN_IF_ERROR(RefuseReparsePoint(path, "protected path"));
      auto security = ReadFileSecurity(path, /*with_owner=*/false);
      if (!security.ok()) return security.error();
      entry["sddl"] = security->sddl;
    }
    before["protected"].push_back(std::move(entry));
  }
  return before;
}

Status WorkspaceGrantStep::Apply() {
  security_writes_ = 0;
  auto sids = Sids();
  if (!sids.ok()) return sids.error().Wrap(spec().target);
  STOCKADE_RETURN_IF_ERROR(RefuseReparsePoint(root_, "workspace"));
  auto root_attributes = FileAttributes(root_);
  if (!root_attributes.ok()) return root_attributes.error();
  if ((*root_attributes & FILE_ATTRIBUTE_DIRECTORY) == 0) {
    return Error(ErrorCode::kPathInvalid, "workspace " + root_ + " is not a folder");
  }

  // Protected subpaths first: they must never be writable, not even between two writes.
  for (const std::string& path : protected_) {
    auto attributes = AttributesIfPresent(path);
    if (!attributes.ok()) return attributes.error();
    if (!attributes->has_value()) continue;  // nothing to protect yet (see Check)
    STOCKADE_RETURN_IF_ERROR(RefuseReparsePoint(path, "protected path"));
    auto security = ReadFileSecurity(path, /*with_owner=*/false);
    if (!security.ok()) return security.error();
    const BYTE flags = DenyFlags(**attributes);
    std::vector<Ace> aces;
    for (const Sid& sid : *sids) {
      if (DeniesWrite(security->dacl, sid, flags)) continue;
      auto ace = MakeAce(ACCESS_DENIED_ACE_TYPE, flags, kWriteRightsMask, sid);
      if (!ace.ok()) return ace.error();
      aces.push_back(std::move(*ace));
    }
    if (aces.empty()) continue;
    // Deny ACEs go before every existing explicit ACE (canonical order).
    for (const Ace& ace : ExplicitAces(security->dacl)) aces.push_back(ace);
    STOCKADE_RETURN_IF_ERROR(WriteFileSecurity(path, aces, security->dacl_protected));
    ++security_writes_;
  }

  auto root = ReadFileSecurity(root_, /*with_owner=*/false);
  if (!root.ok()) return root.error();
  std::vector<Ace> aces = ExplicitAces(root->dacl);
  bool changed = false;
  for (const Sid& sid : *sids) {
    // Granted already, explicitly or inherited from an enclosing granted root: no write, and so
    // no propagation through a tree whose children carry the ACE already.
    if (GrantsModify(root->dacl, sid)) continue;
    auto ace = MakeAce(ACCESS_ALLOWED_ACE_TYPE, kInheritToAll, kModifyMask, sid);
    if (!ace.ok()) return ace.error();
    aces.push_back(std::move(*ace));  // after the explicit denies: canonical order kept
    changed = true;
  }
  if (changed) {
    STOCKADE_RETURN_IF_ERROR(WriteFileSecurity(root_, aces, root->dacl_protected));
    ++security_writes_;
  }
  log::Logger()->info(
      "workspace grant {}: {} security writes (SetNamedSecurityInfoW on the root and on protected "
      "subpaths only; Windows propagates inheritance)",
      root_, security_writes_);
  return OkStatus();
}

Expected<std::string> WorkspaceGrantStep::Check() {
  auto root_attributes = AttributesIfPresent(root_);
  if (!root_attributes.ok()) return root_attributes.error();
  if (!root_attributes->has_value()) return std::string("workspace " + root_ + " does not exist");
  if (**root_attributes & FILE_ATTRIBUTE_REPARSE_POINT) {
    return std::string("workspace " + root_ + " is a reparse point (link or junction)");
  }
  auto sids = Sids();
  if (!sids.ok()) {
    if (sids.error().code() == ErrorCode::kNotFound) return sids.error().context();
    return sids.error();
  }
  auto root = ReadFileSecurity(root_, /*with_owner=*/false);
  if (!root.ok()) return root.error();
  for (const Sid& sid : *sids) {
    if (!GrantsModify(root->dacl, sid)) {
      return std::string("workspace " + root_ + " does not grant " + sid.ToString() +
                         " inheritable write (read back: " + root->sddl + ")");
    }
  }
  for (const std::string& path : protected_) {
    auto attributes = AttributesIfPresent(path);
    if (!attributes.ok()) return attributes.error();
    if (!attributes->has_value()) continue;
    if (**attributes & FILE_ATTRIBUTE_REPARSE_POINT) {
      return std::string("protected path " + path + " is a reparse point (link or junction)");
    }
    auto security = ReadFileSecurity(path, /*with_owner=*/false);
    if (!security.ok()) return security.error();
    for (const Sid& sid : *sids) {
      if (!DeniesWrite(security->dacl, sid, DenyFlags(**attributes))) {
        return std::string("protected path " + path + " has no explicit deny-write ACE for " +
                           sid.ToString() + " (read back: " + security->sddl + ")");
      }
    }
  }
  return std::string();
}

Status WorkspaceGrantStep::Undo(const nlohmann::json& before_json) {
  security_writes_ = 0;
  auto before = ParseBefore(spec(), before_json);
  if (!before.ok()) return before.error();
  auto root_attributes = AttributesIfPresent(root_);
  if (!root_attributes.ok()) return root_attributes.error();
  if (root_attributes->has_value()) {
    STOCKADE_RETURN_IF_ERROR(RefuseReparsePoint(root_, "workspace"));
    auto wrote = RestoreDacl(root_, before->root_sddl);
    if (!wrote.ok()) return wrote.error();
    security_writes_ += *wrote ? 1 : 0;
  }
  for (const ProtectedBefore& entry : before->protected_paths) {
    auto attributes = AttributesIfPresent(entry.path);
    if (!attributes.ok()) return attributes.error();
    if (!attributes->has_value()) continue;
    STOCKADE_RETURN_IF_ERROR(RefuseReparsePoint(entry.path, "protected path"));
    if (entry.sddl.has_value()) {
      auto wrote = RestoreDacl(entry.path, *entry.sddl);
      if (!wrote.ok()) return wrote.error();
      security_writes_ += *wrote ? 1 : 0;
      continue;
    }
    // Created after the capture: take out only what names our SIDs.
    auto security = ReadFileSecurity(entry.path, /*with_owner=*/false);
    if (!security.ok()) return security.error();
    std::vector<Ace> kept;
    bool ours = false;
    for (const Ace& ace : ExplicitAces(security->dacl)) {
      if (NamesAnySid({ace}, before->sids)) {
        ours = true;
      } else {
        kept.push_back(ace);
      }
    }
    if (!ours) continue;
    STOCKADE_RETURN_IF_ERROR(WriteFileSecurity(entry.path, kept, security->dacl_protected));
    ++security_writes_;
  }
  log::Logger()->info("workspace revoke {}: {} security writes", root_, security_writes_);
  return OkStatus();
}

Expected<std::string> WorkspaceGrantStep::CheckUndone(const nlohmann::json& before_json) {
  auto before = ParseBefore(spec(), before_json);
  if (!before.ok()) return before.error();
  auto root_attributes = AttributesIfPresent(root_);
  if (!root_attributes.ok()) return root_attributes.error();
  if (root_attributes->has_value()) {
    auto previous = ParseSecuritySddl(before->root_sddl);
    if (!previous.ok()) return previous.error();
    auto current = ReadFileSecurity(root_, /*with_owner=*/false);
    if (!current.ok()) return current.error();
    std::string difference = DescribeDaclDifference("workspace " + root_, previous->dacl_protected,
                                                    ExplicitAces(previous->dacl), *current);
    if (!difference.empty()) return difference;
  }
  for (const ProtectedBefore& entry : before->protected_paths) {
    auto attributes = AttributesIfPresent(entry.path);
    if (!attributes.ok()) return attributes.error();
    if (!attributes->has_value()) continue;
    auto current = ReadFileSecurity(entry.path, /*with_owner=*/false);
    if (!current.ok()) return current.error();
    if (entry.sddl.has_value()) {
      auto previous = ParseSecuritySddl(*entry.sddl);
      if (!previous.ok()) return previous.error();
      std::string difference =
          DescribeDaclDifference("protected path " + entry.path, previous->dacl_protected,
                                 ExplicitAces(previous->dacl), *current);
      if (!difference.empty()) return difference;
    } else if (NamesAnySid(ExplicitAces(current->dacl), before->sids)) {
      return std::string("protected path " + entry.path + " still has ACEs naming " +
                         "the sandbox SIDs: " + AcesToString(ExplicitAces(current->dacl)));
    }
  }
  return std::string();
}

}  // namespace stockade::provision::win
