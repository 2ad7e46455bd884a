// Process and file helpers of the Linux selftest orchestrator (outside the sandbox).
#ifndef STOCKADE_RUNNER_SELFTEST_LINUX_HOST_UTIL_H_
#define STOCKADE_RUNNER_SELFTEST_LINUX_HOST_UTIL_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "core/error.h"

namespace stockade::runner::selftest::linux_host {

struct Captured {
  int status = -1;     // exit code, or 128 + signal
  std::string output;  // stdout and stderr together
};

// Runs argv (argv[0] absolute) in `cwd` with this process's environment, output captured, killed
// (its process group) after `timeout_ms`. Errors: kOs when it cannot be started.
Expected<Captured> RunCaptured(const std::vector<std::string>& argv, const std::string& cwd,
                               int timeout_ms);

// Starts argv in the background with stdio on /dev/null; returns its pid.
Expected<pid_t> StartBackground(const std::vector<std::string>& argv);

// Live (not zombie) processes whose command line contains `needle`, except those in `exclude`:
// "pid N (uid U): cmdline".
std::vector<std::string> ProcessesWith(const std::string& needle, const std::vector<pid_t>& exclude,
                                       std::vector<pid_t>* pids);
bool Alive(pid_t pid);

// Whole small files.
Expected<std::string> ReadAll(const std::string& path);
Status WriteAll(const std::string& path, const std::string& text, unsigned mode);
// The names in a folder, sorted ("." and ".." left out). Empty when it cannot be read.
std::vector<std::string> ListDir(const std::string& path);
// Removes a file or a whole tree (best effort, no symlink following).
void RemoveTree(const std::string& path);
// The first executable called `name` in $PATH, or "".
std::string FindInPath(const std::string& name);
bool Exists(const std::string& path);

}  // namespace stockade::runner::selftest::linux_host

#endif  // STOCKADE_RUNNER_SELFTEST_LINUX_HOST_UTIL_H_
