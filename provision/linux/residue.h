// The Linux residue scan: after an uninstall (or any rollback), proves that nothing of a prefix
// is left, or lists exactly what is: accounts, our nftables table, ACL entries naming our ids,
// files still owned by our ids, live processes of our ids and the runner's cgroup folders.
#ifndef STOCKADE_PROVISION_LINUX_RESIDUE_H_
#define STOCKADE_PROVISION_LINUX_RESIDUE_H_

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <vector>

#include "core/error.h"

namespace stockade::provision::linux_os {

struct ResidueQuery {
  std::string prefix;  // identity prefix: accounts named "<prefix>-..." are ours
  // Tables to look for (family inet); NftTableNameForPrefix(prefix) is always included.
  std::vector<std::string> nft_tables;
  // Trees to scan (granted workspaces, the state folder): every node, plus the ancestors of each.
  std::vector<std::string> paths;
  // Ids our accounts had (from the journal: the accounts themselves may be gone already, and a
  // deleted uid left in an ACL is inherited by whoever gets that uid next). The ids of accounts
  // still present with our prefix are added automatically.
  std::vector<uid_t> uids;
  std::vector<gid_t> gids;
  bool owned_files = true;  // also report nodes owned by those ids
  // Cgroup folders the runner creates for its trees (runner/linux/cgroup.h parent_name): looked
  // for at the top of the cgroup2 mount and of every v1 hierarchy under `cgroup_root`.
  std::vector<std::string> cgroup_names;
  std::string cgroup_root = "/sys/fs/cgroup";
  std::size_t max_findings = 1000;  // stop scanning trees after this many
};

struct ResidueFinding {
  std::string kind;     // "user", "group", "shadow", "gshadow", "subid", "nft_table",
                        // "acl_entry", "owned_file", "process", "cgroup"
  std::string subject;  // the account, table or path
  std::string detail;   // what exactly is left
};

// Scans the account files, the nftables ruleset and the trees. An empty result means clean.
// Errors: kIo/kOs when something cannot be read (a scan that could not look is not "clean").
// Paths that do not exist are skipped.
Expected<std::vector<ResidueFinding>> ScanResidue(const ResidueQuery& query);

}  // namespace stockade::provision::linux_os

#endif  // STOCKADE_PROVISION_LINUX_RESIDUE_H_
