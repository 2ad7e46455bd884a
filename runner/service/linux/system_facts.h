// The Linux answers to the broker's questions (runner/service/broker.h): accounts from the
// passwd database, realpath/stat, and the live grants of the journal in the state folder. Also
// the caller's identity from the socket (SO_PEERCRED) and whether it runs inside a tree.
#ifndef STOCKADE_RUNNER_SERVICE_LINUX_SYSTEM_FACTS_H_
#define STOCKADE_RUNNER_SERVICE_LINUX_SYSTEM_FACTS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "runner/service/broker.h"

namespace stockade::runner::service::linux_os {

class LinuxSystemFacts : public SystemFacts {
 public:
  explicit LinuxSystemFacts(std::string state_dir) : state_dir_(std::move(state_dir)) {}

  Expected<std::optional<Account>> FindAccount(const std::string& name) override;
  Expected<std::string> RealPath(const std::string& path) override;
  Expected<std::uint32_t> OwnerUid(const std::string& path) override;
  Expected<std::string> HomeOf(std::uint32_t uid) override;
  Expected<std::vector<Grant>> LiveGrants() override;

 private:
  std::string state_dir_;
};

// The complete supplementary group list of `account` (getgrouplist), its primary group included.
Expected<std::vector<std::uint32_t>> AccountGroups(const Account& account);

// The peer of a connected Unix socket (SO_PEERCRED), and, in Caller::inside_tree, why it counts
// as running inside a Stockade tree: its cgroup (any hierarchy) has a component "run-*" below a
// component named `cgroup_parent` or "stockade*", or it lives in another PID namespace than the
// service (an unprovisioned tree), or its pid is not visible to the service at all.
// Errors: kOs when SO_PEERCRED fails.
Expected<Caller> IdentifyPeer(int socket_fd, const std::string& cgroup_parent);

}  // namespace stockade::runner::service::linux_os

#endif  // STOCKADE_RUNNER_SERVICE_LINUX_SYSTEM_FACTS_H_
