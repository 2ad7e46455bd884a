#include "cli/common/app.h"

#include "cli/common/exit_codes.h"
#include "core/version.h"

namespace stockade::cli {

void AddCommonOptions(CLI::App& app, const std::string& name, GlobalOptions& globals) {
  app.set_version_flag("--version", name + " " + kVersion);
  app.add_option("--policy", globals.policy_path, "Policy file (env STOCKADE_POLICY)");
  app.add_option("--state-dir", globals.state_dir, "State folder (env STOCKADE_STATE_DIR)");
  app.fallthrough();
}

int ParseArgs(CLI::App& app, const Args& args) {
  // CLI11 consumes a reversed vector without argv[0].
  std::vector<std::string> reversed(args.rbegin(), args.rend() - 1);
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  return -1;
}

}  // namespace stockade::cli
