// `stockade-provision apply|status|repair|grant|revoke|rollback|uninstall`: the provisioner's
// commands. Each one checks elevation, loads the policy when it needs it, opens the executor
// (which takes the provision lock and resolves what a crashed run left open) and reports on
// stdout (results, --json documents) and stderr (progress, errors). Exit codes:
// docs/exit-codes.md (4 not elevated, 3 policy, 5 journal corrupt/too new/locked, 9 drift).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "cli/commands/command.h"
#include "cli/common/exit_codes.h"
#include "cli/common/grant_owner.h"
#include "cli/common/output.h"
#include "core/paths/locations.h"
#include "core/paths/path_rules.h"
#include "core/policy/policy.h"
#include "core/policy/policy_json.h"
#include "core/policy/policy_loader.h"
#include "provision/elevation.h"
#include "provision/executor.h"
#include "provision/plan.h"
#include "provision/workspace/workspace_check.h"
#include "uninstall/uninstall.h"

namespace stockade::cli {

namespace {

namespace pv = stockade::provision;

constexpr std::string_view kProgram = "stockade-provision";

void Progress(const std::string& line) { std::cerr << kProgram << ": " << line << "\n"; }

void PrintJson(const nlohmann::json& document) {
  std::cout << document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

std::string StateDir(const GlobalOptions& globals) {
  return globals.state_dir.empty() ? paths::DefaultStateDir() : globals.state_dir;
}

// Everything a command needs once it may run: the policy (when asked for) and the executor.
struct Session {
  std::optional<Policy> policy;
  std::optional<pv::Executor> executor;
};

// Elevation, then the policy, then the executor: in that order, so that an unprivileged or
// misconfigured run touches nothing (not even the journal's folder). Returns an exit code to
// stop with, or -1.
int OpenSession(const GlobalOptions& globals, bool need_policy, bool json, Session& session) {
  if (Status elevated = pv::RequireElevation(); !elevated.ok()) {
    return ReportError(kProgram, elevated.error(), json);
  }
  if (need_policy) {
    Expected<Policy> policy = LoadEffectivePolicy(globals.policy_path);
    if (!policy.ok()) {
      ReportError(kProgram, policy.error(), json);
      return kExitPolicyInvalid;  // missing, unreadable or invalid: no usable policy
    }
    session.policy = std::move(*policy);
  }
  pv::ExecutorOptions options;
  options.state_dir = StateDir(globals);
  pv::RegisterPlatformSteps(options.registry);
  Expected<pv::Executor> executor = pv::Executor::Open(std::move(options));
  if (!executor.ok()) {
    return ReportError(kProgram, executor.error().Wrap("opening the provisioning journal"), json);
  }
  session.executor.emplace(std::move(*executor));
  for (const pv::RecoveredTransaction& r : session.executor->recovery()) {
    std::string line =
        "recovered transaction " + std::to_string(r.txn_id) + " (" + r.kind +
        ") left open by an interrupted run: " + std::string(pv::ResolutionName(r.resolution));
    if (!r.error.empty()) line += ": " + r.error;
    Progress(line);
  }
  return -1;
}

pv::PlanContext Context(pv::Executor& executor, Expected<std::vector<pv::StepRecord>>& live) {
  pv::PlanContext context;
  context.state_dir = executor.state_dir();
  if (live.ok()) context.live = *live;
  return context;
}

nlohmann::json OutcomesJson(const std::vector<pv::StepOutcome>& steps) {
  nlohmann::json out = nlohmann::json::array();
  for (const pv::StepOutcome& s : steps) {
    out.push_back({{"outcome", std::string(pv::StepOutcomeName(s.outcome))},
                   {"kind", s.spec.kind},
                   {"target", s.spec.target},
                   {"description", s.description},
                   {"transaction", s.txn_id},
                   {"seq", s.seq}});
  }
  return out;
}

// Prints a Run's result: per-step lines on stderr, the summary on stdout.
int ReportRun(std::string_view what, const pv::RunResult& result, bool json) {
  if (json) {
    PrintJson(
        {{"ok", true},
         {"changed", result.changed},
         {"transaction", result.txn_id ? nlohmann::json(*result.txn_id) : nlohmann::json(nullptr)},
         {"steps", OutcomesJson(result.steps)}});
    return kExitOk;
  }
  for (const pv::StepOutcome& s : result.steps) {
    Progress(std::string(pv::StepOutcomeName(s.outcome)) + ": " + s.description);
  }
  if (!result.changed) {
    std::cout << what << ": no changes\n";
  } else {
    int applied = 0;
    for (const pv::StepOutcome& s : result.steps) {
      applied += s.outcome == pv::StepOutcomeKind::kApplied ? 1 : 0;
    }
    std::cout << what << ": applied " << applied << " step(s) in transaction "
              << (result.txn_id ? *result.txn_id : 0) << "\n";
  }
  return kExitOk;
}

void ReportRollback(const pv::RollbackResult& r, nlohmann::json* json) {
  if (json != nullptr) {
    json->push_back({{"transaction", r.target_txn_id},
                     {"rollback_transaction", r.rollback_txn_id},
                     {"steps", OutcomesJson(r.undone)}});
    return;
  }
  for (const pv::StepOutcome& s : r.undone) Progress("undone: " + s.description);
  std::cout << "rolled back transaction " << r.target_txn_id << " (" << r.undone.size()
            << " step(s) undone)\n";
}

// --- workspace paths ---------------------------------------------------------------------------

// An absolute, normalised path for DIR (relative to the current folder when relative).
Expected<std::string> AbsoluteWorkspace(const std::string& dir) {
  std::string candidate = dir;
  if (!paths::IsAbsolute(dir, paths::NativeStyle())) {
    std::error_code ec;
    std::filesystem::path abs =
        std::filesystem::absolute(std::filesystem::path(std::u8string(dir.begin(), dir.end())), ec);
    if (ec) return Error(ErrorCode::kPathInvalid, "cannot make '" + dir + "' absolute");
    auto u8 = abs.u8string();
    candidate.assign(u8.begin(), u8.end());
  }
  auto normalized = paths::Normalize(candidate, paths::NativeStyle());
  if (!normalized.ok()) return normalized.error().Wrap("workspace '" + dir + "'");
  return *normalized;
}

// --- drift -------------------------------------------------------------------------------------

struct Drift {
  const pv::StepRecord* step = nullptr;
  std::string what;    // "missing user", "changed ACL", ...
  std::string detail;  // the step's own read-back message
};

// Names the kind of drift from what the OS says: the thing is gone, or it is there but differs.
std::string DriftName(const std::string& kind, bool present) {
  if (kind == pv::kind::kUser) return present ? "edited user" : "missing user";
  if (kind == pv::kind::kGroup) return present ? "edited group" : "missing group";
  if (kind == pv::kind::kNetworkRules) return present ? "changed rules" : "deleted rules";
  if (kind == pv::kind::kWorkspaceGrant) return "changed ACL";
  if (kind == pv::kind::kStateDir) return "changed state folder permissions";
  if (kind == pv::kind::kService) return present ? "changed service" : "missing service";
  return present ? "changed" : "missing";
}

// The newest live step per (kind, target), in journal order: older versions of a target that a
// later transaction re-applied on top are not what the system should look like now.
std::vector<const pv::StepRecord*> CurrentSteps(const std::vector<pv::StepRecord>& live) {
  std::map<std::pair<std::string, std::string>, std::size_t> newest;
  for (std::size_t i = 0; i < live.size(); ++i) {
    newest[{live[i].spec.kind, live[i].spec.target}] = i;
  }
  std::vector<const pv::StepRecord*> out;
  for (std::size_t i = 0; i < live.size(); ++i) {
    if (newest[{live[i].spec.kind, live[i].spec.target}] == i) out.push_back(&live[i]);
  }
  return out;
}

// Verifies each current live step against the OS. Steps that cannot even be built are drift too.
std::vector<Drift> FindDrift(const pv::StepRegistry& registry,
                             const std::vector<const pv::StepRecord*>& steps) {
  std::vector<Drift> out;
  for (const pv::StepRecord* record : steps) {
    auto step = registry.Create(record->spec);
    if (!step.ok()) {
      out.push_back({record, "unverifiable", step.error().ToString()});
      continue;
    }
    Status verified = (*step)->Verify();
    if (verified.ok()) continue;
    // TargetPresent answers "the thing exists in any shape" for kinds that create something;
    // kinds that only modify answer false by contract, so it is asked of creating kinds only.
    const std::string& k = record->spec.kind;
    bool is_present = true;
    if (k == pv::kind::kNetworkRules || k == pv::kind::kUser || k == pv::kind::kGroup ||
        k == pv::kind::kService) {
      Expected<bool> present = (*step)->TargetPresent();
      is_present = !present.ok() || *present;
    }
    out.push_back({record, DriftName(record->spec.kind, is_present), verified.error().context()});
  }
  return out;
}

// --- commands ----------------------------------------------------------------------------------

int RunApply(const GlobalOptions& globals, bool json, const std::string& service_binary) {
  Session session;
  if (int code = OpenSession(globals, /*need_policy=*/true, json, session); code >= 0) return code;
  pv::Executor& executor = *session.executor;
  auto live = executor.journal().LiveSteps();
  if (!live.ok()) return ReportError(kProgram, live.error(), json);
  pv::PlanContext context = Context(executor, live);
  context.service_binary = service_binary;
  context.policy_path = globals.policy_path;
  auto specs = pv::PlanApply(*session.policy, context);
  if (!specs.ok()) return ReportError(kProgram, specs.error(), json);
  // Test hook (docs/deployment.md): STOCKADE_PLAN_ONLY=<kind>[,<kind>...] keeps only those step
  // kinds of the plan. The installer tests under Wine use it, where the identity, ACL and
  // firewall steps cannot persist; it is announced on stderr so that it is never silent.
  if (const char* only = std::getenv("STOCKADE_PLAN_ONLY"); only != nullptr && *only != '\0') {
    const std::string list = std::string(",") + only + ",";
    std::erase_if(*specs, [&](const pv::StepSpec& spec) {
      return list.find("," + spec.kind + ",") == std::string::npos;
    });
    Progress(std::string("test hook STOCKADE_PLAN_ONLY=") + only + ": only " +
             std::to_string(specs->size()) + " step(s) of the plan are kept");
  }
  if (!json) {
    Progress("policy " + session.policy->source + ": " + std::to_string(specs->size()) +
             " step(s) planned");
  }
  nlohmann::json args{{"policy", session.policy->source},
                      {"policy_sha256", PolicyHash(*session.policy)}};
  auto result = executor.Run(pv::txn_kind::kApply, args, *specs);
  if (!result.ok()) return ReportError(kProgram, result.error().Wrap("apply"), json);
  return ReportRun("apply", *result, json);
}

int RunStatus(const GlobalOptions& globals, bool json) {
  if (Status elevated = pv::RequireElevation(); !elevated.ok()) {
    return ReportError(kProgram, elevated.error(), json);
  }
  const std::string state_dir = StateDir(globals);
  // Read-only, without the lock: status must work while (or after) a provisioner runs.
  auto journal = pv::Journal::Open(state_dir, {.read_only = true});
  if (!journal.ok() && journal.error().code() == ErrorCode::kNotFound) {
    if (json) {
      PrintJson({{"ok", true},
                 {"provisioned", false},
                 {"state_dir", state_dir},
                 {"steps", nlohmann::json::array()}});
    } else {
      std::cout << "not provisioned: no journal in " << state_dir << "\n";
    }
    return kExitOk;
  }
  if (!journal.ok()) return ReportError(kProgram, journal.error(), json);
  auto live = journal->LiveSteps();
  if (!live.ok()) return ReportError(kProgram, live.error(), json);
  auto unresolved = journal->UnresolvedSteps();
  if (!unresolved.ok()) return ReportError(kProgram, unresolved.error(), json);
  auto open = journal->OpenTransactions();
  if (!open.ok()) return ReportError(kProgram, open.error(), json);

  pv::StepRegistry registry;
  pv::RegisterPlatformSteps(registry);
  std::vector<const pv::StepRecord*> current = CurrentSteps(*live);
  std::vector<Drift> drift = FindDrift(registry, current);
  const bool clean = drift.empty() && unresolved->empty() && open->empty();

  if (json) {
    nlohmann::json steps = nlohmann::json::array();
    for (const pv::StepRecord* s : current) {
      nlohmann::json row{{"transaction", s->txn_id},
                         {"seq", s->seq},
                         {"kind", s->spec.kind},
                         {"target", s->spec.target},
                         {"state", "ok"}};
      for (const Drift& d : drift) {
        if (d.step == s) {
          row["state"] = "drift";
          row["drift"] = d.what;
          row["detail"] = d.detail;
        }
      }
      steps.push_back(std::move(row));
    }
    nlohmann::json unres = nlohmann::json::array();
    for (const pv::StepRecord& s : *unresolved) {
      unres.push_back(
          {{"transaction", s.txn_id}, {"kind", s.spec.kind}, {"target", s.spec.target}});
    }
    nlohmann::json opened = nlohmann::json::array();
    for (const pv::TransactionRecord& t : *open) opened.push_back({{"id", t.id}, {"kind", t.kind}});
    PrintJson({{"ok", clean},
               {"provisioned", !current.empty()},
               {"state_dir", state_dir},
               {"drift_count", drift.size()},
               {"steps", std::move(steps)},
               {"unresolved", std::move(unres)},
               {"open_transactions", std::move(opened)}});
  } else {
    for (const pv::StepRecord* s : current) {
      bool drifted = false;
      for (const Drift& d : drift) {
        if (d.step != s) continue;
        drifted = true;
        std::cout << "drift: " << s->spec.target << ": " << d.what << " (" << d.detail << ")\n";
      }
      if (!drifted) std::cout << "ok:    " << s->spec.target << "\n";
    }
    for (const pv::StepRecord& s : *unresolved) {
      std::cout << "unresolved: " << s.spec.target << " (transaction " << s.txn_id
                << " failed; run `stockade-provision rollback --txn " << s.txn_id << "`)\n";
    }
    for (const pv::TransactionRecord& t : *open) {
      std::cout << "open: transaction " << t.id << " (" << t.kind
                << ") is in progress or was interrupted; the next command resolves it\n";
    }
    if (current.empty() && unresolved->empty() && open->empty()) {
      std::cout << "not provisioned: the journal owns nothing\n";
    } else if (clean) {
      std::cout << "clean: " << current.size() << " step(s) verified against the system\n";
    } else {
      std::cout << "not clean: " << drift.size() << " drifted, " << unresolved->size()
                << " unresolved, " << open->size() << " open; `stockade-provision repair` "
                << "re-applies what drifted\n";
    }
  }
  return clean ? kExitOk : kExitDrift;
}

// Repair re-applies drifted steps on top of their journaled versions, in journal order (users
// before the grants that name them). A drifted workspace grant is instead rolled back (restoring
// the ACLs from before the grant, verified) and granted afresh in the repair transaction: its
// before-state then is the workspace's real pre-grant state rather than the drifted tree.
int RunRepair(const GlobalOptions& globals, bool json) {
  Session session;
  if (int code = OpenSession(globals, /*need_policy=*/false, json, session); code >= 0) return code;
  pv::Executor& executor = *session.executor;
  auto live = executor.journal().LiveSteps();
  if (!live.ok()) return ReportError(kProgram, live.error(), json);
  std::vector<Drift> drift = FindDrift(executor.registry(), CurrentSteps(*live));
  std::vector<pv::StepSpec> specs;
  std::vector<std::int64_t> grant_txns;
  nlohmann::json drifted = nlohmann::json::array();
  pv::PlanContext context = Context(executor, live);
  for (const Drift& d : drift) {
    if (!json) Progress("drift: " + d.step->spec.target + ": " + d.what);
    specs.push_back(d.step->spec);
    drifted.push_back({{"target", d.step->spec.target}, {"drift", d.what}});
    if (d.step->spec.kind == pv::kind::kWorkspaceGrant) {
      const std::string path = d.step->spec.params.value("path", "");
      for (std::int64_t txn : pv::GrantTransactionsFor(context, path)) {
        if (std::find(grant_txns.begin(), grant_txns.end(), txn) == grant_txns.end()) {
          grant_txns.push_back(txn);
        }
      }
    }
  }
  if (specs.empty()) {
    if (json) {
      PrintJson({{"ok", true}, {"changed", false}, {"steps", nlohmann::json::array()}});
    } else {
      std::cout << "repair: no changes\n";
    }
    return kExitOk;
  }
  // Everything but the grants first (a grant names users that may have to be re-created).
  std::vector<pv::StepSpec> grants;
  std::vector<pv::StepSpec> others;
  for (pv::StepSpec& spec : specs) {
    (spec.kind == pv::kind::kWorkspaceGrant ? grants : others).push_back(std::move(spec));
  }
  pv::RunResult total;
  if (!others.empty()) {
    auto result = executor.Run(pv::txn_kind::kRepair, {{"drifted", drifted}}, others);
    if (!result.ok()) return ReportError(kProgram, result.error().Wrap("repair"), json);
    total = std::move(*result);
  }
  // Grants: rolled back (restoring the ACLs from before the grant, verified) and granted afresh
  // in a grant transaction of their own, so that `revoke DIR` (which rolls back whole
  // transactions) never takes a repaired user with it.
  std::sort(grant_txns.rbegin(), grant_txns.rend());
  for (std::int64_t txn : grant_txns) {
    auto rolled = executor.Rollback(txn, pv::txn_kind::kRepair);
    if (!rolled.ok()) return ReportError(kProgram, rolled.error().Wrap("repair"), json);
    if (!json) {
      Progress("rolled back the drifted grant transaction " + std::to_string(txn) +
               " before granting again");
    }
  }
  for (const pv::StepSpec& grant : grants) {
    auto result =
        executor.Run(pv::txn_kind::kGrant,
                     {{"path", grant.params.value("path", "")}, {"repair", true}}, {grant});
    if (!result.ok()) return ReportError(kProgram, result.error().Wrap("repair"), json);
    total.changed = total.changed || result->changed;
    if (result->txn_id) total.txn_id = result->txn_id;
    for (pv::StepOutcome& o : result->steps) total.steps.push_back(std::move(o));
  }
  return ReportRun("repair", total, json);
}

int RunGrant(const GlobalOptions& globals, bool json, const std::string& dir,
             const std::string& owner_user) {
  auto workspace = AbsoluteWorkspace(dir);
  if (!workspace.ok()) return ReportError(kProgram, workspace.error(), json);
  Session session;
  if (int code = OpenSession(globals, /*need_policy=*/true, json, session); code >= 0) return code;
  // Refusals come before anything is journaled.
  auto facts = pv::GatherWorkspaceFacts(*workspace);
  if (!facts.ok()) return ReportError(kProgram, facts.error(), json);
  if (Status allowed = pv::CheckWorkspaceAllowed(*facts, paths::NativeStyle()); !allowed.ok()) {
    return ReportError(kProgram, allowed.error().Wrap("refusing to grant " + *workspace), json);
  }
  pv::Executor& executor = *session.executor;
  auto live = executor.journal().LiveSteps();
  if (!live.ok()) return ReportError(kProgram, live.error(), json);
  auto spec = pv::PlanGrant(*session.policy, Context(executor, live), *workspace);
  if (!spec.ok()) return ReportError(kProgram, spec.error(), json);
  // The grant's owner: the only user (besides root) the service lets run in this workspace.
  auto owner = ResolveGrantOwner(owner_user, *workspace);
  if (!owner.ok()) return ReportError(kProgram, owner.error(), json);
  if (*owner) spec->params["owner_uid"] = **owner;
  auto result = executor.Run(pv::txn_kind::kGrant, {{"path", *workspace}}, {*spec});
  if (!result.ok()) return ReportError(kProgram, result.error().Wrap("grant"), json);
  return ReportRun("grant " + *workspace, *result, json);
}

int RunRevoke(const GlobalOptions& globals, bool json, const std::string& dir) {
  auto workspace = AbsoluteWorkspace(dir);
  if (!workspace.ok()) return ReportError(kProgram, workspace.error(), json);
  Session session;
  if (int code = OpenSession(globals, /*need_policy=*/false, json, session); code >= 0) return code;
  pv::Executor& executor = *session.executor;
  auto live = executor.journal().LiveSteps();
  if (!live.ok()) return ReportError(kProgram, live.error(), json);
  std::vector<std::int64_t> txns = pv::GrantTransactionsFor(Context(executor, live), *workspace);
  if (txns.empty()) {
    return ReportError(kProgram,
                       Error(ErrorCode::kNotFound, *workspace + " is not granted (the journal "
                                                                "holds no live grant of it)"),
                       json);
  }
  nlohmann::json out = nlohmann::json::array();
  for (std::int64_t txn : txns) {
    auto rolled = executor.Rollback(txn, pv::txn_kind::kRevoke);
    if (!rolled.ok()) {
      return ReportError(kProgram, rolled.error().Wrap("revoke " + *workspace), json);
    }
    ReportRollback(*rolled, json ? &out : nullptr);
  }
  if (json) PrintJson({{"ok", true}, {"revoked", *workspace}, {"rolled_back", out}});
  return kExitOk;
}

int RunRollback(const GlobalOptions& globals, bool json, bool all, std::int64_t txn) {
  Session session;
  if (int code = OpenSession(globals, /*need_policy=*/false, json, session); code >= 0) return code;
  pv::Executor& executor = *session.executor;
  nlohmann::json out = nlohmann::json::array();
  if (all) {
    auto rolled = executor.RollbackAll();
    if (!rolled.ok()) return ReportError(kProgram, rolled.error().Wrap("rollback --all"), json);
    for (const auto& r : *rolled) ReportRollback(r, json ? &out : nullptr);
    if (!json && rolled->empty()) std::cout << "rollback: nothing to roll back\n";
  } else if (txn > 0) {
    auto rolled = executor.Rollback(txn);
    if (!rolled.ok()) {
      return ReportError(kProgram, rolled.error().Wrap("rollback --txn " + std::to_string(txn)),
                         json);
    }
    ReportRollback(*rolled, json ? &out : nullptr);
  } else {
    auto rolled = executor.RollbackLast();
    if (!rolled.ok()) return ReportError(kProgram, rolled.error().Wrap("rollback"), json);
    if (rolled->has_value()) {
      ReportRollback(**rolled, json ? &out : nullptr);
    } else if (!json) {
      std::cout << "rollback: nothing to roll back\n";
    }
  }
  if (json) PrintJson({{"ok", true}, {"rolled_back", out}});
  return kExitOk;
}

int RunUninstall(const GlobalOptions& globals, bool json) {
  Session session;
  if (int code = OpenSession(globals, /*need_policy=*/true, json, session); code >= 0) return code;
  uninstall::UninstallOptions options;
  options.prefix = session.policy->identity_prefix;
  if (!json) options.progress = Progress;
  auto report = uninstall::Uninstall(*session.executor, options);
  if (!report.ok()) return ReportError(kProgram, report.error().Wrap("uninstall"), json);
  if (json) {
    PrintJson(report->ToJson());
  } else {
    for (const auto& r : report->undone) {
      std::cout << "undone: transaction " << r.target_txn_id << " (" << r.undone.size()
                << " step(s))\n";
    }
    for (const auto& s : report->remaining) {
      std::cout << "remains: " << s.target << " (transaction " << s.txn_id << ", step " << s.seq
                << ", " << s.state << ")\n";
    }
    for (const auto& r : report->residue) {
      std::cout << "residue: " << r.kind << " " << r.subject << ": " << r.detail << "\n";
    }
    std::cout << (report->complete ? "uninstall: complete, no residue"
                                   : "uninstall: INCOMPLETE: " + report->error)
              << "; receipt " << report->receipt_path << "\n";
  }
  if (report->complete) return kExitOk;
  // Something could not be undone: the journal is kept, running uninstall again retries.
  return report->remaining.empty() ? kExitVerification : kExitFailure;
}

}  // namespace

void RegisterProvisionCommands(CLI::App& parent, GlobalOptions& globals, int* exit_code) {
  auto json = std::make_shared<bool>(false);
  auto dir = std::make_shared<std::string>();
  auto service_binary = std::make_shared<std::string>();
  auto all = std::make_shared<bool>(false);
  auto txn = std::make_shared<std::int64_t>(0);
  const GlobalOptions* g = &globals;

  CLI::App* apply = parent.add_subcommand(
      "apply",
      "Provision the machine from the policy: sandbox group and users, state folder "
      "permissions, network rules (Windows: write SID, credentials, audit policy). Journaled; "
      "a second apply prints \"no changes\".");
  apply->add_flag("--json", *json, "Print the result as JSON on stdout");
  apply->add_option("--service-binary", *service_binary,
                    "Also register this service executable (kind service)");
  apply->callback([=] { *exit_code = RunApply(*g, *json, *service_binary); });

  CLI::App* status = parent.add_subcommand(
      "status",
      "Verify every journaled change against the live system and name each drift (missing "
      "user, deleted rule, changed ACL, edited group). Exit 0 clean, 9 drift.");
  status->add_flag("--json", *json, "Print the report as JSON on stdout");
  status->callback([=] { *exit_code = RunStatus(*g, *json); });

  CLI::App* repair = parent.add_subcommand(
      "repair", "Re-apply every journaled change that drifted, as one journaled transaction");
  repair->add_flag("--json", *json, "Print the result as JSON on stdout");
  repair->callback([=] { *exit_code = RunRepair(*g, *json); });

  CLI::App* grant = parent.add_subcommand(
      "grant",
      "Grant a workspace folder to the sandbox identities (protected subpaths stay read-only). "
      "Refuses symlinks/junctions, system folders, filesystem/drive roots and whole profiles.");
  grant->add_option("DIR", *dir, "Workspace folder")->required();
  auto owner = std::make_shared<std::string>();
  grant->add_option("--owner", *owner,
                    "The user who may run commands in this workspace through the service "
                    "(default: the folder's owner; root may always)");
  grant->add_flag("--json", *json, "Print the result as JSON on stdout");
  grant->callback([=] { *exit_code = RunGrant(*g, *json, *dir, *owner); });

  CLI::App* revoke = parent.add_subcommand(
      "revoke", "Revoke a workspace grant: restores the folder's previous ACLs exactly");
  revoke->add_option("DIR", *dir, "Workspace folder")->required();
  revoke->add_flag("--json", *json, "Print the result as JSON on stdout");
  revoke->callback([=] { *exit_code = RunRevoke(*g, *json, *dir); });

  CLI::App* rollback = parent.add_subcommand(
      "rollback", "Undo the last transaction (default), one (--txn N) or all (--all)");
  auto* all_flag = rollback->add_flag("--all", *all, "Roll back every transaction, newest first");
  rollback->add_option("--txn", *txn, "Roll back this transaction")
      ->check(CLI::PositiveNumber)
      ->excludes(all_flag);
  rollback->add_flag("--json", *json, "Print the result as JSON on stdout");
  rollback->callback([=] { *exit_code = RunRollback(*g, *json, *all, *txn); });

  CLI::App* uninstall_cmd = parent.add_subcommand(
      "uninstall",
      "Roll back everything newest first, verify, scan for residue and write a receipt "
      "(<state-dir>/uninstall-receipt.json). Non-zero with what remains when incomplete.");
  uninstall_cmd->add_flag("--json", *json, "Print the receipt as JSON on stdout");
  uninstall_cmd->callback([=] { *exit_code = RunUninstall(*g, *json); });
}

}  // namespace stockade::cli
