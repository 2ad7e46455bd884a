// kind::kAuditPolicy on Windows: makes Windows record what the sandbox is denied, so that the
// audit collector can read it from the Security log (4656: failed object access; 5152/5157:
// Filtering Platform drops and blocked connections).
//
// params:  {"group": "<prefix>-users"}
// before:  {"sid": "<group SID>",
//           "subcategories": {"<GUID>": <AuditingInformation bits>, ...},
//           "file_sacl": "<SDDL of the global 'File' SACL>" | ""}
// Apply:   with SeSecurityPrivilege enabled (AdjustTokenPrivileges) for the call:
//          AuditSetSystemPolicy adds failure auditing (POLICY_AUDIT_EVENT_FAILURE, keeping what
//          was set) to the File System, Filtering Platform Packet Drop and Filtering Platform
//          Connection subcategories; AuditSetGlobalSaclW("File") adds a failed-access audit ACE
//          for the group (kWriteRightsMask: every kind of write) to the global object-access SACL.
// Check:   AuditQuerySystemPolicy shows the failure bit on the three subcategories and
//          AuditQueryGlobalSaclW("File") holds the ACE.
// Undo:    the three subcategories' previous bits (POLICY_AUDIT_EVENT_NONE where there were
//          none) and the previous global SACL (none: removed), exactly.
// Under Wine AuditQuerySystemPolicy fails with ERROR_CALL_NOT_IMPLEMENTED and the global SACL
// functions are not implemented at all: every method fails with kUnsupported before calling them.
#ifndef STOCKADE_PROVISION_WIN_AUDIT_POLICY_STEP_H_
#define STOCKADE_PROVISION_WIN_AUDIT_POLICY_STEP_H_

#include <windows.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "provision/win/checked_step.h"
#include "provision/win/security.h"

namespace stockade::provision::win {

// The subcategories (their GUIDs as "{0CCE921D-69AE-11D9-BED3-505054503030}") and names.
struct AuditSubcategory {
  GUID guid;
  const char* name;
};
const std::vector<AuditSubcategory>& AuditedSubcategories();
std::string GuidToString(const GUID& guid);

// AuditQuerySystemPolicy for `subcategories`: GUID string -> AuditingInformation bits.
// Errors: kUnsupported (Wine) / kNotElevated / kOs naming the API.
Expected<std::map<std::string, ULONG>> QueryAuditPolicy(
    const std::vector<AuditSubcategory>& subcategories);
// AuditQueryGlobalSaclW(type): the ACEs of the global SACL (empty when none is set).
Expected<std::vector<Ace>> QueryGlobalSacl(const std::wstring& type);

class AuditPolicyStep : public CheckedStep {
 public:
  static Expected<std::unique_ptr<Step>> Create(const StepSpec& spec);

  std::string Describe() const override;
  Expected<nlohmann::json> CaptureBefore() override;
  // Only modifies (and exactly restores) machine policy: never takes anything over.
  Expected<bool> TargetPresent() override { return false; }
  Status Apply() override;
  Status Undo(const nlohmann::json& before) override;

 protected:
  Expected<std::string> Check() override;
  Expected<std::string> CheckUndone(const nlohmann::json& before) override;

 private:
  AuditPolicyStep(const StepSpec& spec, std::string group)
      : CheckedStep(spec), group_(std::move(group)) {}
  std::string group_;
};

}  // namespace stockade::provision::win

#endif  // STOCKADE_PROVISION_WIN_AUDIT_POLICY_STEP_H_
