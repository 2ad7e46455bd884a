// The `stockade run` command lines that the lean `stockade` executable (cli/stockade_lean_main.cc)
// runs itself, without the full command line (CLI11, spdlog, SQLite, OpenSSL, toml++: 11 shared
// libraries and several milliseconds of start-up per run); every other command line goes to the
// full one, stockade-cli, unchanged.
#ifndef STOCKADE_CLI_COMMON_LINUX_FAST_RUN_H_
#define STOCKADE_CLI_COMMON_LINUX_FAST_RUN_H_

#include <optional>
#include <string>
#include <vector>

#include "runner/client/client.h"

namespace stockade::cli {

// The RunOptions of `args` (argv[0] included) when it is exactly
//   stockade [GLOBAL...] run [OPTION...] -- COMMAND [ARGS...]
// with GLOBAL one of --policy P, --state-dir D and OPTION one of those or --identity
// offline|online, --workspace DIR, --timeout SECONDS (digits, optionally a fraction, at most the
// protocol's 7 days), --env NAME=VALUE (repeatable), --socket PATH; each value as the next
// argument or after '=', not empty and not starting with '-'; no option but --env given twice;
// and the unprovisioned mode not asked for (no --unprovisioned; `unprovisioned_env`, the value of
// STOCKADE_UNPROVISIONED, not "1"). The options are what `stockade-cli run` (CLI11,
// cli/commands/run_command.cc) makes of the same line.
// Anything else returns nullopt: --help, --version, another command, an unknown, repeated or
// misplaced option, a value the full parser checks or converts itself, no `--` or no command
// after it. The caller then hands the line to the full command line, which answers it with its
// own messages and exit codes.
std::optional<runner::client::RunOptions> ParseFastRun(const std::vector<std::string>& args,
                                                       const char* unprovisioned_env);

}  // namespace stockade::cli

#endif  // STOCKADE_CLI_COMMON_LINUX_FAST_RUN_H_
