// kind::kWorkspaceGrant on Linux: POSIX ACLs giving the sandbox identities rwX on a workspace
// tree (access ACLs, plus default ACLs on directories so that new files inherit the grant),
// protected subpaths read-only, and search (x) added on ancestors that lack it. Done once per
// workspace at grant time, never per command.
//
// params:  {"path": "/abs/workspace",            normalised, no symlink in any component
//           "users": ["<prefix>-offline", ...],  and/or
//           "groups": ["<prefix>-users"],        at least one principal
//           "protected": [".git", ".codex", ".agents", "docs/secret", "/abs/inside/root"]}
//          A protected entry without "/" matches that name at any depth; a relative path or an
//          absolute path inside the root matches that one path; absolute paths outside the root
//          are ignored (they belong to other roots).
// before:  {"root": path, "dev": n, "ino": n,
//           "principals": [{"type": "user"|"group", "name": s, "id": n}, ...],
//           "ancestors": [{"path": s, "ino": n, "acl": text}, ...]   (those that needed x)
//           "prior": [{"path": escaped relpath, "ino": n, "access": text|null,
//                      "default": text|null}, ...]                   (non-minimal ACLs only)
//           "others_minimal": true, "nodes": n}
//          Every node not in "prior" had a minimal ACL and no default ACL: that is what revoke
//          puts back (text forms are libacl's, numeric ids; relpaths escaped by EscapeRelPath).
#ifndef STOCKADE_PROVISION_LINUX_ACL_GRANT_STEP_H_
#define STOCKADE_PROVISION_LINUX_ACL_GRANT_STEP_H_

#include <memory>
#include <string>
#include <vector>

#include "provision/linux/acl_tree.h"
#include "provision/step.h"

namespace stockade::provision::linux_os {

class AclGrantStep : public Step {
 public:
  // kInvalidArgument for a missing/relative path, the filesystem root, no principal, or an
  // unexpanded placeholder in a protected entry.
  static Expected<std::unique_ptr<Step>> Create(const StepSpec& spec);

  std::string Describe() const override;
  // Read-only walk of the tree (no symlink followed): the exact ACL of every node whose ACL is
  // not minimal, the ancestors that lack search permission for a principal (with their ACL), and
  // the principals' numeric ids (so Undo works after the accounts are gone).
  // Errors: kNotFound for a missing principal or root; kPathInvalid when a component of the path
  // is a symlink or not a directory.
  Expected<nlohmann::json> CaptureBefore() override;
  // Verify() passes; false (not an error) while a principal or the root does not exist yet.
  Expected<bool> IsApplied() override;
  // A grant modifies a tree that exists independently of Stockade: never "present".
  Expected<bool> TargetPresent() override { return false; }
  // Adds x on ancestors that lack it, then grants the tree (acl_tree.h GrantAclTree). Logs the
  // number of nodes and ACL writes. Re-running it writes nothing that is already as wanted.
  Status Apply() override;
  // Full read-back: effective access of each identity on every node (mask included), default
  // ACLs on directories, protected subtrees without write, search on every ancestor.
  Status Verify() override;
  // Strips the principals' entries everywhere and restores every journaled ACL exactly (tree,
  // then ancestors). A root that no longer exists leaves only the ancestors to restore; a root
  // replaced by another directory gets our entries stripped but no journaled ACL.
  Status Undo(const nlohmann::json& before) override;
  // Reads back that no entry names a principal and that journaled ACLs are back.
  Status VerifyUndone(const nlohmann::json& before) override;

  // The last Apply's or Verify's walk counters in this process, for logs and benchmarks.
  const TreeStats& last_stats() const { return last_stats_; }

 private:
  struct Principal {
    bool is_group = false;
    std::string name;
  };
  AclGrantStep(StepSpec spec, std::string root, std::vector<Principal> principals,
               std::vector<std::string> protected_entries)
      : Step(std::move(spec)),
        root_(std::move(root)),
        principals_(std::move(principals)),
        protected_(std::move(protected_entries)) {}

  struct Resolved {
    GrantRules rules;
    std::vector<AclCheckSubject> subjects;
    nlohmann::json principals_json;
    bool missing = false;  // a principal does not exist
    std::string missing_name;
  };
  Expected<Resolved> Resolve() const;

  const std::string root_;
  const std::vector<Principal> principals_;
  const std::vector<std::string> protected_;
  TreeStats last_stats_;  // diagnostics only; never consulted by the protocol
};

}  // namespace stockade::provision::linux_os

#endif  // STOCKADE_PROVISION_LINUX_ACL_GRANT_STEP_H_
