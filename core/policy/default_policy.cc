#include "core/policy/default_policy.h"

#include <cstdio>
#include <cstdlib>

#include "core/policy/policy_loader.h"

namespace stockade {

namespace {

// The example policy of ARCHITECTURE.md, plus the keys it leaves implicit (fail_open, fsync).
constexpr std::string_view kDefaultPolicyToml = R"toml(# Stockade's embedded default policy.
# It applies when no policy file exists, and a policy file that leaves a key out gets the value
# given here. See docs/policy.md.
version = 1

[identities]
prefix = "stockade"                 # users <prefix>-offline, <prefix>-online, group <prefix>-users

[network.offline]
mode = "blocked"                    # blocked | allowed
loopback_ports = [3128]             # e.g. a local proxy the offline identity may reach

[network.online]
mode = "allowed"

[filesystem]
writable_roots = ["{workspace}", "{temp}"]
protected = [".git", ".codex", ".agents"]                  # read-only even inside writable roots
deny_read = ["~/.ssh", "~/.aws", "~/.gnupg", "~/.kube", "~/.docker"]

[limits]
max_processes = 1024
memory_mb = 8192

[audit]
retention_days = 365
fail_open = false                   # true: runs start even when the audit store cannot record
fsync = true                        # false: records survive a service crash, not a power loss
)toml";

}  // namespace

std::string_view DefaultPolicyToml() { return kDefaultPolicyToml; }

const Policy& DefaultPolicy() {
  // Parsed over an all-default struct, so that nothing but the text decides the result.
  static const Policy kDefault = [] {
    Expected<Policy> parsed = ParsePolicyOver(kDefaultPolicyToml, kEmbeddedPolicySource, Policy{});
    if (!parsed.ok()) {
      std::fprintf(stderr, "stockade: internal error: the embedded default policy is invalid: %s\n",
                   parsed.error().ToString().c_str());
      std::abort();
    }
    return std::move(parsed).value();
  }();
  return kDefault;
}

}  // namespace stockade
