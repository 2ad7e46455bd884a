// The selftest's probes as data: what each attempts, whether it is an attack or an allowed
// action, on which platform it exists, what should happen under each identity, how the sandbox
// blocks it on Linux and on Windows, and which escapes the unprovisioned mode cannot prevent
// (documented limits). docs/selftest.md is this table in prose; the orchestrator and
// stockade-probe both read it, so a probe cannot exist in one and not the other.
#ifndef STOCKADE_RUNNER_SELFTEST_CATALOG_H_
#define STOCKADE_RUNNER_SELFTEST_CATALOG_H_

#include <string_view>
#include <vector>

namespace stockade::runner::selftest {

enum class ProbeKind { kAttack, kAllowed };

// How the network identity changes what a probe means.
enum class NetworkRole {
  kNone,        // not a network probe: the same under both identities
  kOutbound,    // network the offline identity must not reach: an attack offline, allowed online
  kAllowedPort  // a loopback port the policy gives the offline identity: allowed under both
};

enum class Platform : unsigned { kLinux = 1, kWindows = 2, kBoth = 3 };

// The platform this binary was built for.
Platform CurrentPlatform();

struct ProbeInfo {
  const char* name;
  ProbeKind kind;
  NetworkRole network;
  Platform platforms;
  const char* attempts;       // what the probe tries, for the table
  const char* linux_block;    // what stops it on Linux (provisioned), or how it must work
  const char* windows_block;  // the same on Windows
  // Non-null when the unprovisioned mode cannot block this attack on that platform: why.
  const char* unprovisioned_limit_linux;
  const char* unprovisioned_limit_windows;
};

// What the selftest expects from a probe under an identity.
enum class Expectation { kBlocked, kWorks };

// Every probe, in the order the selftest runs them.
const std::vector<ProbeInfo>& AllProbes();
// The probes that exist on `platform`.
std::vector<const ProbeInfo*> ProbesFor(Platform platform);
// nullptr when `name` is not a probe.
const ProbeInfo* FindProbe(std::string_view name);
// kWorks for allowed actions and, under the online identity, for outbound network probes.
Expectation ExpectationFor(const ProbeInfo& probe, bool online);
// The documented-limit text of `probe` for the unprovisioned mode on `platform`, or nullptr.
const char* UnprovisionedLimit(const ProbeInfo& probe, Platform platform);

}  // namespace stockade::runner::selftest

#endif  // STOCKADE_RUNNER_SELFTEST_CATALOG_H_
