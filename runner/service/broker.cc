#include "runner/service/broker.h"

#include "core/paths/path_rules.h"
#include "runner/service/spec_builder.h"

namespace stockade::runner::service {

namespace {

std::string Who(const Caller& caller) {
  return "uid " + std::to_string(caller.uid) + " (pid " + std::to_string(caller.pid) + ")";
}

}  // namespace

Expected<Authorized> Authorize(const Policy& policy, SystemFacts& facts, const Caller& caller,
                               const protocol::RunRequest& request, paths::PathStyle style) {
  if (!caller.inside_tree.empty()) {
    return Error(ErrorCode::kPermissionDenied,
                 Who(caller) + " runs inside a sandboxed tree (" + caller.inside_tree +
                     "): a sandbox may not ask the service for another sandbox");
  }
  // The sandbox identities may never be callers, whichever identity they ask for.
  for (IdentityKind k : {IdentityKind::kOffline, IdentityKind::kOnline}) {
    auto account = facts.FindAccount(policy.IdentityName(k));
    if (!account.ok()) return account.error().Wrap("looking up " + policy.IdentityName(k));
    if (account->has_value() && (*account)->uid == caller.uid) {
      return Error(ErrorCode::kPermissionDenied,
                   Who(caller) + " is the sandbox identity " + policy.IdentityName(k) +
                       ": sandbox identities may not use the service");
    }
  }

  auto kind = ParseIdentityKind(request.identity);
  if (!kind.ok()) return kind.error();
  const std::string account_name = policy.IdentityName(*kind);
  auto account = facts.FindAccount(account_name);
  if (!account.ok()) return account.error().Wrap("looking up " + account_name);
  if (!account->has_value()) {
    return Error(ErrorCode::kNotProvisioned,
                 "the " + request.identity + " identity (" + account_name +
                     ") is not provisioned on this machine; run `stockade-provision apply`");
  }
  if ((*account)->uid == 0 || (*account)->gid == 0) {
    return Error(ErrorCode::kNotProvisioned,
                 account_name + " has uid or gid 0: that is not a sandbox identity");
  }

  if (!paths::IsAbsolute(request.workspace, style)) {
    return Error(ErrorCode::kInvalidArgument,
                 "RunRequest.workspace '" + request.workspace + "' is not an absolute path");
  }
  if (!paths::IsAbsolute(request.cwd, style)) {
    return Error(ErrorCode::kInvalidArgument,
                 "RunRequest.cwd '" + request.cwd + "' is not an absolute path");
  }
  auto workspace = facts.RealPath(request.workspace);
  if (!workspace.ok()) return workspace.error().Wrap("workspace " + request.workspace);

  auto grants = facts.LiveGrants();
  if (!grants.ok()) return grants.error().Wrap("reading the workspace grants");
  const Grant* grant = nullptr;
  for (const Grant& g : *grants) {
    if (paths::Equal(g.path, *workspace, style)) grant = &g;  // the newest wins (oldest first)
  }
  if (grant == nullptr) {
    return Error(ErrorCode::kNotGranted, "workspace " + *workspace +
                                             " is not granted to the sandbox identities; an "
                                             "administrator grants it with `stockade-provision "
                                             "grant " +
                                             *workspace + " --owner <user>`");
  }
  std::uint32_t owner = 0;
  if (grant->owner_uid) {
    owner = *grant->owner_uid;
  } else {
    // Grants journaled before owners were recorded: the folder's owner, as `grant` defaults to.
    auto stat_owner = facts.OwnerUid(*workspace);
    if (!stat_owner.ok()) return stat_owner.error().Wrap("owner of " + *workspace);
    owner = *stat_owner;
  }
  if (caller.uid != 0 && caller.uid != owner) {
    return Error(ErrorCode::kPermissionDenied, "workspace " + *workspace + " is granted to uid " +
                                                   std::to_string(owner) + ", not to the caller " +
                                                   Who(caller));
  }

  auto cwd = facts.RealPath(request.cwd);
  if (!cwd.ok()) return cwd.error().Wrap("working folder " + request.cwd);
  if (!paths::IsWithin(*cwd, *workspace, style)) {
    return Error(ErrorCode::kPermissionDenied,
                 "working folder " + *cwd + " is outside the workspace " + *workspace);
  }

  Authorized out;
  out.kind = *kind;
  out.account = **account;
  out.workspace = *workspace;
  out.cwd = *cwd;
  out.grant_owner = owner;
  auto home = facts.HomeOf(caller.uid);
  if (home.ok()) out.home = *home;  // none: "~" entries of the policy are refused by the builder
  return out;
}

}  // namespace stockade::runner::service
