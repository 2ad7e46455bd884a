// kind::kStateDir on Linux: the state folder (journal, audit store, logs, secrets, the service's
// socket) owned by root, with a mode that gives the sandbox identities no way in: they can
// neither list it, nor read what is inside, nor create or replace anything in it.
//
// params:  {"path": "/var/lib/stockade",
//           "group": "root" (optional: the owning group),
//           "mode": "0700" (optional; an octal string or an integer; no bits for others except
//                    x, none for the group except r and x),
//           "users": ["<prefix>-offline", "<prefix>-online"] (the identities to check access
//                    as; optional, nobody (65534) is checked when none of them exists)}
// before:  {"existed": bool, and when it existed: "mode": n, "uid": n, "gid": n,
//           "access_acl": text|null, "default_acl": text|null}
#ifndef STOCKADE_PROVISION_LINUX_STATE_DIR_STEP_H_
#define STOCKADE_PROVISION_LINUX_STATE_DIR_STEP_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "provision/step.h"

namespace stockade::provision::linux_os {

class StateDirStep : public Step {
 public:
  // kInvalidArgument for a relative path, "/", or a mode that would let others in.
  static Expected<std::unique_ptr<Step>> Create(const StepSpec& spec);

  std::string Describe() const override;
  Expected<nlohmann::json> CaptureBefore() override;
  // Verify() passes (false, not an error, while the folder does not exist).
  Expected<bool> IsApplied() override;
  // Hardening a folder takes nothing over: Undo puts its previous mode, owner and ACLs back.
  Expected<bool> TargetPresent() override { return false; }
  // Creates the folder when missing (its parent must exist), then sets owner root:group and the
  // mode, and removes any POSIX ACL (named entries would bypass the mode). Symlinks refused.
  Status Apply() override;
  // lstat and ACL read-back (directory, root-owned, exact mode, no ACL, no ancestor writable by
  // non-root without the sticky bit), then a real access check as each sandbox identity in a
  // forked child: listing the folder, creating a file in it, and opening each file directly
  // inside it for reading or writing must all fail.
  Status Verify() override;
  // Puts back the previous mode, owner and ACLs. A folder that did not exist is removed when it
  // is empty; when it holds data (the journal itself lives there) it is kept, owned by root and
  // closed to others, and uninstall decides about its contents.
  Status Undo(const nlohmann::json& before) override;
  Status VerifyUndone(const nlohmann::json& before) override;

 private:
  StateDirStep(StepSpec spec, std::string path, std::string group, unsigned mode,
               std::vector<std::string> users)
      : Step(std::move(spec)),
        path_(std::move(path)),
        group_(std::move(group)),
        mode_(mode),
        users_(std::move(users)) {}
  Status CheckAccessAsSandbox() const;

  const std::string path_;
  const std::string group_;
  const unsigned mode_;
  const std::vector<std::string> users_;
};

}  // namespace stockade::provision::linux_os

#endif  // STOCKADE_PROVISION_LINUX_STATE_DIR_STEP_H_
