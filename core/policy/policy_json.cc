#include "core/policy/policy_json.h"

#include "core/crypto/sha256.h"

namespace stockade {

namespace {

nlohmann::json NetworkToJson(const NetworkPolicy& network) {
  return {{"mode", NetworkModeName(network.mode)}, {"loopback_ports", network.loopback_ports}};
}

}  // namespace

nlohmann::json PolicyToJson(const Policy& policy) {
  // nlohmann::json objects are std::maps: keys come out sorted, which makes dump() canonical.
  return {
      {"version", policy.version},
      {"identities", {{"prefix", policy.identity_prefix}}},
      {"network",
       {{"offline", NetworkToJson(policy.offline)}, {"online", NetworkToJson(policy.online)}}},
      {"filesystem",
       {{"writable_roots", policy.filesystem.writable_roots},
        {"protected", policy.filesystem.protected_paths},
        {"deny_read", policy.filesystem.deny_read}}},
      {"limits",
       {{"max_processes", policy.limits.max_processes}, {"memory_mb", policy.limits.memory_mb}}},
      {"audit",
       {{"retention_days", policy.audit.retention_days},
        {"fail_open", policy.audit.fail_open},
        {"fsync", policy.audit.fsync}}},
  };
}

std::string CanonicalPolicyJson(const Policy& policy) {
  // The loader only produces valid UTF-8; `replace` (U+FFFD) keeps a hand-built policy with bad
  // bytes from throwing out of the module.
  return PolicyToJson(policy).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string PolicyHash(const Policy& policy) {
  return crypto::Sha256Hex(CanonicalPolicyJson(policy));
}

}  // namespace stockade
