// The residue scan after an uninstall: proves that nothing Stockade created is left, or lists
// exactly what is. The scope comes from the journal (portable); the scan itself is per OS
// (uninstall/linux/residue.cc on provision/linux/residue.h, uninstall/win/residue.cc).
#ifndef STOCKADE_UNINSTALL_RESIDUE_H_
#define STOCKADE_UNINSTALL_RESIDUE_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"

namespace stockade::uninstall {

struct ResidueScope {
  std::string prefix;                   // identity prefix: "<prefix>-..." accounts are ours
  std::vector<std::string> accounts;    // user names the journal created
  std::vector<std::string> groups;      // group names the journal created
  std::vector<std::string> nft_tables;  // Linux: nftables tables (family inet)
  std::vector<std::string> services;    // service names the journal registered
  std::vector<std::string> cgroups;     // Linux: the runner's cgroup parent folders
  std::vector<std::string> sids;        // Windows: SIDs the journal granted (the write SID)
  std::vector<std::string> paths;       // granted workspaces and the state folder
  std::string state_dir;                // the state folder (Linux: the service's pidfile)
  // Windows: the journal ever recorded an audit-policy step. Only then can the global SACL hold
  // an entry of ours (a step is journaled before its change), so only then is it scanned.
  bool audit_policy = false;
};

struct ResidueItem {
  std::string kind;     // "user", "group", "nft_table", "acl_entry", "firewall_rule", ...
  std::string subject;  // the account, table, rule or path
  std::string detail;   // what exactly is left
};

// Resolves what must be known *before* the rollback removes it (the numeric ids of our
// accounts: a deleted uid left in an ACL is inherited by whoever gets that uid next; the SIDs on
// Windows). Returns an opaque JSON document for ScanResidue. Missing accounts are skipped.
Expected<nlohmann::json> CaptureResidueIds(const ResidueScope& scope);

// Scans the live system. Empty: clean. Errors: a scan that could not look (never "clean").
Expected<std::vector<ResidueItem>> ScanResidue(const ResidueScope& scope,
                                               const nlohmann::json& ids);

}  // namespace stockade::uninstall

#endif  // STOCKADE_UNINSTALL_RESIDUE_H_
