// "Why was this denied?": the policy's answer for one path or one network address, and the rule
// that decides it. Pure logic over a Policy and the per-run values the runner would substitute
// ({workspace}, {temp}, ~); nothing here touches the file system or the network, so the answer
// is the same on any machine (the CLI, `stockade explain`, canonicalises paths and reads the
// provisioning journal itself). docs/audit-review.md describes the rules' order.
//
// The order mirrors how the runner confines a tree (runner/linux/mount_ns.cc, landlock.cc):
//   path, read:   a deny-read entry (or the service's own state folder) covering the path denies;
//                 everything else is readable (reads are broad).
//   path, write:  deny-read first (a hidden path is not writable either); then a protected path
//                 (a relative name under each writable root, or an absolute entry) makes it
//                 read-only; then a writable root allows; anything else is outside every root.
//   address:      the identity's [network.<identity>] mode "allowed" allows every address;
//                 "blocked" denies everything except TCP to a loopback address (127.0.0.0/8, ::1,
//                 "localhost") on a port listed in loopback_ports.
#ifndef STOCKADE_CORE_POLICY_EXPLAIN_H_
#define STOCKADE_CORE_POLICY_EXPLAIN_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/paths/path_rules.h"
#include "core/policy/policy.h"

namespace stockade::explain {

// The per-run values the runner substitutes, in the target style's normalised form.
struct ExplainContext {
  paths::PathStyle style = paths::NativeStyle();
  std::string workspace;  // {workspace}; empty: roots using it are reported as not applicable
  std::string temp;       // {temp}; empty: as above
  std::string home;       // ~ (the invoking user's home); empty: as above
  // The service's own state folder, always hidden from trees; empty: none. Paths inside `temp`
  // are exempt (the per-run temp folders live below the state folder on Linux).
  std::string state_dir;
  std::function<std::optional<std::string>(std::string_view)> env;
};

enum class Verdict { kAllowed, kDenied };

// Which kind of rule decided.
enum class RuleKind {
  kDenyRead,         // filesystem.deny_read[i]
  kServiceState,     // the service's own state folder (not in the policy; always hidden)
  kProtected,        // filesystem.protected[i] under a writable root
  kWritableRoot,     // filesystem.writable_roots[i]
  kOutsideRoots,     // no writable root covers the path
  kReadsBroad,       // no deny-read entry covers the path
  kNetworkMode,      // network.<identity>.mode
  kLoopbackPort,     // network.<identity>.loopback_ports lists the port
  kLoopbackUnlisted  // loopback, but the port is not listed
};

// Stable names for JSON: "deny_read", "service_state", "protected", "writable_root",
// "outside_roots", "reads_broad", "network_mode", "loopback_port", "loopback_unlisted".
std::string_view RuleKindName(RuleKind kind);
std::string_view VerdictName(Verdict verdict);  // "allowed" | "denied"

struct Decision {
  std::string access;  // "read", "write", "connect tcp"
  Verdict verdict = Verdict::kDenied;
  RuleKind rule = RuleKind::kOutsideRoots;
  // The policy key that decides ("filesystem.deny_read[0]"), "" when no entry does.
  std::string policy_key;
  // The entry as written in the policy ("~/.ssh"), and what it expanded to ("/home/a/.ssh").
  std::string pattern;
  std::string expanded;
  // One sentence for humans, naming the rule and the values.
  std::string reason;
};

struct PathExplanation {
  std::string path;  // normalised
  Decision read;
  Decision write;
  // Entries that could not be expanded with this context (e.g. "{temp}" when temp is empty),
  // each "<policy key> \"<pattern>\": <why>": they were skipped, and the answer says so.
  std::vector<std::string> skipped;
};

// Explains `path` (absolute, in context.style) for `identity`. Both identities share the file
// system rules; `identity` only names it in the reasons. kPathInvalid when `path` does not
// normalise.
Expected<PathExplanation> ExplainPath(const Policy& policy, IdentityKind identity,
                                      std::string_view path, const ExplainContext& context);

struct Address {
  std::string host;  // as written, without IPv6 brackets
  std::uint16_t port = 0;
};

// Parses "HOST:PORT", "[IPV6]:PORT" or "IPV4:PORT"; the port is 1-65535. kInvalidArgument naming
// what is wrong. A bare IPv6 address without brackets is refused (its colons are ambiguous).
Expected<Address> ParseAddress(std::string_view text);

// True for "localhost" (any case, optional trailing dot), 127.0.0.0/8 and ::1 (also written in
// full, or as the IPv4-mapped ::ffff:127.x.y.z). Names are not resolved.
bool IsLoopbackHost(std::string_view host);

// True when `text` looks like HOST:PORT rather than a path: no path separator, one ":PORT" suffix
// of digits (or "[...]:PORT"), and not a path under `style` (so "C:\x" is a path).
bool LooksLikeAddress(std::string_view text, paths::PathStyle style);

// Explains a TCP connection from `identity` to `address`.
Decision ExplainAddress(const Policy& policy, IdentityKind identity, const Address& address);

}  // namespace stockade::explain

#endif  // STOCKADE_CORE_POLICY_EXPLAIN_H_
