// `stockaded` (the `Stockade` service on Windows): the privileged broker that authenticates
// callers, launches restricted trees and owns the audit store.
#include "cli/common/app.h"
#include "cli/common/exit_codes.h"

namespace {

int StockadedMain(const stockade::cli::Args& args) {
  using namespace stockade::cli;
  CLI::App app{"Stockade service: launches sandboxed process trees for `stockade run`.",
               "stockaded"};
  GlobalOptions globals;
  AddCommonOptions(app, "stockaded", globals);
  app.require_subcommand(1);

  int exit_code = kExitOk;
  RegisterNotImplemented(app, "stockaded",
                         {{"serve", "Run the service in the foreground"}}, &exit_code);
  int parsed = ParseArgs(app, args);
  return parsed >= 0 ? parsed : exit_code;
}

}  // namespace

STOCKADE_MAIN(StockadedMain)
