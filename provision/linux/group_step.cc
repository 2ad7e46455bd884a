#include "provision/linux/group_step.h"

#include <algorithm>

#include "provision/linux/accounts.h"
#include "provision/linux/step_params.h"

namespace stockade::provision::linux_os {
namespace {

constexpr char kGroupAdd[] = "/usr/sbin/groupadd";
constexpr char kGroupDel[] = "/usr/sbin/groupdel";
constexpr char kGpasswd[] = "/usr/bin/gpasswd";

struct GroupBefore {
  bool existed = false;
  AccountSnapshot accounts;
};

Expected<GroupBefore> ParseBefore(const StepSpec& spec, const nlohmann::json& before) {
  if (!before.is_object() || !before.contains("existed") || !before["existed"].is_boolean() ||
      !before.contains("accounts")) {
    return CorruptBefore(spec, "lacks 'existed' or 'accounts'");
  }
  GroupBefore out;
  out.existed = before["existed"].get<bool>();
  auto snap = AccountSnapshot::FromJson(before["accounts"]);
  if (!snap.ok()) return snap.error().Wrap(StepLabel(spec));
  out.accounts = std::move(*snap);
  return out;
}

}  // namespace

Expected<std::unique_ptr<Step>> GroupStep::Create(const StepSpec& spec) {
  auto name = ParamString(spec, "name");
  if (!name.ok()) return name.error();
  if (!IsValidAccountName(*name)) {
    return Error(ErrorCode::kInvalidArgument,
                 StepLabel(spec) + ": '" + *name + "' is not a valid system group name");
  }
  return std::unique_ptr<Step>(new GroupStep(spec, *name));
}

std::string GroupStep::Describe() const { return "create system group " + name_; }

Expected<nlohmann::json> GroupStep::CaptureBefore() {
  auto group = LookupGroup(name_);
  if (!group.ok()) return group.error();
  auto snap = SnapshotAccountFiles();
  if (!snap.ok()) return snap.error();
  nlohmann::json before = {{"existed", group->has_value()}, {"accounts", snap->ToJson()}};
  if (group->has_value()) before["gid"] = (*group)->gid;
  return before;
}

Expected<bool> GroupStep::IsApplied() {
  auto group = LookupGroup(name_);
  if (!group.ok()) return group.error();
  if (!group->has_value()) return false;
  return Verify().ok();
}

Expected<bool> GroupStep::TargetPresent() {
  auto found = LookupGroup(name_);
  if (!found.ok()) return found.error();
  return found->has_value();
}

Status GroupStep::Apply() {
  auto group = LookupGroup(name_);
  if (!group.ok()) return group.error();
  if (group->has_value()) {
    // A re-run after a crash finds our group; anything else is someone else's group.
    Status ok = Verify();
    if (ok.ok()) return ok;
    // `repair` re-applies on top of our own group (the executor only lets Apply near a group
    // the journal owns, or one that does not exist): a system group of ours that gained
    // supplementary members is brought back to none. Undo restores the account files' bytes.
    const GroupInfo& g = **group;
    if (!g.members.empty() && g.gid != 0 &&
        static_cast<long>(g.gid) < LoginDefsNumber("GID_MIN", 1000)) {
      STOCKADE_RETURN_IF_ERROR(RunShadowTool({kGpasswd, "-M", "", name_}));
      return OkStatus();
    }
    return Error(ErrorCode::kAlreadyExists, "group " + name_ +
                                                " already exists and is not a Stockade system "
                                                "group (" +
                                                ok.error().context() + ")");
  }
  return RunShadowTool({kGroupAdd, "--system", name_});
}

Status GroupStep::Verify() {
  auto group = LookupGroup(name_);
  if (!group.ok()) return group.error();
  const std::string label = "group " + name_;
  if (!group->has_value()) {
    return Error(ErrorCode::kVerificationFailed, label + " does not exist (getgrnam)");
  }
  const GroupInfo& g = **group;
  long gid_min = LoginDefsNumber("GID_MIN", 1000);
  if (g.gid == 0 || static_cast<long>(g.gid) >= gid_min) {
    return Error(ErrorCode::kVerificationFailed, label + " has gid " + std::to_string(g.gid) +
                                                     ", not a system gid (1.." +
                                                     std::to_string(gid_min - 1) + ")");
  }
  if (!g.members.empty()) {
    std::string list;
    for (const std::string& m : g.members) list += (list.empty() ? "" : ",") + m;
    return Error(ErrorCode::kVerificationFailed,
                 label + " has supplementary members (" + list + "); it should have none");
  }
  // Another group with the same gid would share every permission granted to ours.
  auto groups = LocalGroups();
  if (groups.ok()) {
    for (const LocalAccount& other : *groups) {
      if (other.id == g.gid && other.name != g.name) {
        return Error(ErrorCode::kVerificationFailed,
                     label + " shares gid " + std::to_string(g.gid) + " with group " + other.name);
      }
    }
  }
  return OkStatus();
}

Status GroupStep::Undo(const nlohmann::json& before_json) {
  auto before = ParseBefore(spec(), before_json);
  if (!before.ok()) return before.error();
  if (!before->existed) {
    auto group = LookupGroup(name_);
    if (!group.ok()) return group.error();
    if (group->has_value()) {
      Status del = RunShadowTool({kGroupDel, name_});
      if (!del.ok()) return del.error().Wrap("remove group " + name_);
    }
  }
  return RestoreBackupsIfMainUnchanged(before->accounts);
}

Status GroupStep::VerifyUndone(const nlohmann::json& before_json) {
  auto before = ParseBefore(spec(), before_json);
  if (!before.ok()) return before.error();
  auto group = LookupGroup(name_);
  if (!group.ok()) return group.error();
  if (group->has_value() != before->existed) {
    return Error(ErrorCode::kVerificationFailed,
                 "group " + name_ + (before->existed ? " no longer exists" : " still exists") +
                     " (getgrnam)");
  }
  return VerifyAccountFilesRestored(before->accounts, "group " + name_);
}

}  // namespace stockade::provision::linux_os
