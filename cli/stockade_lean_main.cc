// `stockade` on Linux: the lean front of the command line. `stockade run ... -- COMMAND` (the
// command agents start for every step, so its start-up cost is paid thousands of times) is run
// here, by a small statically linked executable that holds only the client's service path; every
// other command line, and every `run` it does not recognise as plain (cli/common/linux/
// fast_run.h), is handed unchanged to the full command line, `stockade-cli` beside this file,
// by execv: the same parser, help texts, messages and exit codes as before.
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cli/common/linux/fast_run.h"
#include "runner/client/client.h"
#include "runner/client/linux/run_common.h"

namespace {

// The full command line's file name; installed beside `stockade` (installer/CMakeLists.txt).
constexpr char kFullCli[] = "stockade-cli";

// Replaces this process with stockade-cli, with the same arguments; returns only on failure.
int ExecFullCli(char** argv) {
  char self[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  std::string path = kFullCli;
  if (n > 0) {
    std::string dir(self, static_cast<std::size_t>(n));
    dir.erase(dir.rfind('/') + 1);
    path = dir + kFullCli;
  }
  ::execv(path.c_str(), argv);
  const int err = errno;
  std::fprintf(stderr, "stockade: error: cannot start %s (%s): reinstall Stockade\n", path.c_str(),
               std::strerror(err));
  return 1;  // kExitFailure
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv, argv + argc);
  auto options =
      stockade::cli::ParseFastRun(args, std::getenv(stockade::runner::client::kUnprovisionedEnv));
  if (!options) return ExecFullCli(argv);
  const stockade::runner::client::RunResult result =
      stockade::runner::client::linux_os::RunThroughService(*options);
  // As cli/common/output.cc's ReportError prints it for `stockade run`.
  if (result.error) {
    std::fprintf(stderr, "stockade run: error: %s\n", result.error->ToString().c_str());
  }
  return result.exit_status;
}
