// `stockade policy check [FILE]` and `stockade policy show [FILE]`: validate a policy file, and
// show the policy that commands would run under. Any failure to load a policy exits with
// kExitPolicyInvalid (3), whether the file is missing, unreadable or invalid: for a fleet's
// deployment script they all mean "this machine has no usable policy".
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands/command.h"
#include "cli/common/exit_codes.h"
#include "cli/common/output.h"
#include "core/policy/policy.h"
#include "core/policy/policy_json.h"
#include "core/policy/policy_loader.h"

namespace stockade::cli {

namespace {

constexpr std::string_view kProgram = "stockade";

std::string PortList(const std::vector<std::uint16_t>& ports) {
  std::string out;
  for (std::uint16_t port : ports) {
    if (!out.empty()) out += ", ";
    out += std::to_string(port);
  }
  return out;
}

std::string NetworkText(const NetworkPolicy& network) {
  std::string out = NetworkModeName(network.mode);
  if (network.mode == NetworkMode::kBlocked) {
    out += network.loopback_ports.empty()
               ? " (no loopback ports)"
               : " (loopback ports " + PortList(network.loopback_ports) + ")";
  }
  return out;
}

// One line that says what the policy does, for "FILE: OK (...)".
std::string Summary(const Policy& policy) {
  const FilesystemPolicy& fs = policy.filesystem;
  return "version " + std::to_string(policy.version) + "; identities " +
         policy.IdentityName(IdentityKind::kOffline) + ", " +
         policy.IdentityName(IdentityKind::kOnline) + "; offline network " +
         NetworkText(policy.offline) + "; online network " + NetworkText(policy.online) + "; " +
         std::to_string(fs.writable_roots.size()) + " writable roots, " +
         std::to_string(fs.protected_paths.size()) + " protected, " +
         std::to_string(fs.deny_read.size()) + " deny-read; at most " +
         std::to_string(policy.limits.max_processes) + " processes and " +
         std::to_string(policy.limits.memory_mb) + " MB; audit kept " +
         std::to_string(policy.audit.retention_days) + " days, fail " +
         (policy.audit.fail_open ? "open" : "closed");
}

nlohmann::json Document(const Policy& policy) {
  return {{"ok", true},
          {"source", policy.source},
          {"sha256", PolicyHash(policy)},
          {"summary", Summary(policy)},
          {"policy", PolicyToJson(policy)}};
}

void PrintJson(const nlohmann::json& document) {
  std::cout << document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

int Failed(const Error& error, bool json) {
  ReportError(kProgram, error, json);
  return kExitPolicyInvalid;
}

Expected<Policy> Load(const std::string& file, const GlobalOptions& globals) {
  if (!file.empty()) return LoadPolicyFile(file);
  return LoadEffectivePolicy(globals.policy_path);
}

int RunCheck(const std::string& file, const GlobalOptions& globals) {
  Expected<Policy> policy = Load(file, globals);
  if (!policy.ok()) return Failed(policy.error(), globals.json);
  if (globals.json) {
    PrintJson(Document(*policy));
  } else {
    std::cout << policy->source << ": OK (" << Summary(*policy) << ")\n";
  }
  return kExitOk;
}

void PrintRow(std::string_view label, std::string_view value) {
  constexpr std::size_t kWidth = 17;
  std::string padded(label);
  padded.resize(std::max(kWidth, label.size() + 1), ' ');
  std::cout << padded << value << "\n";
}

void PrintList(std::string_view label, const std::vector<std::string>& values) {
  if (values.empty()) {
    PrintRow(label, "(none)");
    return;
  }
  for (std::size_t i = 0; i < values.size(); ++i) PrintRow(i == 0 ? label : "", values[i]);
}

int RunShow(const std::string& file, const GlobalOptions& globals) {
  Expected<Policy> policy = Load(file, globals);
  if (!policy.ok()) return Failed(policy.error(), globals.json);
  if (globals.json) {
    PrintJson(Document(*policy));
    return kExitOk;
  }
  const Policy& p = *policy;
  PrintRow("source", p.source);
  PrintRow("sha256", PolicyHash(p));
  PrintRow("version", std::to_string(p.version));
  PrintRow("identities", p.IdentityName(IdentityKind::kOffline) + ", " +
                             p.IdentityName(IdentityKind::kOnline) + " (group " + p.GroupName() +
                             ")");
  PrintRow("network.offline", NetworkText(p.offline));
  PrintRow("network.online", NetworkText(p.online));
  PrintList("writable_roots", p.filesystem.writable_roots);
  PrintList("protected", p.filesystem.protected_paths);
  PrintList("deny_read", p.filesystem.deny_read);
  PrintRow("max_processes", std::to_string(p.limits.max_processes));
  PrintRow("memory_mb", std::to_string(p.limits.memory_mb));
  PrintRow("retention_days", std::to_string(p.audit.retention_days));
  PrintRow("fail_open", p.audit.fail_open ? "true" : "false");
  PrintRow("fsync", p.audit.fsync ? "true" : "false");
  return kExitOk;
}

}  // namespace

void RegisterPolicyCommands(CLI::App& parent, GlobalOptions& globals, int* exit_code) {
  CLI::App* policy = parent.add_subcommand("policy", "Check or show the sandbox policy");
  policy->require_subcommand(1);

  // The positional values live as long as the callbacks that read them.
  auto check_file = std::make_shared<std::string>();
  CLI::App* check = policy->add_subcommand(
      "check",
      "Validate a policy file: prints \"FILE: OK (summary)\" and exits 0, or names the file, "
      "line, column and problem and exits 3. Without FILE, checks the effective policy "
      "(--policy, STOCKADE_POLICY, the default location, or the embedded default).");
  check->add_option("FILE", *check_file, "Policy file (TOML)");
  check->add_flag("--json", globals.json, "Print the result (or the error) as JSON on stdout");
  check->callback(
      [check_file, &globals, exit_code] { *exit_code = RunCheck(*check_file, globals); });

  auto show_file = std::make_shared<std::string>();
  CLI::App* show = policy->add_subcommand(
      "show",
      "Show the effective policy with every default filled in: FILE if given, else --policy, "
      "else STOCKADE_POLICY, else the default location if a file is there, else the embedded "
      "default. Exits 3 if that policy cannot be loaded.");
  show->add_option("FILE", *show_file, "Policy file (TOML)");
  show->add_flag("--json", globals.json, "Print the policy, its source and SHA-256 as JSON");
  show->callback([show_file, &globals, exit_code] { *exit_code = RunShow(*show_file, globals); });
}

}  // namespace stockade::cli
