// The service's authorisation of one RunRequest (portable): who may run what, where, as whom.
// The OS layer (runner/service/linux) authenticates the caller (SO_PEERCRED) and answers the
// questions in SystemFacts; the decisions are made here, so that both OSes decide alike and the
// rules are unit-tested without a socket. docs/runner-service.md lists the rules.
#ifndef STOCKADE_RUNNER_SERVICE_BROKER_H_
#define STOCKADE_RUNNER_SERVICE_BROKER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/paths/path_rules.h"
#include "core/policy/policy.h"
#include "runner/protocol/messages.h"

namespace stockade::runner::service {

// The caller as the OS authenticated it.
struct Caller {
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::int64_t pid = 0;
  // Set by the OS layer when the calling process runs inside a Stockade tree (its cgroup, or a
  // PID namespace other than the service's); says why, for the refusal message.
  std::string inside_tree;
};

struct Account {
  std::string name;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
};

// One live workspace grant from the provisioning journal.
struct Grant {
  std::string path;                        // as granted (absolute, symlink-free)
  std::optional<std::uint32_t> owner_uid;  // the grant's owner; unset for grants journaled
                                           // before owners were recorded
};

// What the broker needs to know about the machine. Implemented by the OS layer; tests fake it.
class SystemFacts {
 public:
  virtual ~SystemFacts() = default;
  // The account of that name, or nullopt when there is none.
  virtual Expected<std::optional<Account>> FindAccount(const std::string& name) = 0;
  // The canonical, symlink-free absolute form of an existing path (kNotFound when missing).
  virtual Expected<std::string> RealPath(const std::string& path) = 0;
  // The uid owning an existing path.
  virtual Expected<std::uint32_t> OwnerUid(const std::string& path) = 0;
  // The home folder of `uid` (kNotFound when it has none).
  virtual Expected<std::string> HomeOf(std::uint32_t uid) = 0;
  // Every live workspace grant (an empty list when nothing is granted or nothing provisioned).
  virtual Expected<std::vector<Grant>> LiveGrants() = 0;
};

// A request the broker allowed, with everything resolved.
struct Authorized {
  IdentityKind kind = IdentityKind::kOffline;
  Account account;        // the sandbox identity to run as
  std::string workspace;  // realpath, equal to a live grant
  std::string cwd;        // realpath, inside the workspace
  std::string home;       // the caller's home ("" when it has none)
  std::uint32_t grant_owner = 0;
};

// Decides whether `caller` may run `request`. The checks, in this order, and their codes:
//  1. the caller runs inside a Stockade tree, or is one of the sandbox identities
//     (<prefix>-offline / <prefix>-online)                          -> kPermissionDenied
//  2. identity is not "offline" or "online"                           -> kInvalidArgument
//  3. the identity's account does not exist                           -> kNotProvisioned
//  4. workspace or cwd not absolute                                   -> kInvalidArgument
//     workspace does not exist                                        -> kNotFound
//  5. no live grant equals the workspace's realpath                   -> kNotGranted
//  6. the grant's owner is not the caller (root may use any grant)    -> kPermissionDenied
//  7. cwd's realpath is not inside the workspace                      -> kPermissionDenied
// Every message names the caller's uid and the thing refused.
// Paths are compared under `style` (the OS's own; tests pin it).
Expected<Authorized> Authorize(const Policy& policy, SystemFacts& facts, const Caller& caller,
                               const protocol::RunRequest& request,
                               paths::PathStyle style = paths::NativeStyle());

}  // namespace stockade::runner::service

#endif  // STOCKADE_RUNNER_SERVICE_BROKER_H_
