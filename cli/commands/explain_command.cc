// `stockade explain PATH|HOST:PORT [--identity offline|online] [--workspace DIR] [--json]`: the
// answer to "why was this denied?". The decision is core/policy/explain.h's (pure); this file
// gathers what it needs from the machine: the effective policy, the workspace and the queried
// path with symlinks resolved (the launcher resolves them too), the invoking user's home, the
// state folder, and, when the provisioning journal is readable, whether a live workspace grant
// covers the path.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <system_error>

#include "cli/commands/command.h"
#include "cli/common/exit_codes.h"
#include "cli/common/output.h"
#include "core/paths/locations.h"
#include "core/paths/path_rules.h"
#include "core/policy/explain.h"
#include "core/policy/policy.h"
#include "core/policy/policy_json.h"
#include "core/policy/policy_loader.h"
#include "provision/journal/journal.h"
#include "provision/step.h"

namespace stockade::cli {

namespace {

constexpr std::string_view kProgram = "stockade";
namespace fs = std::filesystem;

struct ExplainOptions {
  std::string target;
  std::string identity = "offline";
  std::string workspace;
};

fs::path FromUtf8(const std::string& s) {
  return fs::path(std::u8string(reinterpret_cast<const char8_t*>(s.data()), s.size()));
}

std::string ToUtf8(const fs::path& p) {
  const std::u8string u = p.u8string();
  return std::string(reinterpret_cast<const char*>(u.data()), u.size());
}

// Absolute, with every symlink of the existing prefix resolved (what the kernel would open);
// falls back to the lexical absolute path when the OS cannot resolve it.
std::string Resolve(const std::string& path) {
  std::error_code ec;
  fs::path absolute = fs::absolute(FromUtf8(path), ec);
  if (ec) return path;
  fs::path canonical = fs::weakly_canonical(absolute, ec);
  return ToUtf8(ec ? absolute : canonical);
}

std::string StateDir(const GlobalOptions& globals) {
  return globals.state_dir.empty() ? paths::DefaultStateDir() : globals.state_dir;
}

// The live workspace grant (journal) covering `path`, as {workspace, transaction}; null when
// none; a string saying why when the journal cannot be read (not provisioned, no permission).
nlohmann::json GrantCovering(const std::string& state_dir, const std::string& path) {
  auto journal = provision::Journal::Open(state_dir, {.read_only = true});
  if (!journal.ok()) return "journal not readable: " + journal.error().ToString();
  auto live = journal->LiveSteps();
  if (!live.ok()) return "journal not readable: " + live.error().ToString();
  const paths::PathStyle style = paths::NativeStyle();
  for (const provision::StepRecord& step : *live) {
    if (step.spec.kind != provision::kind::kWorkspaceGrant) continue;
    const std::string root = step.spec.params.value("path", "");
    if (!root.empty() && paths::IsWithin(path, root, style)) {
      return {{"workspace", root}, {"transaction", step.txn_id}};
    }
  }
  return nullptr;
}

nlohmann::json DecisionJson(const explain::Decision& d) {
  return {{"access", d.access},
          {"verdict", explain::VerdictName(d.verdict)},
          {"rule", explain::RuleKindName(d.rule)},
          {"policy_key", d.policy_key},
          {"pattern", d.pattern},
          {"expanded", d.expanded},
          {"reason", d.reason}};
}

void PrintDecision(const explain::Decision& d) {
  std::cout << "  " << d.access << ": " << explain::VerdictName(d.verdict) << " — " << d.reason
            << "\n";
}

void PrintJson(const nlohmann::json& j) {
  std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

int Run(const ExplainOptions& options, const GlobalOptions& globals) {
  const bool json = globals.json;
  IdentityKind identity;
  if (options.identity == "offline") {
    identity = IdentityKind::kOffline;
  } else if (options.identity == "online") {
    identity = IdentityKind::kOnline;
  } else {
    ReportError(kProgram,
                Error(ErrorCode::kInvalidArgument,
                      "--identity \"" + options.identity + "\": expected offline or online"),
                json);
    return kExitUsage;
  }
  Expected<Policy> policy = LoadEffectivePolicy(globals.policy_path);
  if (!policy.ok()) {
    ReportError(kProgram, policy.error(), json);
    return kExitPolicyInvalid;
  }
  nlohmann::json out{{"ok", true},
                     {"target", options.target},
                     {"identity", IdentityKindName(identity)},
                     {"account", policy->IdentityName(identity)},
                     {"policy", policy->source},
                     {"policy_sha256", PolicyHash(*policy)}};

  if (explain::LooksLikeAddress(options.target, paths::NativeStyle())) {
    Expected<explain::Address> address = explain::ParseAddress(options.target);
    if (!address.ok()) {
      ReportError(kProgram, address.error(), json);
      return kExitUsage;
    }
    const explain::Decision d = explain::ExplainAddress(*policy, identity, *address);
    out["kind"] = "address";
    out["decisions"] = {DecisionJson(d)};
    if (json) {
      PrintJson(out);
    } else {
      std::cout << options.target << " as " << policy->IdentityName(identity) << " (policy "
                << policy->source << "):\n";
      PrintDecision(d);
    }
    return kExitOk;
  }

  explain::ExplainContext context;
  context.workspace = Resolve(options.workspace.empty() ? "." : options.workspace);
  const std::string state_dir = StateDir(globals);
  context.state_dir = Resolve(state_dir);
  // Each run's {temp} is its own folder below <state_dir>/tmp (docs/runner-design): any folder
  // there stands for "this run's temp".
  context.temp = ToUtf8(FromUtf8(context.state_dir) / "tmp");
  Expected<std::string> home = paths::CurrentUserHome();
  if (home.ok()) context.home = *home;
  context.env = [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
  const std::string resolved = Resolve(options.target);
  Expected<explain::PathExplanation> e = explain::ExplainPath(*policy, identity, resolved, context);
  if (!e.ok()) {
    ReportError(kProgram, e.error(), json);
    return kExitUsage;
  }
  const nlohmann::json grant = GrantCovering(state_dir, e->path);
  out["kind"] = "path";
  out["path"] = e->path;
  out["workspace"] = context.workspace;
  out["temp_root"] = context.temp;
  out["home"] = context.home;
  out["decisions"] = {DecisionJson(e->read), DecisionJson(e->write)};
  out["skipped"] = e->skipped;
  out["grant"] = grant;
  if (json) {
    PrintJson(out);
    return kExitOk;
  }
  std::cout << e->path;
  if (e->path != options.target) std::cout << " (from " << options.target << ")";
  std::cout << " as " << policy->IdentityName(identity) << ", workspace " << context.workspace
            << " (policy " << policy->source << "):\n";
  PrintDecision(e->read);
  PrintDecision(e->write);
  if (grant.is_object()) {
    std::cout << "  grant: inside the live workspace grant of "
              << grant["workspace"].get<std::string>() << " (journal transaction "
              << grant["transaction"].get<std::int64_t>() << ")\n";
  } else if (grant.is_null()) {
    std::cout << "  grant: no live workspace grant covers this path (a run with it as "
                 "workspace would be refused)\n";
  } else {
    std::cout << "  grant: unknown (" << grant.get<std::string>() << ")\n";
  }
  for (const std::string& s : e->skipped) std::cout << "  not applied here: " << s << "\n";
  return kExitOk;
}

}  // namespace

void RegisterExplainCommand(CLI::App& parent, GlobalOptions& globals, int* exit_code) {
  auto options = std::make_shared<ExplainOptions>();
  CLI::App* cmd = parent.add_subcommand(
      "explain",
      "Say whether a sandbox identity may read and write PATH, or reach HOST:PORT over TCP, and "
      "which policy rule decides (\"why was this denied?\"). Paths are resolved (symlinks "
      "followed) as the sandbox would open them; relative paths are taken from the current "
      "folder. Exits 0 whatever the verdict; 3 when the policy cannot be loaded, 2 on bad "
      "usage.");
  cmd->add_option("TARGET", options->target, "A path, or HOST:PORT ([IPV6]:PORT)")->required();
  cmd->add_option("--identity", options->identity, "offline (default) or online");
  cmd->add_option("--workspace", options->workspace,
                  "The workspace {workspace} stands for (default: the current folder)");
  cmd->add_flag("--json", globals.json, "Print the answer as JSON");
  cmd->callback([options, &globals, exit_code] { *exit_code = Run(*options, globals); });
}

}  // namespace stockade::cli
