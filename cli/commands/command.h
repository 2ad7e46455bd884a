// How subcommands plug into an executable's CLI11 app. Each Register* function adds its
// subcommand(s) to `parent`; when one is chosen, its callback stores the exit code in
// `*exit_code`. Parsing and dispatch stay in the mains; the work lives in the modules.
#ifndef STOCKADE_CLI_COMMANDS_COMMAND_H_
#define STOCKADE_CLI_COMMANDS_COMMAND_H_

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace CLI {
class App;
}

namespace stockade::cli {

struct GlobalOptions {
  std::string policy_path;  // --policy, or STOCKADE_POLICY, or the platform default
  std::string state_dir;    // --state-dir, or STOCKADE_STATE_DIR, or the platform default
  bool json = false;        // --json where the subcommand supports it
};

// `stockade policy check FILE` and `stockade policy show [--json]`.
void RegisterPolicyCommands(CLI::App& parent, GlobalOptions& globals, int* exit_code);

// `stockade-provision apply|status|repair|grant|revoke|rollback|uninstall`
// (cli/commands/provision_commands.cc).
void RegisterProvisionCommands(CLI::App& parent, GlobalOptions& globals, int* exit_code);

// `stockade run [--identity ...] [--workspace DIR] [--timeout SECONDS] [--env NAME=VALUE ...]
// [--socket PATH] [--unprovisioned] -- COMMAND [ARGS...]` (cli/commands/run_command.cc): the
// exit code is the client's (runner/client/client.h: the command's status or 2/8/122/124-127).
void RegisterRunCommand(CLI::App& parent, GlobalOptions& globals, int* exit_code);

// `stockade explain PATH|HOST:PORT [--identity offline|online] [--workspace DIR] [--json]`
// (cli/commands/explain_command.cc): which policy rule allows or denies it.
void RegisterExplainCommand(CLI::App& parent, GlobalOptions& globals, int* exit_code);

// `stockade audit query|export|verify|tail` (cli/commands/audit_command.cc): creates the `audit`
// subcommand; call it before RegisterAuditReviewCommands. verify exits kExitVerification (7)
// when the trail is broken.
void RegisterAuditCommands(CLI::App& parent, GlobalOptions& globals, int* exit_code);

// `stockade audit report --html FILE [filters]` and `stockade audit forward --to HOST:PORT
// [--from-seq N] [--follow] [filters]` (cli/commands/audit_report_command.cc). Adds them to the
// existing `audit` subcommand of `parent`, creating it when absent: call it after the function
// that registers `audit query|export|verify|tail`.
void RegisterAuditReviewCommands(CLI::App& parent, GlobalOptions& globals, int* exit_code);

// `stockade selftest [--identity ...] [--workspace DIR] [--unprovisioned] [--socket S]
// [--probe NAME ...] [--json]` (cli/commands/selftest_command.cc): exit 0, 10 (escaped/failed),
// 11 (only the unprovisioned mode's documented limits escaped), or stockade run's own code.
void RegisterSelftestCommand(CLI::App& parent, GlobalOptions& globals, int* exit_code);

// Subcommands that exist in the interface but are not built yet: each says so plainly and
// exits with kExitNotImplemented. `names` are {name, description} pairs.
void RegisterNotImplemented(CLI::App& parent, std::string_view program,
                            std::initializer_list<std::pair<const char*, const char*>> names,
                            int* exit_code);

}  // namespace stockade::cli

#endif  // STOCKADE_CLI_COMMANDS_COMMAND_H_
