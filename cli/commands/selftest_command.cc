// `stockade selftest [--identity offline|online] [--workspace DIR] [--unprovisioned]
// [--socket S] [--probe NAME ...] [--json]`: attacks the sandbox on this machine from inside
// and reports each probe (runner/selftest/selftest.h, docs/selftest.md). Exit status: 0 when every
// attack was blocked and every allowed action works; 10 when anything escaped or failed; 11 when
// (unprovisioned) only that mode's documented limits escaped; stockade run's own codes (8, 122,
// ...) when no probe could be run at all.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands/command.h"
#include "cli/common/exit_codes.h"
#include "cli/common/output.h"
#include "core/error.h"
#include "runner/selftest/selftest.h"

namespace stockade::cli {

namespace {

static_assert(runner::selftest::kSelftestFailed == kExitSelftestFailed);
static_assert(runner::selftest::kSelftestLimits == kExitSelftestLimits);

}  // namespace

void RegisterSelftestCommand(CLI::App& parent, GlobalOptions& globals, int* exit_code) {
  struct State {
    runner::selftest::SelftestOptions options;
    bool json = false;
    bool quiet = false;
  };
  auto state = std::make_shared<State>();
  CLI::App* cmd = parent.add_subcommand(
      "selftest", "Attack the sandbox on this machine from inside and report");
  cmd->footer(
      "Runs every probe (docs/selftest.md) through `stockade run` as this user, checks from\n"
      "outside what it changed, and prints BLOCKED/ESCAPED for attacks and OK/FAIL for the\n"
      "actions that must keep working (write in the workspace, compile, git status).\n"
      "Exit status: 0 all blocked and working; 10 something escaped or failed; 11 only the\n"
      "unprovisioned mode's documented limits escaped; 8/122/125 when `stockade run` could not\n"
      "run any probe (service down, workspace not granted, sandbox setup failed).");
  cmd->add_option("--identity", state->options.identity, "Sandbox identity: offline or online")
      ->check(CLI::IsMember({"offline", "online"}))
      ->default_str("offline");
  cmd->add_option("--workspace", state->options.workspace,
                  "A granted folder to run the probes in (default: the current folder); the "
                  "selftest adds and removes a scratch folder in it");
  cmd->add_flag("--unprovisioned", state->options.unprovisioned,
                "Test the unprovisioned mode (no service): its documented limits show as LIMIT");
  cmd->add_option("--socket", state->options.socket_path, "The service's socket");
  cmd->add_option("--probe", state->options.only, "Run only this probe (repeatable)");
  cmd->add_flag("--json", state->json, "Print the report as JSON on stdout");
  cmd->add_flag("--quiet", state->quiet, "No progress lines on stderr");

  cmd->callback([state, &globals, exit_code, cmd] {
    runner::selftest::SelftestOptions options = state->options;
    options.policy_path = globals.policy_path;
    options.state_dir = globals.state_dir;
    std::string argv0 = "stockade";
    if (const CLI::App* root = cmd->get_parent(); root != nullptr) argv0 = root->get_name();
    options.stockade_path = runner::selftest::ThisExecutablePath();
    if (options.stockade_path.empty()) options.stockade_path = argv0;
    const bool quiet = state->quiet;
    auto progress = [quiet](const runner::selftest::ProbeResult& r) {
      if (quiet) return;
      std::cerr << "selftest: " << r.info->name << ": " << runner::selftest::VerdictName(r.verdict)
                << "\n";
    };
    // No exception escapes: a library throwing in the middle still ends in a clean error (the
    // selftest's destructors have removed its targets by then).
    Expected<runner::selftest::SelftestReport> report =
        Error(ErrorCode::kInternal, "selftest did not run");
    try {
      report = runner::selftest::RunSelftest(options, progress);
    } catch (const std::exception& e) {
      report =
          Error(ErrorCode::kInternal, std::string("selftest: unexpected exception: ") + e.what());
    }
    if (!report) {
      *exit_code = ReportError("stockade selftest", report.error(), state->json);
      return;
    }
    if (state->json) {
      std::cout << runner::selftest::FormatJson(*report) << "\n";
    } else {
      std::cout << runner::selftest::FormatTable(*report);
    }
    std::cout.flush();
    *exit_code = runner::selftest::SelftestExitCode(*report);
  });
}

}  // namespace stockade::cli
