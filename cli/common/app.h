// Shared CLI11 setup of the three executables: version flag, global options, parsing with the
// documented exit codes.
#ifndef STOCKADE_CLI_COMMON_APP_H_
#define STOCKADE_CLI_COMMON_APP_H_

#include <CLI/CLI.hpp>
#include <string>

#include "cli/commands/command.h"
#include "cli/common/main_args.h"

namespace stockade::cli {

// Adds --version ("<name> <version>"), --policy and --state-dir to `app`.
void AddCommonOptions(CLI::App& app, const std::string& name, GlobalOptions& globals);

// Parses `args` (argv[0] included). Returns the exit code to stop with when parsing ended the
// run (--help, --version: 0; bad usage: kExitUsage), or -1 to go on and run the callbacks' result.
int ParseArgs(CLI::App& app, const Args& args);

}  // namespace stockade::cli

#endif  // STOCKADE_CLI_COMMON_APP_H_
