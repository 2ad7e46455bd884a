// kind::kStateDir on Windows: %ProgramData%\Stockade (journal, audit store, logs, credentials)
// made an administrators-only folder the sandbox identities cannot write.
//
// params:  {"path": "C:\\ProgramData\\Stockade", "group": "<prefix>-users",
//           "users": ["<prefix>-offline", ...] (optional)}
// before:  {"existed": bool, "sddl": "<previous owner and DACL>"|null, "sids": [denied SIDs]}
// Apply:   creates the folder when missing (its parent must exist), refuses a reparse point, and
//          sets owner Administrators and a protected DACL with one SetNamedSecurityInfoW call:
//          deny write (security.h kWriteRightsMask, inherited by everything inside) to the group
//          and the users, full control to SYSTEM and Administrators, nothing inherited from
//          %ProgramData% (where Users may create folders: a folder planted there before the
//          install is owned by its creator, hence the owner change).
// Check:   the folder exists, is not a reparse point, is owned by Administrators or SYSTEM, and
//          GetNamedSecurityInfoW reads back exactly that DACL. Under Wine the DACL is not stored
//          (the read-back is synthesised from Unix mode bits): Verify fails.
// Undo:    a folder that existed gets its previous owner and DACL back exactly. A folder we
//          created is removed when empty; when it still holds Stockade's own files (the journal
//          itself lives there until uninstall deletes it) it keeps an administrators-only DACL
//          without the deny entries, so that no ACE names an identity that is about to be deleted.
#ifndef STOCKADE_PROVISION_WIN_STATE_DIR_STEP_H_
#define STOCKADE_PROVISION_WIN_STATE_DIR_STEP_H_

#include <memory>
#include <string>
#include <vector>

#include "provision/win/checked_step.h"
#include "provision/win/security.h"

namespace stockade::provision::win {

class StateDirStep : public CheckedStep {
 public:
  static Expected<std::unique_ptr<Step>> Create(const StepSpec& spec);

  std::string Describe() const override;
  Expected<nlohmann::json> CaptureBefore() override;
  // Only modifies (and exactly restores) a folder's security: never takes anything over.
  Expected<bool> TargetPresent() override { return false; }
  Status Apply() override;
  Status Undo(const nlohmann::json& before) override;

  // The DACL the folder gets for these denied SIDs (deny first, then SYSTEM and Administrators).
  static Expected<std::vector<Ace>> FolderDacl(const std::vector<Sid>& denied);

 protected:
  Expected<std::string> Check() override;
  Expected<std::string> CheckUndone(const nlohmann::json& before) override;

 private:
  StateDirStep(const StepSpec& spec, std::string path, std::vector<std::string> accounts)
      : CheckedStep(spec), path_(std::move(path)), accounts_(std::move(accounts)) {}
  // The SIDs of the group and users; kNotFound when one does not resolve.
  Expected<std::vector<Sid>> DeniedSids() const;

  std::string path_;
  std::vector<std::string> accounts_;  // group first, then users
};

}  // namespace stockade::provision::win

#endif  // STOCKADE_PROVISION_WIN_STATE_DIR_STEP_H_
