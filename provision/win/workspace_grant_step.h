// kind::kWorkspaceGrant on Windows: lets the sandbox write inside one workspace, except in its
// protected subpaths. Done once per workspace at `grant` time, never per command.
//
// params:  {"path": "C:\\src\\project", "sid": "<write SID>",
//           "group": "<prefix>-users" (optional: the identities' group, which the normal half of
//                    a write-restricted token's access check needs as well),
//           "protected": [".git", ".codex", ".agents", "C:\\src\\project\\keys"] (optional;
//                        relative names apply under the root, absolute ones must lie inside it)}
// before:  {"root": "<root DACL SDDL>", "sids": [...],
//           "protected": [{"path": "...", "sddl": "<DACL SDDL>"|null (did not exist)}, ...]}
// Apply:   refuses a root or protected subpath that is a symlink, junction or other reparse point
//          (its security would be written on the link's target). First each protected subpath
//          that exists gets an explicit deny-write ACE (kWriteRightsMask, inherited inside) for
//          each SID, then the root gets an inheritable allow ACE (OICI, kModifyMask) for each
//          SID -- in that order, so that a protected path is never writable in between. Each is
//          one SetNamedSecurityInfoW call on that path alone: this code never walks the tree;
//          Windows propagates the inheritable ACE to existing children inside that one call,
//          once per grant. Paths that already carry the ACE -- including a root that inherits it
//          from an enclosing granted workspace -- are not written at all. security_writes()
//          counts the calls made (also logged).
// Check:   GetNamedSecurityInfoW on the root shows an allow ACE (explicit or inherited) with those
//          rights and inheritance for each SID; every protected subpath that exists now carries
//          the explicit deny ACE. Under Wine the DACL is not stored: Verify fails.
// Undo:    root first (its previous explicit ACEs and protection, exactly), then the protected
//          subpaths (previous DACL; for one that did not exist at capture, our ACEs removed).
//          Paths already as before are not written.
#ifndef STOCKADE_PROVISION_WIN_WORKSPACE_GRANT_STEP_H_
#define STOCKADE_PROVISION_WIN_WORKSPACE_GRANT_STEP_H_

#include <memory>
#include <string>
#include <vector>

#include "provision/win/checked_step.h"
#include "provision/win/security.h"

namespace stockade::provision::win {

class WorkspaceGrantStep : public CheckedStep {
 public:
  static Expected<std::unique_ptr<Step>> Create(const StepSpec& spec);

  std::string Describe() const override;
  Expected<nlohmann::json> CaptureBefore() override;
  // Only modifies (and exactly restores) ACLs: never takes anything over.
  Expected<bool> TargetPresent() override { return false; }
  Status Apply() override;
  Status Undo(const nlohmann::json& before) override;

  // SetNamedSecurityInfoW calls made by the last Apply or Undo on this object.
  int security_writes() const { return security_writes_; }
  // The protected subpaths as absolute paths (normalised), in params order.
  const std::vector<std::string>& protected_paths() const { return protected_; }

 protected:
  Expected<std::string> Check() override;
  Expected<std::string> CheckUndone(const nlohmann::json& before) override;

 private:
  WorkspaceGrantStep(const StepSpec& spec, std::string root, std::string write_sid,
                     std::string group, std::vector<std::string> protected_paths)
      : CheckedStep(spec),
        root_(std::move(root)),
        write_sid_(std::move(write_sid)),
        group_(std::move(group)),
        protected_(std::move(protected_paths)) {}
  // The write SID and, when configured, the group's SID. kNotFound when the group is missing.
  Expected<std::vector<Sid>> Sids() const;

  std::string root_;
  std::string write_sid_;
  std::string group_;
  std::vector<std::string> protected_;
  int security_writes_ = 0;
};

}  // namespace stockade::provision::win

#endif  // STOCKADE_PROVISION_WIN_WORKSPACE_GRANT_STEP_H_
