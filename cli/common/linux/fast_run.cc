#include "cli/common/linux/fast_run.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string_view>

namespace stockade::cli {

namespace {

constexpr double kMaxTimeoutSeconds = 7.0 * 24 * 3600;  // run_command.cc's (the protocol's)

// "123" or "1.5": what std::strtod and CLI11 read alike. Other spellings CLI11 may accept
// ("1e3", " 5", "0x10", "inf") are left to it.
bool PlainDecimal(std::string_view s) {
  std::size_t i = 0;
  std::size_t digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  if (digits == 0) return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    std::size_t fraction = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++fraction;
    if (fraction == 0) return false;
  }
  return i == s.size() && digits <= 9;
}

}  // namespace

std::optional<runner::client::RunOptions> ParseFastRun(const std::vector<std::string>& args,
                                                       const char* unprovisioned_env) {
  if (unprovisioned_env != nullptr && std::strcmp(unprovisioned_env, "1") == 0) return {};
  runner::client::RunOptions options;
  std::set<std::string> seen;
  double timeout_seconds = 0;
  bool in_run = false;
  std::size_t i = 1;
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!in_run) {
      if (arg == "run") {
        in_run = true;
        continue;
      }
    } else if (arg == "--") {
      break;
    }
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) return {};  // positional, -h, ...
    std::string name = arg;
    std::string value;
    const std::size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    } else {
      if (i + 1 >= args.size()) return {};
      value = args[++i];
    }
    if (value.empty() || value[0] == '-') return {};
    const bool global = name == "--policy" || name == "--state-dir";
    if (!global && !in_run) return {};
    if (name != "--env" && !seen.insert(name).second) return {};
    if (name == "--policy") {
      options.policy_path = value;
    } else if (name == "--state-dir") {
      options.state_dir = value;
    } else if (name == "--identity") {
      if (value != "offline" && value != "online") return {};
      options.identity = value;
    } else if (name == "--workspace") {
      options.workspace = value;
    } else if (name == "--timeout") {
      if (!PlainDecimal(value)) return {};
      timeout_seconds = std::strtod(value.c_str(), nullptr);
      if (!(timeout_seconds <= kMaxTimeoutSeconds)) return {};
    } else if (name == "--env") {
      options.env.push_back(value);
    } else if (name == "--socket") {
      options.socket_path = value;
    } else {
      return {};  // --unprovisioned, --help, --version, an unknown option
    }
  }
  if (!in_run || i >= args.size() || i + 1 >= args.size()) return {};  // no "--" or no command
  options.argv.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
  // As run_command.cc converts it.
  options.timeout =
      std::chrono::milliseconds(static_cast<long long>(std::llround(timeout_seconds * 1000.0)));
  if (timeout_seconds > 0 && options.timeout.count() == 0) {
    options.timeout = std::chrono::milliseconds(1);
  }
  return options;
}

}  // namespace stockade::cli
