// The trees the Windows service is running, so that a service stop kills them all and a request
// from a process inside one of them is recognised and refused.
#ifndef STOCKADE_RUNNER_SERVICE_WIN_TREE_REGISTRY_H_
#define STOCKADE_RUNNER_SERVICE_WIN_TREE_REGISTRY_H_

#include <windows.h>

#include <map>
#include <mutex>
#include <string>

#include "runner/win/launcher.h"

namespace stockade::runner::service::win_os {

class TreeRegistry {
 public:
  // Registers a live tree under its session id; `tree` must stay valid until Remove().
  // After StopAll() has run, Add() kills the tree at once and returns false.
  bool Add(const std::string& session_id, runner::win_os::ProcessTree* tree);
  void Remove(const std::string& session_id);
  // Kills every registered tree (their sessions then report killed) and refuses new ones.
  void StopAll();
  // The session whose job holds process `pid` ("" when none): IsProcessInJob on each tree.
  std::string SessionHolding(DWORD pid);
  std::size_t size();

 private:
  std::mutex mutex_;
  std::map<std::string, runner::win_os::ProcessTree*> trees_;
  bool stopping_ = false;
};

}  // namespace stockade::runner::service::win_os

#endif  // STOCKADE_RUNNER_SERVICE_WIN_TREE_REGISTRY_H_
