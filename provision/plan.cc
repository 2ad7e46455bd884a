#include "provision/plan.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "core/crypto/random.h"
#include "core/paths/expand.h"
#include "core/paths/path_rules.h"

namespace stockade::provision {

namespace {

paths::PathStyle StyleOf(TargetOs os) {
  return os == TargetOs::kWindows ? paths::PathStyle::kWindows : paths::PathStyle::kPosix;
}

std::string JoinState(const PlanContext& context, const std::string& name) {
  const char sep = context.os == TargetOs::kWindows ? '\\' : '/';
  std::string out = context.state_dir;
  if (!out.empty() && out.back() != sep) out += sep;
  return out + name;
}

// The newest live step of `kind`, if any (live is oldest first).
const StepRecord* NewestLive(const PlanContext& context, std::string_view kind) {
  for (auto it = context.live.rbegin(); it != context.live.rend(); ++it) {
    if (it->spec.kind == kind) return &*it;
  }
  return nullptr;
}

// The write SID is decided once and then read from the journal: drawing a new one on every
// apply would make every apply "changed" and orphan the ACEs granted to the previous SID.
Expected<std::string> WriteSid(const PlanContext& context) {
  if (const StepRecord* live = NewestLive(context, kind::kWriteSid)) {
    auto it = live->spec.params.find("sid");
    if (it != live->spec.params.end() && it->is_string()) return it->get<std::string>();
  }
  std::uint8_t bytes[16];
  STOCKADE_RETURN_IF_ERROR(crypto::RandomBytes(bytes));
  std::uint32_t values[4];
  std::memcpy(values, bytes, sizeof values);
  std::string sid = "S-1-5-21";
  for (std::uint32_t v : values) sid += "-" + std::to_string(v);
  return sid;
}

nlohmann::json Ports(const NetworkPolicy& network) {
  nlohmann::json ports = nlohmann::json::array();
  for (std::uint16_t port : network.loopback_ports) ports.push_back(port);
  return ports;
}

StepSpec NetworkSpec(const Policy& policy, const PlanContext& context, IdentityKind identity) {
  const std::string user = policy.IdentityName(identity);
  StepSpec spec{kind::kNetworkRules, "network rules of " + user, nlohmann::json::object()};
  spec.params["user"] = user;
  spec.params["loopback_ports"] = Ports(policy.Network(identity));
  if (context.os == TargetOs::kLinux) {
    spec.params["prefix"] = policy.identity_prefix;
    spec.params["nflog_group"] = kNflogGroup;
    // One table per identity: the offline one keeps the documented default name.
    if (identity == IdentityKind::kOnline) {
      spec.params["table"] = NftTableFor(policy.identity_prefix) + "_online";
    }
  }
  // Windows: rule names are "Stockade <user>: ..." (network_rules_step.h), unique per identity.
  return spec;
}

}  // namespace

std::string NftTableFor(const std::string& prefix) {
  std::string out = "stockade_";
  for (char c : prefix) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    out += ok ? c : '_';
  }
  return out;
}

Expected<std::vector<StepSpec>> PlanApply(const Policy& policy, const PlanContext& context) {
  const paths::PathStyle style = StyleOf(context.os);
  if (!paths::IsAbsolute(context.state_dir, style)) {
    return Error(ErrorCode::kInvalidArgument,
                 "state folder '" + context.state_dir + "' is not an absolute path");
  }
  const std::string group = policy.GroupName();
  const std::string offline = policy.IdentityName(IdentityKind::kOffline);
  const std::string online = policy.IdentityName(IdentityKind::kOnline);
  const bool windows = context.os == TargetOs::kWindows;

  std::vector<StepSpec> specs;
  specs.push_back({kind::kGroup, "group " + group, {{"name", group}}});
  for (IdentityKind identity : {IdentityKind::kOffline, IdentityKind::kOnline}) {
    const std::string name = policy.IdentityName(identity);
    StepSpec user{kind::kUser,
                  "user " + name,
                  {{"name", name}, {"group", group}, {"identity", IdentityKindName(identity)}}};
    if (windows) user.params["hidden"] = true;  // not on the logon screen
    specs.push_back(std::move(user));
  }
  specs.push_back({kind::kStateDir,
                   "state folder " + context.state_dir,
                   {{"path", context.state_dir},
                    {"group", windows ? group : std::string("root")},
                    {"users", {offline, online}}}});
  // Linux: searchable by everyone (not listable) so that users reach the service's socket in it;
  // everything else in it is created private (umask 077 in stockaded and stockade-provision).
  if (!windows) specs.back().params["mode"] = "0711";
  if (windows) {
    auto sid = WriteSid(context);
    if (!sid.ok()) return sid.error().Wrap("drawing the synthetic write SID");
    specs.push_back({kind::kWriteSid, "write SID", {{"sid", *sid}}});
    const std::string credentials = JoinState(context, "credentials.bin");
    specs.push_back({kind::kCredentials,
                     "credentials " + credentials,
                     {{"path", credentials}, {"users", {offline, online}}, {"group", group}}});
  }
  for (IdentityKind identity : {IdentityKind::kOffline, IdentityKind::kOnline}) {
    if (policy.Network(identity).mode == NetworkMode::kBlocked) {
      specs.push_back(NetworkSpec(policy, context, identity));
    }
  }
  if (windows) {
    specs.push_back({kind::kAuditPolicy, "audit policy for " + group, {{"group", group}}});
  }
  if (!context.service_binary.empty()) {
    StepSpec service{kind::kService,
                     "service " + context.service_binary,
                     {{"binary", context.service_binary}, {"state_dir", context.state_dir}}};
    if (!context.policy_path.empty()) service.params["policy"] = context.policy_path;
    specs.push_back(std::move(service));
  }
  return specs;
}

Expected<StepSpec> PlanGrant(const Policy& policy, const PlanContext& context,
                             const std::string& workspace) {
  const paths::PathStyle style = StyleOf(context.os);
  const std::string offline = policy.IdentityName(IdentityKind::kOffline);
  const std::string online = policy.IdentityName(IdentityKind::kOnline);
  // Grants name the identities: they must exist and be ours, or the ACL would name a foreign
  // (or no) account.
  std::set<std::string> users;
  for (const StepRecord& step : context.live) {
    if (step.spec.kind == kind::kUser) users.insert(step.spec.params.value("name", ""));
  }
  if (!users.contains(offline) || !users.contains(online)) {
    return Error(ErrorCode::kNotFound, "the sandbox identities " + offline + " and " + online +
                                           " are not provisioned; run `stockade-provision apply` "
                                           "first");
  }

  nlohmann::json protected_paths = nlohmann::json::array();
  paths::ExpansionContext expansion;
  expansion.style = style;
  expansion.workspace = workspace;
  for (const std::string& entry : policy.filesystem.protected_paths) {
    const bool has_placeholder =
        entry.find('{') != std::string::npos || entry.find('%') != std::string::npos ||
        entry.find('$') != std::string::npos || (!entry.empty() && entry.front() == '~');
    std::string value = entry;
    if (has_placeholder) {
      auto expanded = paths::Expand(entry, expansion);
      if (!expanded.ok()) {
        return expanded.error().Wrap("expanding the protected path '" + entry + "' of " +
                                     policy.source);
      }
      value = *expanded;
    }
    if (paths::IsAbsolute(value, style)) {
      // Absolute entries outside this workspace protect other roots: not this grant's business.
      if (!paths::IsWithin(value, workspace, style)) continue;
    }
    protected_paths.push_back(value);
  }

  StepSpec spec{kind::kWorkspaceGrant, "workspace " + workspace, nlohmann::json::object()};
  spec.params["path"] = workspace;
  spec.params["protected"] = std::move(protected_paths);
  if (context.os == TargetOs::kWindows) {
    const StepRecord* sid = NewestLive(context, kind::kWriteSid);
    if (sid == nullptr || !sid->spec.params.contains("sid")) {
      return Error(ErrorCode::kNotFound,
                   "no write SID is provisioned; run `stockade-provision apply` first");
    }
    spec.params["sid"] = sid->spec.params["sid"];
    spec.params["group"] = policy.GroupName();
  } else {
    spec.params["users"] = {offline, online};
  }
  return spec;
}

std::vector<std::int64_t> GrantTransactionsFor(const PlanContext& context,
                                               const std::string& workspace) {
  const paths::PathStyle style = StyleOf(context.os);
  std::vector<std::int64_t> out;
  for (const StepRecord& step : context.live) {
    if (step.spec.kind != kind::kWorkspaceGrant) continue;
    auto path = step.spec.params.find("path");
    if (path == step.spec.params.end() || !path->is_string()) continue;
    if (!paths::Equal(path->get<std::string>(), workspace, style)) continue;
    if (std::find(out.begin(), out.end(), step.txn_id) == out.end()) out.push_back(step.txn_id);
  }
  std::sort(out.rbegin(), out.rend());
  return out;
}

}  // namespace stockade::provision
