// libnftables, wrapped: one nft_ctx per call (RAII), output and errors captured in buffers, so
// that commands are sent as one atomic transaction and what the kernel holds is read back as
// JSON (-j) rather than trusted from a return code.
#ifndef STOCKADE_PROVISION_LINUX_NFT_H_
#define STOCKADE_PROVISION_LINUX_NFT_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"

namespace stockade::provision::linux_os {

enum class NftOutput { kText, kJson };

// Runs `commands` (nft syntax; several lines are one transaction: all or nothing) and returns
// what nft printed. Errors: kOs with nft's own error text (kPermissionDenied when not root).
Expected<std::string> RunNft(const std::string& commands, NftOutput output = NftOutput::kText);

// Like RunNft with JSON output, parsed. kOs when nft's output is not JSON.
Expected<nlohmann::json> RunNftJson(const std::string& commands);

struct NftTableName {
  std::string family;
  std::string name;
  bool operator==(const NftTableName&) const = default;
};

// Every table in the ruleset (family and name), from `list tables` as JSON.
Expected<std::vector<NftTableName>> ListNftTables();

// True when the table exists.
Expected<bool> NftTableExists(const std::string& family, const std::string& name);

// One rule of a chain as Stockade reads it back: the matches it understands, its statements and
// verdict, and its counter. `understood` is false when it has an expression Stockade never
// writes (someone edited the rule).
struct NftRule {
  std::optional<std::uint32_t> skuid;
  std::string oifname;                    // "" when not matched
  std::string l4proto;                    // "tcp", "udp", ... or ""
  std::vector<std::uint16_t> tcp_dports;  // sorted; empty when not matched
  bool counter = false;
  std::optional<std::uint32_t> log_group;
  std::string verdict;  // "accept", "drop", "reject" (icmpx port-unreachable), "reject-tcp-reset"
  bool understood = true;
  std::uint64_t packets = 0;  // counter value (not compared)
  std::uint64_t bytes = 0;

  // Everything except the counter values.
  bool SameAs(const NftRule& other) const;
  // "meta skuid 998 oifname lo tcp dport {3128} counter accept".
  std::string Describe() const;
};

struct NftChain {
  std::string name;
  std::string type, hook, policy;
  std::int64_t prio = 0;
  std::vector<NftRule> rules;
};

struct NftTable {
  std::vector<NftChain> chains;
  std::vector<std::string> other_objects;  // sets, maps, flowtables, ... (Stockade makes none)
};

// Reads one table back (`list table FAMILY NAME` as JSON). kNotFound when it does not exist.
Expected<NftTable> ReadNftTable(const std::string& family, const std::string& name);

}  // namespace stockade::provision::linux_os

#endif  // STOCKADE_PROVISION_LINUX_NFT_H_
