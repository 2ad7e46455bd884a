// The Windows residue scan, on provision/win/residue.h: accounts, hidden-account values, the
// Stockade registry key, firewall rules, services, profiles, and ACEs naming our SIDs on the
// paths we touched and in the global audit SACL. A check that could not look (an API Wine does
// not implement) is reported as residue "unchecked": a scan that could not look is not clean.
#include "uninstall/residue.h"

#include "provision/win/residue.h"
#include "provision/win/sid.h"
#include "provision/win/write_sid_step.h"

namespace stockade::uninstall {

Expected<nlohmann::json> CaptureResidueIds(const ResidueScope& scope) {
  // The identities' SIDs while they still resolve: once deleted, only the SID names an ACE.
  nlohmann::json ids{{"sids", nlohmann::json::array()}};
  for (const auto* names : {&scope.accounts, &scope.groups}) {
    for (const std::string& name : *names) {
      auto account = provision::win::LookupAccountByName(name);
      if (account.ok() && account->has_value()) {
        ids["sids"].push_back((*account)->sid.ToString());
      }
    }
  }
  for (const std::string& sid : scope.sids) ids["sids"].push_back(sid);
  return ids;
}

Expected<std::vector<ResidueItem>> ScanResidue(const ResidueScope& scope,
                                               const nlohmann::json& ids) {
  provision::win::ResidueQuery query;
  query.prefix = scope.prefix;
  query.registry_keys = {provision::win::kStockadeKey};
  query.services = scope.services;
  query.paths = scope.paths;
  query.check_audit_sacl = scope.audit_policy;
  for (const auto& sid : ids.value("sids", nlohmann::json::array())) {
    if (sid.is_string()) query.sids.push_back(sid.get<std::string>());
  }
  auto report = provision::win::ScanResidue(query);
  if (!report.ok()) return report.error().Wrap("residue scan");
  std::vector<ResidueItem> out;
  for (const auto& f : report->findings) out.push_back({f.kind, f.subject, f.detail});
  for (const std::string& u : report->unchecked) out.push_back({"unchecked", "", u});
  return out;
}

}  // namespace stockade::uninstall
