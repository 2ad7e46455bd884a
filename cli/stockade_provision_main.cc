// `stockade-provision`: the elevated, one-shot provisioner (identities, rules, grants, rollback).
#include "cli/common/app.h"
#include "cli/common/exit_codes.h"

namespace {

int ProvisionMain(const stockade::cli::Args& args) {
  using namespace stockade::cli;
  MakeCreatedFilesPrivate();
  CLI::App app{"Stockade provisioner: creates, checks and removes the sandbox's identities and "
               "rules, journaling every change. Needs root / administrator.",
               "stockade-provision"};
  GlobalOptions globals;
  AddCommonOptions(app, "stockade-provision", globals);
  app.require_subcommand(1);

  int exit_code = kExitOk;
  RegisterProvisionCommands(app, globals, &exit_code);
  int parsed = ParseArgs(app, args);
  return parsed >= 0 ? parsed : exit_code;
}

}  // namespace

STOCKADE_MAIN(ProvisionMain)
