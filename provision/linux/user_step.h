// kind::kUser on Linux: a system user "<prefix>-offline" or "<prefix>-online" with no home, no
// login shell, a locked password and the sandbox group as its only group.
//
// params:  {"name": "<prefix>-offline", "group": "<prefix>-users", "identity": "offline"|"online",
//           "home": "/nonexistent" (optional), "shell": "/usr/sbin/nologin" (optional)}
// before:  {"existed": bool, "uid": n (when it existed), "accounts": <AccountSnapshot JSON>}
#ifndef STOCKADE_PROVISION_LINUX_USER_STEP_H_
#define STOCKADE_PROVISION_LINUX_USER_STEP_H_

#include <memory>

#include "provision/step.h"

namespace stockade::provision::linux_os {

inline constexpr char kDefaultHome[] = "/nonexistent";
inline constexpr char kDefaultShell[] = "/usr/sbin/nologin";

class UserStep : public Step {
 public:
  // kInvalidArgument when name/group are missing or invalid, or identity is not offline|online.
  static Expected<std::unique_ptr<Step>> Create(const StepSpec& spec);

  std::string Describe() const override;
  // Records whether the user exists and the exact bytes of the eight account files.
  Expected<nlohmann::json> CaptureBefore() override;
  Expected<bool> IsApplied() override;
  // A user of that name exists in any shape (so a foreign one is refused, never adopted).
  Expected<bool> TargetPresent() override;
  // useradd --system -M -l -d HOME -s SHELL -g GROUP NAME (-l: no lastlog/faillog records, which
  // would otherwise be residue in /var/log). kNotFound when the group does not exist. An
  // existing user is accepted only when it verifies; otherwise kAlreadyExists.
  Status Apply() override;
  // Reads back (getpwnam, getgrouplist, getspnam): uid is a system uid not shared with another
  // user, primary group is params.group and there is no other group, home and shell as asked,
  // password locked.
  Status Verify() override;
  // Ensure absent (userdel, no -r) unless it existed before. userdel refuses while the user runs
  // a process: the error then lists those processes. Afterwards, when the four main account
  // files are byte-identical to the before-state's, restores the "-" backups too.
  Status Undo(const nlohmann::json& before) override;
  // getpwnam finds no such user (unless it existed before); backups checked as above.
  Status VerifyUndone(const nlohmann::json& before) override;

 private:
  UserStep(StepSpec spec, std::string name, std::string group, std::string home, std::string shell)
      : Step(std::move(spec)),
        name_(std::move(name)),
        group_(std::move(group)),
        home_(std::move(home)),
        shell_(std::move(shell)) {}
  const std::string name_, group_, home_, shell_;  // from params
};

}  // namespace stockade::provision::linux_os

#endif  // STOCKADE_PROVISION_LINUX_USER_STEP_H_
