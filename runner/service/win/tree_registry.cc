#include "runner/service/win/tree_registry.h"

#include "provision/win/handles.h"

namespace stockade::runner::service::win_os {

bool TreeRegistry::Add(const std::string& session_id, runner::win_os::ProcessTree* tree) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopping_) {
    (void)tree->Kill();
    return false;
  }
  trees_[session_id] = tree;
  return true;
}

void TreeRegistry::Remove(const std::string& session_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  trees_.erase(session_id);
}

void TreeRegistry::StopAll() {
  std::lock_guard<std::mutex> lock(mutex_);
  stopping_ = true;
  for (auto& [id, tree] : trees_) (void)tree->Kill();
}

std::string TreeRegistry::SessionHolding(DWORD pid) {
  provision::win::UniqueHandle process(OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid));
  if (!process) return "";
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [id, tree] : trees_) {
    BOOL inside = FALSE;
    if (IsProcessInJob(process.get(), tree->job().get(), &inside) && inside) return id;
  }
  return "";
}

std::size_t TreeRegistry::size() {
  std::lock_guard<std::mutex> lock(mutex_);
  return trees_.size();
}

}  // namespace stockade::runner::service::win_os
