// `stockade-provision`: the elevated, one-shot provisioner (identities, rules, grants, rollback).
#include "cli/common/app.h"
#include "cli/common/exit_codes.h"

namespace {

int ProvisionMain(const stockade::cli::Args& args) {
  using namespace stockade::cli;
  CLI::App app{"Stockade provisioner: creates, checks and removes the sandbox's identities and "
               "rules, journaling every change. Needs root / administrator.",
               "stockade-provision"};
  GlobalOptions globals;
  AddCommonOptions(app, "stockade-provision", globals);
  app.require_subcommand(1);

  int exit_code = kExitOk;
  RegisterNotImplemented(app, "stockade-provision",
                         {{"apply", "Provision the machine from the policy"},
                          {"status", "Compare the journal with the live system (drift)"},
                          {"repair", "Re-apply what drifted"},
                          {"grant", "Grant a workspace to the sandbox identities"},
                          {"revoke", "Revoke a workspace grant"},
                          {"rollback", "Undo the last transaction, or all"},
                          {"uninstall", "Roll back everything and scan for residue"}},
                         &exit_code);
  int parsed = ParseArgs(app, args);
  return parsed >= 0 ? parsed : exit_code;
}

}  // namespace

STOCKADE_MAIN(ProvisionMain)
