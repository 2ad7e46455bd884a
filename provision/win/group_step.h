// kind::kGroup on Windows: the local group the sandbox identities belong to.
//
// params:  {"name": "<prefix>-users", "comment": "..." (optional)}
// before:  {"existed": bool}
// Apply:   NetLocalGroupAdd (an existing group of that name is kept as is).
// Check:   LSA resolves the name to a local group (LookupAccountNameW -> SidTypeAlias in this
//          machine's domain) and the NetApi reports it (NetLocalGroupGetInfo). Under Wine
//          NetLocalGroupAdd stores nothing and LSA never resolves the group: Verify fails.
// Undo:    NetLocalGroupDel when it did not exist before; a pre-existing group is left alone.
#ifndef STOCKADE_PROVISION_WIN_GROUP_STEP_H_
#define STOCKADE_PROVISION_WIN_GROUP_STEP_H_

#include <memory>
#include <string>

#include "provision/win/checked_step.h"

namespace stockade::provision::win {

class GroupStep : public CheckedStep {
 public:
  // Errors: kInvalidArgument for missing or malformed params.
  static Expected<std::unique_ptr<Step>> Create(const StepSpec& spec);

  std::string Describe() const override;
  Expected<nlohmann::json> CaptureBefore() override;
  // Any account of that name (a user named like the group counts: the name is taken).
  Expected<bool> TargetPresent() override;
  Status Apply() override;
  Status Undo(const nlohmann::json& before) override;

 protected:
  Expected<std::string> Check() override;
  Expected<std::string> CheckUndone(const nlohmann::json& before) override;

 private:
  GroupStep(const StepSpec& spec, std::string name, std::string comment)
      : CheckedStep(spec), name_(std::move(name)), comment_(std::move(comment)) {}
  std::string name_;
  std::string comment_;
};

// Windows' rules for a local account name: 1-20 characters (users; groups may have up to 256),
// none of " / \ [ ] : ; | = , + * ? < > @, not only dots and spaces.
Status CheckAccountName(const std::string& name, std::size_t max_length, const std::string& what);

}  // namespace stockade::provision::win

#endif  // STOCKADE_PROVISION_WIN_GROUP_STEP_H_
