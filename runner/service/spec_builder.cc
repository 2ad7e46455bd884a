#include "runner/service/spec_builder.h"

#include <algorithm>

#include "core/paths/expand.h"

namespace stockade::runner::service {

namespace {

bool HasPlaceholder(const std::string& entry) {
  return entry.find('{') != std::string::npos || entry.find('%') != std::string::npos ||
         entry.find('$') != std::string::npos || (!entry.empty() && entry.front() == '~');
}

bool IsRoot(const std::string& path, paths::PathStyle style) {
  const paths::SplitPath split = paths::Split(path, style);
  return split.components.empty();
}

void AddUnique(std::vector<std::string>& list, std::string value) {
  if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(std::move(value));
}

}  // namespace

Expected<IdentityKind> ParseIdentityKind(const std::string& name) {
  if (name == "offline") return IdentityKind::kOffline;
  if (name == "online") return IdentityKind::kOnline;
  return Error(ErrorCode::kInvalidArgument, "identity '" + name.substr(0, 64) +
                                                "' is not a sandbox identity; expected offline "
                                                "or online");
}

Expected<LaunchSpec> BuildLaunchSpec(const Policy& policy, const SpecInputs& in) {
  paths::ExpansionContext ctx;
  ctx.style = in.style;
  ctx.workspace = in.workspace;
  ctx.temp = in.temp;
  ctx.home = in.home;
  // ctx.env stays empty on purpose: see the header.

  auto expand = [&](const std::string& entry, const char* list) -> Expected<std::string> {
    auto out = paths::Expand(entry, ctx);
    if (!out.ok()) {
      return out.error().Wrap(std::string("policy ") + policy.source + ": filesystem." + list +
                              " entry '" + entry + "'");
    }
    return out;
  };

  LaunchSpec spec;
  for (const std::string& entry : policy.filesystem.writable_roots) {
    auto root = expand(entry, "writable_roots");
    if (!root.ok()) return root.error();
    if (IsRoot(*root, in.style)) {
      return Error(ErrorCode::kPathInvalid, "policy " + policy.source +
                                                ": filesystem.writable_roots entry '" + entry +
                                                "' expands to the filesystem root '" + *root +
                                                "'; a sandbox that may write everywhere is none");
    }
    AddUnique(spec.writable_roots, std::move(*root));
  }
  for (const std::string& entry : policy.filesystem.protected_paths) {
    if (!HasPlaceholder(entry)) {
      AddUnique(spec.protected_paths, entry);  // ".git", or an absolute path
      continue;
    }
    auto path = expand(entry, "protected");
    if (!path.ok()) return path.error();
    AddUnique(spec.protected_paths, std::move(*path));
  }
  for (const std::string& entry : policy.filesystem.deny_read) {
    auto path = expand(entry, "deny_read");
    if (!path.ok()) return path.error();
    AddUnique(spec.deny_read, std::move(*path));
  }
  for (const std::string& extra : in.extra_deny_read) AddUnique(spec.deny_read, extra);

  const NetworkPolicy& net = policy.Network(in.kind);
  spec.network =
      net.mode == NetworkMode::kAllowed ? NetworkAccess::kAllowed : NetworkAccess::kBlocked;
  if (spec.network == NetworkAccess::kBlocked) spec.loopback_ports = net.loopback_ports;
  spec.limits.max_processes = policy.limits.max_processes;
  spec.limits.memory_bytes = policy.limits.memory_mb * 1024ULL * 1024ULL;

  spec.argv = in.argv;
  spec.env.reserve(in.env.size() + 1);
  for (const std::string& e : in.env) {
    if (!in.temp.empty() && e.compare(0, 7, "TMPDIR=") == 0) continue;
    spec.env.push_back(e);
  }
  if (!in.temp.empty()) spec.env.push_back("TMPDIR=" + in.temp);
  spec.cwd = in.cwd;
  spec.identity = in.identity;
  spec.timeout = in.timeout;
  STOCKADE_RETURN_IF_ERROR(ValidateLaunchSpec(spec));
  return spec;
}

}  // namespace stockade::runner::service
