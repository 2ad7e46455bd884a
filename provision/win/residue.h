// The Windows residue scan: after an uninstall (or any rollback), proves that nothing of a prefix
// is left, or lists exactly what is -- accounts, hidden-account registry values, registry keys,
// firewall rules, services, profiles, and ACEs naming our SIDs (write SID, identities) on the
// paths we touched and in the global object-access SACL. The reference design left groups,
// firewall rules, workspace ACEs and orphan SIDs ("Account Unknown") behind; this is the check.
#ifndef STOCKADE_PROVISION_WIN_RESIDUE_H_
#define STOCKADE_PROVISION_WIN_RESIDUE_H_

#include <string>
#include <vector>

#include "core/error.h"

namespace stockade::provision::win {

struct ResidueQuery {
  std::string prefix;  // identity prefix: accounts named "<prefix>-..." are ours
  // Firewall rules named "<rule_prefix> <prefix>-..." are ours (network_rules_step.h).
  std::string rule_prefix = "Stockade";
  std::vector<std::string> registry_keys;  // HKLM subkeys that must be gone ("SOFTWARE\\Stockade")
  std::vector<std::string> services;       // service names that must be gone
  // Granted workspaces, their protected subpaths, the state folder...: their DACLs must not name
  // any of `sids`, explicitly or inherited.
  std::vector<std::string> paths;
  // SIDs we created or granted, from the journal (the accounts may be gone, their SIDs are not:
  // an ACE naming a deleted account is exactly the "Account Unknown" residue).
  std::vector<std::string> sids;
  bool check_audit_sacl = true;  // the global "File" SACL
};

struct ResidueFinding {
  std::string kind;     // "user", "group", "hidden_user_value", "registry_key", "firewall_rule",
                        // "service", "profile", "ace", "audit_ace"
  std::string subject;  // the account, value, key, rule, service, path
  std::string detail;   // what exactly is left
};

struct ResidueReport {
  std::vector<ResidueFinding> findings;
  // What could not be looked at, with the reason (e.g. an API Wine does not implement): a scan
  // that could not look is not a clean scan.
  std::vector<std::string> unchecked;
  bool clean() const { return findings.empty() && unchecked.empty(); }
};

// Runs every check. Errors only for a malformed query (kInvalidArgument: empty prefix);
// failures of individual checks land in `unchecked` with their error.
Expected<ResidueReport> ScanResidue(const ResidueQuery& query);

}  // namespace stockade::provision::win

#endif  // STOCKADE_PROVISION_WIN_RESIDUE_H_
