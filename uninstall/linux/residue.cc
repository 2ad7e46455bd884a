#include "uninstall/residue.h"

#include <grp.h>
#include <pwd.h>

#include <vector>

#include "provision/linux/residue.h"
#include "provision/linux/service_step.h"

namespace stockade::uninstall {

Expected<nlohmann::json> CaptureResidueIds(const ResidueScope& scope) {
  nlohmann::json ids{{"uids", nlohmann::json::array()}, {"gids", nlohmann::json::array()}};
  // getpwnam/getgrnam are fine here: the provisioner is single-threaded and holds the lock.
  for (const std::string& name : scope.accounts) {
    if (const passwd* pw = getpwnam(name.c_str())) ids["uids"].push_back(pw->pw_uid);
  }
  for (const std::string& name : scope.groups) {
    if (const group* gr = getgrnam(name.c_str())) ids["gids"].push_back(gr->gr_gid);
  }
  return ids;
}

Expected<std::vector<ResidueItem>> ScanResidue(const ResidueScope& scope,
                                               const nlohmann::json& ids) {
  provision::linux_os::ResidueQuery query;
  query.prefix = scope.prefix;
  query.nft_tables = scope.nft_tables;
  query.paths = scope.paths;
  query.cgroup_names = scope.cgroups;
  try {
    for (const auto& uid : ids.value("uids", nlohmann::json::array())) {
      query.uids.push_back(uid.get<uid_t>());
    }
    for (const auto& gid : ids.value("gids", nlohmann::json::array())) {
      query.gids.push_back(gid.get<gid_t>());
    }
  } catch (const nlohmann::json::exception& e) {
    return Error(ErrorCode::kInternal, std::string("residue ids are malformed: ") + e.what());
  }
  auto findings = provision::linux_os::ScanResidue(query);
  if (!findings.ok()) return findings.error().Wrap("residue scan");
  std::vector<ResidueItem> out;
  for (const auto& f : *findings) out.push_back({f.kind, f.subject, f.detail});
  // The service: its unit file, pidfile or a daemon still serving from the state folder.
  for (const std::string& name : scope.services) {
    for (const std::string& left : provision::linux_os::ServiceResidue(name, scope.state_dir)) {
      out.push_back({"service", name, left});
    }
  }
  return out;
}

}  // namespace stockade::uninstall
