// kind::kGroup on Linux: the system group "<prefix>-users" that both sandbox users have as their
// primary group.
//
// params:  {"name": "<prefix>-users"}
// before:  {"existed": bool, "gid": n (when it existed), "accounts": <AccountSnapshot JSON>}
#ifndef STOCKADE_PROVISION_LINUX_GROUP_STEP_H_
#define STOCKADE_PROVISION_LINUX_GROUP_STEP_H_

#include <memory>

#include "provision/step.h"

namespace stockade::provision::linux_os {

class GroupStep : public Step {
 public:
  // kInvalidArgument when params.name is missing or not a valid system group name.
  static Expected<std::unique_ptr<Step>> Create(const StepSpec& spec);

  std::string Describe() const override;
  // Records whether the group exists and the exact bytes of the eight account files.
  Expected<nlohmann::json> CaptureBefore() override;
  Expected<bool> IsApplied() override;
  // A group of that name exists in any shape (so a foreign one is refused, never adopted).
  Expected<bool> TargetPresent() override;
  // groupadd --system NAME. A group of that name that already exists is accepted only when it
  // verifies (a system gid, no members); otherwise kAlreadyExists: never adopt a foreign group.
  Status Apply() override;
  // getgrnam: exists, gid is a system gid (not 0, below GID_MIN), no supplementary members.
  Status Verify() override;
  // Ensure absent (groupdel) unless it existed before; then, when the four main account files
  // are byte-identical to the before-state's, restores the "-" backups to their before bytes.
  Status Undo(const nlohmann::json& before) override;
  // getgrnam finds no such group (unless it existed before); backups checked as above.
  Status VerifyUndone(const nlohmann::json& before) override;

 private:
  GroupStep(StepSpec spec, std::string name) : Step(std::move(spec)), name_(std::move(name)) {}
  const std::string name_;  // from params; steps keep no other state
};

}  // namespace stockade::provision::linux_os

#endif  // STOCKADE_PROVISION_LINUX_GROUP_STEP_H_
