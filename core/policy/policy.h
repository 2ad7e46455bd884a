// The policy model: what the sandbox identities may do. Loaded from TOML (policy_loader.h), with
// an embedded default. Paths are kept as written (placeholders unexpanded): they are expanded per
// run or per grant by core/paths/expand.h, because {workspace} differs per command.
#ifndef STOCKADE_CORE_POLICY_POLICY_H_
#define STOCKADE_CORE_POLICY_POLICY_H_

#include <cstdint>
#include <string>
#include <vector>

// Included first on purpose: ErrorCode::kPolicyVersion declared after the constant below would
// trigger -Wshadow in every file that includes this header before error.h.
#include "core/error.h"

namespace stockade {

inline constexpr int kPolicyVersion = 1;

enum class NetworkMode { kBlocked, kAllowed };

// The two sandbox identities. Names on the OS are "<prefix>-offline" and "<prefix>-online".
enum class IdentityKind { kOffline, kOnline };

struct NetworkPolicy {
  NetworkMode mode = NetworkMode::kBlocked;
  // Loopback TCP ports the identity may still reach when mode is kBlocked (e.g. a local proxy).
  std::vector<std::uint16_t> loopback_ports;

  bool operator==(const NetworkPolicy&) const = default;
};

struct FilesystemPolicy {
  // Roots the identities may write under; "{workspace}" and "{temp}" are placeholders.
  std::vector<std::string> writable_roots;
  // Read-only even inside writable roots: relative names (".git") apply under every root,
  // absolute paths must lie inside some root.
  std::vector<std::string> protected_paths;
  // Not even readable ("~/.ssh").
  std::vector<std::string> deny_read;

  bool operator==(const FilesystemPolicy&) const = default;
};

struct LimitsPolicy {
  std::uint32_t max_processes = 1024;
  std::uint64_t memory_mb = 8192;

  bool operator==(const LimitsPolicy&) const = default;
};

struct AuditPolicy {
  std::uint32_t retention_days = 365;
  // If the service cannot record, the run does not start unless this is true.
  bool fail_open = false;
  // Durability of each record: true = the store fsyncs every commit, so a run's start and end
  // survive a power loss (two fsyncs on every run's path); false = commits reach the WAL
  // without fsync: they survive a crash of the service, a power loss may lose the last
  // moments. A failed write refuses the run either way.
  bool fsync = true;

  bool operator==(const AuditPolicy&) const = default;
};

struct Policy {
  int version = kPolicyVersion;
  std::string identity_prefix = "stockade";
  NetworkPolicy offline;  // [network.offline]
  NetworkPolicy online;   // [network.online]
  FilesystemPolicy filesystem;
  LimitsPolicy limits;
  AuditPolicy audit;
  // Where the policy came from ("<embedded default>" or a file path), for messages.
  std::string source;

  // "<prefix>-offline", "<prefix>-online", "<prefix>-users".
  std::string IdentityName(IdentityKind kind) const;
  std::string GroupName() const;
  const NetworkPolicy& Network(IdentityKind kind) const;

  // Member-wise, `source` included (compare PolicyToJson() results to ignore where it came from).
  bool operator==(const Policy&) const = default;
};

const char* IdentityKindName(IdentityKind kind);  // "offline" | "online"
const char* NetworkModeName(NetworkMode mode);    // "blocked" | "allowed"

}  // namespace stockade

#endif  // STOCKADE_CORE_POLICY_POLICY_H_
