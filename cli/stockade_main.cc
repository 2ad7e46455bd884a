// `stockade`: the thin client run by users, agents and scripts. No elevation.
#include "cli/common/app.h"
#include "cli/common/exit_codes.h"

namespace {

int StockadeMain(const stockade::cli::Args& args) {
  using namespace stockade::cli;
  CLI::App app{"Stockade: run AI coding agents' commands in a restricted sandbox.", "stockade"};
  GlobalOptions globals;
  AddCommonOptions(app, "stockade", globals);
  app.require_subcommand(1);

  int exit_code = kExitOk;
  RegisterPolicyCommands(app, globals, &exit_code);
  RegisterRunCommand(app, globals, &exit_code);
  RegisterExplainCommand(app, globals, &exit_code);
  RegisterAuditCommands(app, globals, &exit_code);
  // After the command that creates `audit` (query/export/verify/tail), when it is registered.
  RegisterAuditReviewCommands(app, globals, &exit_code);
  RegisterSelftestCommand(app, globals, &exit_code);
  RegisterNotImplemented(app, "stockade",
                         {{"status", "Show the sandbox's state on this machine"}},
                         &exit_code);
  int parsed = ParseArgs(app, args);
  return parsed >= 0 ? parsed : exit_code;
}

}  // namespace

STOCKADE_MAIN(StockadeMain)
