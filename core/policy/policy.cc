#include "core/policy/policy.h"

namespace stockade {

std::string Policy::IdentityName(IdentityKind kind) const {
  return identity_prefix + "-" + IdentityKindName(kind);
}

std::string Policy::GroupName() const { return identity_prefix + "-users"; }

const NetworkPolicy& Policy::Network(IdentityKind kind) const {
  return kind == IdentityKind::kOffline ? offline : online;
}

const char* IdentityKindName(IdentityKind kind) {
  return kind == IdentityKind::kOffline ? "offline" : "online";
}

const char* NetworkModeName(NetworkMode mode) {
  return mode == NetworkMode::kBlocked ? "blocked" : "allowed";
}

}  // namespace stockade
