#include "provision/workspace/workspace_check.h"

namespace stockade::provision {

namespace {

Error Refuse(const WorkspaceFacts& facts, const std::string& why) {
  return Error(ErrorCode::kPathInvalid, "refusing to grant workspace " + facts.requested + ": " + why);
}

}  // namespace

Status CheckWorkspaceAllowed(const WorkspaceFacts& facts, paths::PathStyle style) {
  if (!facts.exists) return Refuse(facts, "it does not exist");
  if (!facts.link_component.empty()) {
    return Refuse(facts, facts.link_component +
                             " is a symbolic link or junction; grant the real folder (" +
                             facts.resolved + ") instead, so the grant cannot be redirected");
  }
  if (!facts.is_directory) return Refuse(facts, "it is not a directory");
  if (facts.is_filesystem_root) {
    return Refuse(facts, "it is the root of a filesystem or drive");
  }
  for (const auto& system : facts.system_folders) {
    if (paths::IsWithin(facts.resolved, system, style)) {
      return Refuse(facts, "it lies inside the system folder " + system);
    }
    if (paths::IsWithin(system, facts.resolved, style)) {
      return Refuse(facts, "it contains the system folder " + system);
    }
  }
  for (const auto& shared : facts.shared_folders) {
    if (paths::IsWithin(shared, facts.resolved, style)) {
      return Refuse(facts, "it is, or contains, " + shared +
                               " (a home, profile or shared folder); grant a project folder "
                               "inside it instead");
    }
  }
  return OkStatus();
}

}  // namespace stockade::provision
