#include "provision/win/audit_policy_step.h"

#include <ntsecapi.h>

#include <cstdio>

#include "core/log/logging.h"
#include "provision/win/handles.h"
#include "provision/win/params.h"
#include "provision/win/sid.h"
#include "provision/win/win_util.h"

namespace stockade::provision::win {

namespace {

// The GUIDs are spelled out rather than taken from ntsecapi.h, which defines them only in the
// one translation unit that includes initguid.h first.
constexpr GUID kFileSystem = {
    0x0cce921d, 0x69ae, 0x11d9, {0xbe, 0xd3, 0x50, 0x50, 0x54, 0x50, 0x30, 0x30}};
constexpr GUID kPacketDrop = {
    0x0cce9225, 0x69ae, 0x11d9, {0xbe, 0xd3, 0x50, 0x50, 0x54, 0x50, 0x30, 0x30}};
constexpr GUID kConnection = {
    0x0cce9226, 0x69ae, 0x11d9, {0xbe, 0xd3, 0x50, 0x50, 0x54, 0x50, 0x30, 0x30}};

constexpr wchar_t kFileSaclType[] = L"File";

// Memory from AuditQuerySystemPolicy (released by AuditFree).
struct AuditFreeDeleter {
  void operator()(void* p) const {
    if (p != nullptr) AuditFree(p);
  }
};

Expected<PrivilegeScope> EnableSecurityPrivilege() {
  auto scope = PrivilegeScope::Enable(SE_SECURITY_NAME);
  if (!scope.ok()) return scope.error().Wrap("audit policy needs SeSecurityPrivilege");
  return scope;
}

Expected<Ace> OurAce(const Sid& group) {
  return MakeAce(SYSTEM_AUDIT_ACE_TYPE, FAILED_ACCESS_ACE_FLAG, kWriteRightsMask, group);
}

bool HasOurAce(const std::vector<Ace>& aces, const std::string& sid) {
  return HasAce(aces, SYSTEM_AUDIT_ACE_TYPE, FAILED_ACCESS_ACE_FLAG, kWriteRightsMask, sid,
                /*explicit_only=*/false);
}

Status SetAuditPolicy(const std::map<std::string, ULONG>& bits) {
  std::vector<AUDIT_POLICY_INFORMATION> entries;
  for (const AuditSubcategory& sub : AuditedSubcategories()) {
    auto it = bits.find(GuidToString(sub.guid));
    if (it == bits.end()) continue;
    AUDIT_POLICY_INFORMATION entry{};
    entry.AuditSubCategoryGuid = sub.guid;
    // 0 would mean "leave unchanged" to AuditSetSystemPolicy; "no auditing" is spelled NONE.
    entry.AuditingInformation = it->second == 0 ? POLICY_AUDIT_EVENT_NONE : it->second;
    entries.push_back(entry);
  }
  if (entries.empty()) return OkStatus();
  if (!AuditSetSystemPolicy(entries.data(), static_cast<ULONG>(entries.size()))) {
    return LastWin32Error("AuditSetSystemPolicy(" + std::to_string(entries.size()) +
                          " subcategories)");
  }
  return OkStatus();
}

Status SetGlobalSacl(const std::vector<Ace>& aces) {
  STOCKADE_RETURN_IF_ERROR(RefuseWineUnimplemented("AuditSetGlobalSaclW", "File"));
  if (aces.empty()) {
    if (!AuditSetGlobalSaclW(kFileSaclType, nullptr)) {
      return LastWin32Error("AuditSetGlobalSaclW(File, none)");
    }
    return OkStatus();
  }
  auto acl = AclBuffer::Build(aces);
  if (!acl.ok()) return acl.error();
  if (!AuditSetGlobalSaclW(kFileSaclType, acl->get())) {
    return LastWin32Error("AuditSetGlobalSaclW(File, " + AcesToString(aces) + ")");
  }
  return OkStatus();
}

struct Before {
  std::string sid;
  std::map<std::string, ULONG> bits;
  std::string sacl;
};

Expected<Before> ParseBefore(const StepSpec& spec, const nlohmann::json& json) {
  auto reader = JsonReader::Before(spec, json);
  Before before;
  auto sid = reader.String("sid");
  if (!sid.ok()) return sid.error();
  before.sid = *sid;
  auto subcategories = reader.Member("subcategories");
  if (!subcategories.ok()) return subcategories.error();
  if (!subcategories->is_object()) return reader.Bad("subcategories", "an object");
  for (const auto& [guid, bits] : subcategories->items()) {
    if (!bits.is_number_unsigned()) return reader.Bad("subcategories", "GUID -> unsigned bits");
    before.bits[guid] = bits.get<ULONG>();
  }
  auto sacl = reader.StringOr("file_sacl", "");
  if (!sacl.ok()) return sacl.error();
  before.sacl = *sacl;
  return before;
}

}  // namespace

const std::vector<AuditSubcategory>& AuditedSubcategories() {
  static const std::vector<AuditSubcategory> kSubcategories = {
      {kFileSystem, "File System"},
      {kPacketDrop, "Filtering Platform Packet Drop"},
      {kConnection, "Filtering Platform Connection"},
  };
  return kSubcategories;
}

std::string GuidToString(const GUID& g) {
  char text[40];
  std::snprintf(text, sizeof text, "{%08lX-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X}",
                static_cast<unsigned long>(g.Data1), g.Data2, g.Data3, g.Data4[0], g.Data4[1],
                g.Data4[2], g.Data4[3], g.Data4[4], g.Data4[5], g.Data4[6], g.Data4[7]);
  return text;
}

Expected<std::map<std::string, ULONG>> QueryAuditPolicy(
    const std::vector<AuditSubcategory>& subcategories) {
  std::vector<GUID> guids;
  for (const AuditSubcategory& sub : subcategories) guids.push_back(sub.guid);
  PAUDIT_POLICY_INFORMATION raw = nullptr;
  if (!AuditQuerySystemPolicy(guids.data(), static_cast<ULONG>(guids.size()), &raw)) {
    return LastWin32Error(
        "AuditQuerySystemPolicy(File System, Filtering Platform Packet Drop, "
        "Filtering Platform Connection)");
  }
  std::unique_ptr<AUDIT_POLICY_INFORMATION, AuditFreeDeleter> owned(raw);
  std::map<std::string, ULONG> bits;
  for (std::size_t i = 0; i < guids.size(); ++i) {
    bits[GuidToString(raw[i].AuditSubCategoryGuid)] = raw[i].AuditingInformation;
  }
  return bits;
}

Expected<std::vector<Ace>> QueryGlobalSacl(const std::wstring& type) {
  STOCKADE_RETURN_IF_ERROR(RefuseWineUnimplemented("AuditQueryGlobalSaclW", Utf8(type)));
  PACL raw = nullptr;
  if (!AuditQueryGlobalSaclW(type.c_str(), &raw)) {
    return LastWin32Error("AuditQueryGlobalSaclW(" + Utf8(type) + ")");
  }
  LocalPtr<ACL> owned(raw);
  return ReadAces(raw);
}

Expected<std::unique_ptr<Step>> AuditPolicyStep::Create(const StepSpec& spec) {
  auto group = JsonReader::Params(spec).String("group");
  if (!group.ok()) return group.error();
  return std::unique_ptr<Step>(new AuditPolicyStep(spec, *group));
}

std::string AuditPolicyStep::Describe() const {
  return "audit failed writes by " + group_ +
         " (global File SACL) and Filtering Platform drops/connections";
}

Expected<nlohmann::json> AuditPolicyStep::CaptureBefore() {
  auto sid = ResolveLocalAccountSid(group_);
  if (!sid.ok()) return sid.error();
  auto privilege = EnableSecurityPrivilege();
  if (!privilege.ok()) return privilege.error();
  // The subcategory policy first: under Wine it fails cleanly, before the SACL functions that
  // Wine does not implement at all.
  auto bits = QueryAuditPolicy(AuditedSubcategories());
  if (!bits.ok()) return bits.error();
  auto sacl = QueryGlobalSacl(kFileSaclType);
  if (!sacl.ok()) return sacl.error();
  std::string sddl;
  if (!sacl->empty()) {
    auto acl = AclBuffer::Build(*sacl);
    if (!acl.ok()) return acl.error();
    auto text = SaclToSddl(acl->get());
    if (!text.ok()) return text.error();
    sddl = *text;
  }
  nlohmann::json subcategories = nlohmann::json::object();
  for (const auto& [guid, value] : *bits) subcategories[guid] = value;
  return nlohmann::json{
      {"sid", sid->ToString()}, {"subcategories", subcategories}, {"file_sacl", sddl}};
}

Status AuditPolicyStep::Apply() {
  auto sid = ResolveLocalAccountSid(group_);
  if (!sid.ok()) return sid.error();
  auto privilege = EnableSecurityPrivilege();
  if (!privilege.ok()) return privilege.error();
  auto bits = QueryAuditPolicy(AuditedSubcategories());
  if (!bits.ok()) return bits.error();
  for (auto& [guid, value] : *bits) {
    value = (value & (POLICY_AUDIT_EVENT_SUCCESS | POLICY_AUDIT_EVENT_FAILURE)) |
            POLICY_AUDIT_EVENT_FAILURE;
  }
  STOCKADE_RETURN_IF_ERROR(SetAuditPolicy(*bits));
  auto sacl = QueryGlobalSacl(kFileSaclType);
  if (!sacl.ok()) return sacl.error();
  if (!HasOurAce(*sacl, sid->ToString())) {
    auto ace = OurAce(*sid);
    if (!ace.ok()) return ace.error();
    std::vector<Ace> aces = *sacl;
    aces.push_back(std::move(*ace));
    STOCKADE_RETURN_IF_ERROR(SetGlobalSacl(aces));
  }
  log::Logger()->info(
      "audit policy: failure auditing on for {} subcategories; global File SACL "
      "audits failed writes by {} ({})",
      bits->size(), group_, sid->ToString());
  return OkStatus();
}

Expected<std::string> AuditPolicyStep::Check() {
  auto sid = ResolveLocalAccountSid(group_);
  if (!sid.ok()) {
    if (sid.error().code() == ErrorCode::kNotFound) return sid.error().context();
    return sid.error();
  }
  auto privilege = EnableSecurityPrivilege();
  if (!privilege.ok()) return privilege.error();
  auto bits = QueryAuditPolicy(AuditedSubcategories());
  if (!bits.ok()) return bits.error();
  for (const AuditSubcategory& sub : AuditedSubcategories()) {
    const ULONG value = (*bits)[GuidToString(sub.guid)];
    if ((value & POLICY_AUDIT_EVENT_FAILURE) == 0) {
      return std::string("audit subcategory '") + sub.name + "' does not audit failures " +
             "(AuditQuerySystemPolicy: " + std::to_string(value) + ")";
    }
  }
  auto sacl = QueryGlobalSacl(kFileSaclType);
  if (!sacl.ok()) return sacl.error();
  if (!HasOurAce(*sacl, sid->ToString())) {
    return std::string("the global File SACL has no failed-write audit ACE for " + group_ + " (" +
                       sid->ToString() + "): " + AcesToString(*sacl));
  }
  return std::string();
}

Status AuditPolicyStep::Undo(const nlohmann::json& before_json) {
  auto before = ParseBefore(spec(), before_json);
  if (!before.ok()) return before.error();
  auto privilege = EnableSecurityPrivilege();
  if (!privilege.ok()) return privilege.error();
  STOCKADE_RETURN_IF_ERROR(SetAuditPolicy(before->bits));
  auto previous = SaclAcesFromSddl(before->sacl);
  if (!previous.ok()) return previous.error().Wrap(spec().target);
  STOCKADE_RETURN_IF_ERROR(SetGlobalSacl(*previous));
  log::Logger()->info("audit policy: previous subcategory settings and global File SACL restored");
  return OkStatus();
}

Expected<std::string> AuditPolicyStep::CheckUndone(const nlohmann::json& before_json) {
  auto before = ParseBefore(spec(), before_json);
  if (!before.ok()) return before.error();
  auto privilege = EnableSecurityPrivilege();
  if (!privilege.ok()) return privilege.error();
  auto bits = QueryAuditPolicy(AuditedSubcategories());
  if (!bits.ok()) return bits.error();
  for (const auto& [guid, value] : before->bits) {
    const ULONG now = (*bits)[guid];
    // NONE and "no bits" are the same policy.
    if ((now & 3u) != (value & 3u)) {
      return std::string("audit subcategory " + guid + " is " + std::to_string(now) +
                         ", previously " + std::to_string(value));
    }
  }
  auto sacl = QueryGlobalSacl(kFileSaclType);
  if (!sacl.ok()) return sacl.error();
  auto previous = SaclAcesFromSddl(before->sacl);
  if (!previous.ok()) return previous.error();
  if (*sacl != *previous) {
    return std::string("the global File SACL is " + AcesToString(*sacl) + ", previously " +
                       AcesToString(*previous));
  }
  return std::string();
}

}  // namespace stockade::provision::win
