#include "uninstall/uninstall.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>

#include "provision/plan.h"

namespace stockade::uninstall {

namespace {

void AddUnique(std::vector<std::string>& list, const std::string& value) {
  if (!value.empty() && std::find(list.begin(), list.end(), value) == list.end()) {
    list.push_back(value);
  }
}

std::string ParamOr(const provision::StepSpec& spec, const char* key, const std::string& fallback) {
  auto it = spec.params.find(key);
  return it != spec.params.end() && it->is_string() ? it->get<std::string>() : fallback;
}

Expected<std::vector<RemainingStep>> Remaining(provision::Journal& journal) {
  std::vector<RemainingStep> out;
  auto live = journal.LiveSteps();
  if (!live.ok()) return live.error();
  auto unresolved = journal.UnresolvedSteps();
  if (!unresolved.ok()) return unresolved.error();
  for (const auto* list : {&*live, &*unresolved}) {
    for (const provision::StepRecord& step : *list) {
      out.push_back({step.txn_id, step.seq, step.spec.kind, step.spec.target,
                     std::string(provision::StepStateName(step.state))});
    }
  }
  return out;
}

// Written to a temporary file and renamed, so a crash never leaves half a receipt.
Status WriteReceipt(const std::string& path, const nlohmann::json& receipt) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Error(ErrorCode::kIo, "cannot create the receipt " + tmp);
    out << receipt.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    out.flush();
    if (!out) return Error(ErrorCode::kIo, "cannot write the receipt " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Error(ErrorCode::kIo, "cannot rename " + tmp + " to " + path);
  }
  return OkStatus();
}

}  // namespace

nlohmann::json UninstallReport::ToJson() const {
  nlohmann::json doc{{"ok", complete}, {"complete", complete}};
  nlohmann::json txns = nlohmann::json::array();
  for (const provision::RollbackResult& r : undone) {
    nlohmann::json steps = nlohmann::json::array();
    for (const provision::StepOutcome& s : r.undone) {
      steps.push_back({{"seq", s.seq},
                       {"kind", s.spec.kind},
                       {"target", s.spec.target},
                       {"description", s.description}});
    }
    txns.push_back({{"transaction", r.target_txn_id},
                    {"rollback_transaction", r.rollback_txn_id},
                    {"steps", std::move(steps)}});
  }
  doc["undone"] = std::move(txns);
  nlohmann::json rem = nlohmann::json::array();
  for (const RemainingStep& s : remaining) {
    rem.push_back({{"transaction", s.txn_id},
                   {"seq", s.seq},
                   {"kind", s.kind},
                   {"target", s.target},
                   {"state", s.state}});
  }
  doc["remaining"] = std::move(rem);
  nlohmann::json res = nlohmann::json::array();
  for (const ResidueItem& r : residue) {
    res.push_back({{"kind", r.kind}, {"subject", r.subject}, {"detail", r.detail}});
  }
  doc["residue"] = std::move(res);
  doc["error"] = error;
  doc["receipt"] = receipt_path;
  return doc;
}

Expected<ResidueScope> ScopeFromJournal(provision::Journal& journal, const std::string& prefix,
                                        const std::string& state_dir) {
  ResidueScope scope;
  scope.prefix = prefix;
  AddUnique(scope.paths, state_dir);
  scope.state_dir = state_dir;
  auto txns = journal.ListTransactions();
  if (!txns.ok()) return txns.error();
  for (const provision::TransactionRecord& txn : *txns) {
    auto steps = journal.Steps(txn.id);
    if (!steps.ok()) return steps.error();
    for (const provision::StepRecord& step : *steps) {
      const provision::StepSpec& spec = step.spec;
      if (spec.kind == provision::kind::kUser) {
        AddUnique(scope.accounts, ParamOr(spec, "name", ""));
      } else if (spec.kind == provision::kind::kGroup) {
        AddUnique(scope.groups, ParamOr(spec, "name", ""));
      } else if (spec.kind == provision::kind::kNetworkRules) {
        if (provision::NativeTargetOs() == provision::TargetOs::kLinux) {
          AddUnique(
              scope.nft_tables,
              ParamOr(spec, "table", provision::NftTableFor(ParamOr(spec, "prefix", prefix))));
        }
      } else if (spec.kind == provision::kind::kService) {
        // The step's default name: provision/win/service_step.h, provision/linux/service_step.h.
        const bool linux_os = provision::NativeTargetOs() == provision::TargetOs::kLinux;
        AddUnique(scope.services, ParamOr(spec, "name", linux_os ? "stockaded" : "Stockade"));
        // The service's trees live under this cgroup parent (runner/linux/cgroup.h).
        if (linux_os) AddUnique(scope.cgroups, "stockade");
      } else if (spec.kind == provision::kind::kAuditPolicy) {
        scope.audit_policy = true;
      } else if (spec.kind == provision::kind::kWriteSid) {
        AddUnique(scope.sids, ParamOr(spec, "sid", ""));
      } else if (spec.kind == provision::kind::kWorkspaceGrant) {
        AddUnique(scope.paths, ParamOr(spec, "path", ParamOr(spec, "root", "")));
      }
    }
  }
  return scope;
}

Expected<UninstallReport> Uninstall(provision::Executor& executor,
                                    const UninstallOptions& options) {
  UninstallReport report;
  report.receipt_path = executor.state_dir() + "/uninstall-receipt.json";
  auto scope = ScopeFromJournal(executor.journal(), options.prefix, executor.state_dir());
  if (!scope.ok()) return scope.error().Wrap("reading the journal");
  // Ids first: once the accounts are deleted, only these say which ACL entries were ours.
  auto ids = CaptureResidueIds(*scope);
  if (!ids.ok()) return ids.error();

  auto rolled = executor.RollbackAll(provision::txn_kind::kUninstall);
  if (rolled.ok()) {
    report.undone = std::move(*rolled);
    for (const auto& r : report.undone) {
      if (options.progress) {
        options.progress("undid transaction " + std::to_string(r.target_txn_id) + " (" +
                         std::to_string(r.undone.size()) + " step(s))");
      }
    }
  } else {
    report.error = rolled.error().context();
  }
  auto remaining = Remaining(executor.journal());
  if (!remaining.ok()) return remaining.error().Wrap("reading the journal after the rollback");
  report.remaining = std::move(*remaining);
  if (report.error.empty() && !report.remaining.empty()) {
    report.error = std::to_string(report.remaining.size()) +
                   " journaled step(s) are still in place after rolling everything back";
  }

  // The scan runs even after a failed rollback: the receipt then says what is on the system.
  auto residue = ScanResidue(*scope, *ids);
  if (!residue.ok()) {
    if (!report.error.empty()) report.error += "; ";
    report.error += residue.error().context();
  } else {
    report.residue = std::move(*residue);
    if (report.error.empty() && !report.residue.empty()) {
      report.error = std::to_string(report.residue.size()) + " residue item(s) remain";
    }
  }
  report.complete = report.error.empty();
  STOCKADE_RETURN_IF_ERROR(WriteReceipt(report.receipt_path, report.ToJson()));
  return report;
}

}  // namespace stockade::uninstall
