// Running the OS's administration tools (useradd, userdel, groupadd, groupdel) the safe way:
// fork + execve of an absolute path, no shell, a fixed minimal environment, stdout and stderr
// captured so that a failure can be reported with the tool's own words.
#ifndef STOCKADE_PROVISION_LINUX_PROCESS_H_
#define STOCKADE_PROVISION_LINUX_PROCESS_H_

#include <chrono>
#include <string>
#include <vector>

#include "core/error.h"

namespace stockade::provision::linux_os {

struct ProgramResult {
  int exit_code = -1;   // the exit status, or -1 when the program was killed by a signal
  int term_signal = 0;  // the signal that killed it, 0 when it exited
  std::string out;      // everything it wrote to stdout
  std::string err;      // everything it wrote to stderr

  bool succeeded() const { return exit_code == 0; }
  // "exit status 8: userdel: user x is currently used by process 12" (stderr trimmed).
  std::string Summary() const;
};

// Runs argv[0] (an absolute path; PATH is not searched) with `argv`, stdin from /dev/null, the
// environment PATH=/usr/sbin:/usr/bin:/sbin:/bin and LC_ALL=C (so messages are not translated),
// and every other descriptor closed. Returns when the program has exited.
// Errors: kInvalidArgument for an empty or relative argv[0]; kOs (errno) when the program cannot
// be started (pipe, fork or execve failed: the execve errno is reported); kTimeout when it runs
// longer than `timeout` (it is killed and reaped first).
Expected<ProgramResult> RunProgram(const std::vector<std::string>& argv,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace stockade::provision::linux_os

#endif  // STOCKADE_PROVISION_LINUX_PROCESS_H_
