// Running system tools from tests (useradd, userdel, setpriv, ...), shared by the suites that
// create real accounts. Linux only.
#ifndef STOCKADE_TESTS_SUPPORT_LINUX_RUN_TOOL_H_
#define STOCKADE_TESTS_SUPPORT_LINUX_RUN_TOOL_H_

#include <string>
#include <vector>

namespace stockade::testing {

// Runs argv[0] (an absolute path) with `argv`, stdout and stderr to /dev/null, and only
// PATH=/usr/sbin:/usr/bin:/sbin:/bin in its environment. Returns its exit status; -1 when it
// could not be started or did not exit normally (127: exec failed).
int RunQuiet(const std::vector<std::string>& argv);

// RunQuiet for a shadow-utils tool, retried for up to 5 s while it reports that another process
// holds the lock on /etc/passwd or /etc/group (exit 1 "cannot lock", 10 "cannot update group
// file"): test processes of other suites may be changing accounts at the same moment.
int RunShadowTool(const std::vector<std::string>& argv);

}  // namespace stockade::testing

#endif  // STOCKADE_TESTS_SUPPORT_LINUX_RUN_TOOL_H_
