// `stockaded` (the `Stockade` service on Windows): the privileged broker that authenticates
// callers, launches restricted trees and owns the audit store. The work lives in
// runner/service/serve.h; this file parses the command line.
#include <memory>

#include "cli/common/app.h"
#include "cli/common/exit_codes.h"
#include "cli/common/output.h"
#include "runner/service/serve.h"

namespace {

int StockadedMain(const stockade::cli::Args& args) {
  using namespace stockade::cli;
  MakeCreatedFilesPrivate();
  CLI::App app{"Stockade service: launches sandboxed process trees for `stockade run`.",
               "stockaded"};
  GlobalOptions globals;
  AddCommonOptions(app, "stockaded", globals);
  app.require_subcommand(1);

  int exit_code = kExitOk;
  auto socket = std::make_shared<std::string>();
  auto verbose = std::make_shared<int>(0);
  CLI::App* serve = app.add_subcommand(
      "serve",
      "Run the service in the foreground until SIGTERM/SIGINT: listens on the socket (mode "
      "0666; every request is authorised by the caller's uid against the policy and the "
      "journal's workspace grants) and launches each `stockade run` in a restricted tree. "
      "Needs root. Logs to <state-dir>/logs/stockaded.log and stderr.");
  serve->add_option("--socket", *socket,
                    "Socket path (env STOCKADE_SOCKET; default <state-dir>/stockaded.sock)");
  serve->add_flag("--foreground")->description(
      "Accepted for service managers; the service always runs in the foreground");
  serve->add_flag("-v,--verbose", *verbose, "More detail on stderr (repeatable)");
  serve->callback([&exit_code, &globals, socket, verbose] {
    stockade::runner::service::ServeOptions options;
    options.state_dir = globals.state_dir;
    options.policy_path = globals.policy_path;
    options.socket_path = *socket;
    options.verbose = *verbose;
    stockade::Status st = stockade::runner::service::Serve(options);
    exit_code = st.ok() ? kExitOk : ReportError("stockaded", st.error());
  });
  int parsed = ParseArgs(app, args);
  return parsed >= 0 ? parsed : exit_code;
}

}  // namespace

STOCKADE_MAIN(StockadedMain)
