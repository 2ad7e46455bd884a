// Which folders may be granted as a workspace. The reference design let users grant a drive
// root, a system folder or a whole profile and then rewrote ACLs across it (10,684 security writes
// in 15 s on a drive root); a symlink or junction made it grant somewhere else entirely. These
// are refused here, before anything is journaled.
//
// The decision is portable (this file); the facts about the live path come from the OS layer
// (workspace/linux/facts.cc, workspace/win/facts.cc).
#ifndef STOCKADE_PROVISION_WORKSPACE_WORKSPACE_CHECK_H_
#define STOCKADE_PROVISION_WORKSPACE_WORKSPACE_CHECK_H_

#include <string>
#include <vector>

#include "core/error.h"
#include "core/paths/path_rules.h"

namespace stockade::provision {

// What the OS says about a candidate workspace path.
struct WorkspaceFacts {
  std::string requested;       // as given, normalised lexically
  bool exists = false;
  bool is_directory = false;
  // The first component of `requested` (itself or an ancestor) that is a symlink, junction or
  // other reparse point; empty when none.
  std::string link_component;
  std::string resolved;        // the path with every link resolved (realpath / final path)
  bool is_filesystem_root = false;    // a mount point / volume root / drive root
  // Folders of the OS itself: nothing inside them, nor above them, may be granted
  // (/etc, /usr, C:\Windows, C:\Program Files, ...).
  std::vector<std::string> system_folders;
  // Folders shared by many: they (and anything above them) may not be granted, folders inside
  // them may (/tmp, /home, C:\Users, every user's home or profile folder, ...).
  std::vector<std::string> shared_folders;
};

// Gathers the facts for `path` (which must be absolute).
Expected<WorkspaceFacts> GatherWorkspaceFacts(const std::string& path);

// Returns OK when `facts` describe a folder that may be granted, else kPathInvalid saying which
// rule refused it: not found, not a directory, a symlink/junction (in itself or an ancestor),
// a filesystem/drive root, inside or above a system folder, a shared folder (a whole home or
// profile, /tmp, C:\Users, ...) or a folder above one.
Status CheckWorkspaceAllowed(const WorkspaceFacts& facts, paths::PathStyle style);

}  // namespace stockade::provision

#endif  // STOCKADE_PROVISION_WORKSPACE_WORKSPACE_CHECK_H_
