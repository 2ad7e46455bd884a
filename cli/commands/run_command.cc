// `stockade run [--identity offline|online] [--workspace DIR] [--timeout SECONDS]
// [--env NAME=VALUE ...] [--socket PATH] [--unprovisioned] -- COMMAND [ARGS...]`: parse, hand
// over to the client (runner/client/client.h), print its error if any, exit with its status.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "cli/commands/command.h"
#include "cli/common/exit_codes.h"
#include "cli/common/output.h"
#include "runner/client/client.h"

namespace stockade::cli {

namespace client = runner::client;

// The client's statuses are the documented exit codes; a renumbering on either side must fail
// the build, not the fleet's scripts.
static_assert(client::kStatusUsage == kExitUsage);
static_assert(client::kStatusUnavailable == kExitUnavailable);
static_assert(client::kStatusRefused == kExitRunRefused);
static_assert(client::kStatusTimeout == kExitRunTimeout);
static_assert(client::kStatusSandbox == kExitRunSandbox);
static_assert(client::kStatusNotExecutable == kExitRunNotExecutable);
static_assert(client::kStatusNotFound == kExitRunNotFound);

namespace {

constexpr double kMaxTimeoutSeconds = 7.0 * 24 * 3600;  // the protocol's limit

std::string Footer() {
  std::string text =
      "\nThe command runs as the sandbox identity (offline: no network; online: network), in a\n"
      "process tree the Stockade service starts: it may write only inside the workspace (a\n"
      "folder granted with `stockade-provision grant`, default: the current folder) and its\n"
      "per-run temp folder, never into .git/.codex/.agents or the policy's protected paths, and\n"
      "may not read the policy's deny-read paths. Terminals are relayed through a new\n"
      "pseudo-terminal (window size follows); pipes and files are handed over as they are. Only\n"
      "PATH, TERM, COLORTERM, LANG, LANGUAGE, LC_*, TZ and NO_COLOR of your environment are\n"
      "passed; add others with --env. Ctrl-C, SIGTERM, SIGHUP, the timeout and the client's own\n"
      "death kill the whole tree.\n"
      "\nExit status: the command's own; 128+N when signal N ended it (130 after Ctrl-C);\n"
      "  124 the timeout killed it; 125 the sandbox could not be set up; 126 the command is not\n"
      "  executable; 127 not found; 122 the service refused (workspace not granted to you,\n"
      "  identity not provisioned, caller not allowed); 8 the service is not running;\n"
      "  2 bad command line.\n"
      "\nEnvironment: STOCKADE_SOCKET (the service's socket), STOCKADE_UNPROVISIONED=1 (same as\n"
      "  --unprovisioned), STOCKADE_POLICY and STOCKADE_STATE_DIR.\n\n";
  text += client::UnprovisionedLimitsText();
  return text;
}

}  // namespace

void RegisterRunCommand(CLI::App& parent, GlobalOptions& globals, int* exit_code) {
  struct State {
    client::RunOptions options;
    double timeout_seconds = 0;
  };
  auto state = std::make_shared<State>();
  CLI::App* run = parent.add_subcommand("run", "Run a command in the sandbox");
  run->footer(Footer());
  run->add_option("--identity", state->options.identity,
                  "Sandbox identity: offline (no network) or online")
      ->check(CLI::IsMember({"offline", "online"}))
      ->default_str("offline");
  run->add_option("--workspace", state->options.workspace,
                  "The granted folder the command may write in (default: the current folder)");
  run->add_option("--timeout", state->timeout_seconds,
                  "Kill the whole tree after SECONDS (fractions allowed; default: none)")
      ->check(CLI::Range(0.0, kMaxTimeoutSeconds));
  run->add_option("--env", state->options.env,
                  "Set NAME=VALUE in the command's environment (repeatable)")
      ->take_all()
      ->allow_extra_args(false);
  run->add_option("--socket", state->options.socket_path,
                  "The service's socket (env STOCKADE_SOCKET; default <state dir>/stockaded.sock)");
  run->add_flag("--unprovisioned", state->options.unprovisioned,
                "Run without the service, as yourself, with weaker guarantees (see below; env "
                "STOCKADE_UNPROVISIONED=1)");
  run->add_option("COMMAND", state->options.argv,
                  "The command and its arguments; put -- before them: stockade run [OPTIONS] -- "
                  "COMMAND [ARGS...]")
      ->required();

  run->callback([state, &globals, exit_code] {
    client::RunOptions options = state->options;
    options.timeout = std::chrono::milliseconds(
        static_cast<long long>(std::llround(state->timeout_seconds * 1000.0)));
    if (state->timeout_seconds > 0 && options.timeout.count() == 0) {
      options.timeout = std::chrono::milliseconds(1);
    }
    options.policy_path = globals.policy_path;
    options.state_dir = globals.state_dir;
    client::RunResult result = client::Run(options);
    if (result.error) ReportError("stockade run", *result.error);
    *exit_code = result.exit_status;
  });
}

}  // namespace stockade::cli
