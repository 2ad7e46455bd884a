// kind::kNetworkRules on Linux: an nftables table owned by Stockade that confines the offline
// identity's outbound traffic. For packets sent by sockets of that uid (`meta skuid`), in one
// output-hook chain of an inet table (IPv4 and IPv6 alike):
//   1. to the loopback interface on the policy's TCP ports: accept;
//   2. any other TCP: log to NFLOG group N, then `reject with tcp reset` (a refused connect()
//      fails at once with ECONNREFUSED; a plain reject makes TCP retry for about a second);
//   3. everything else (UDP, ICMP, ...): log, then reject (ICMP port unreachable).
// Every rule has a counter. Only this table is ever created, listed, replaced or deleted:
// nothing else in the ruleset is touched, and deleting it restores `nft list ruleset` exactly.
//
// params:  {"prefix": "<identity prefix>", "user": "<prefix>-offline",
//           "loopback_ports": [3128, ...], "nflog_group": N,
//           "table": "stockade_<prefix>" (optional override, e.g. for a second identity)}
// before:  {"family": "inet", "table": name, "existed": bool, "listing": text (when it existed)}
#ifndef STOCKADE_PROVISION_LINUX_NFT_STEP_H_
#define STOCKADE_PROVISION_LINUX_NFT_STEP_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "provision/linux/nft.h"
#include "provision/step.h"

namespace stockade::provision::linux_os {

inline constexpr char kNftFamily[] = "inet";
inline constexpr char kNftChain[] = "output";

// "stockade_<prefix>" with every character outside [A-Za-z0-9_] replaced by '_', so that tests
// with different prefixes never share a table.
std::string NftTableNameForPrefix(const std::string& prefix);

class NftStep : public Step {
 public:
  // kInvalidArgument for a missing prefix/user/nflog_group, ports outside 1..65535.
  static Expected<std::unique_ptr<Step>> Create(const StepSpec& spec);

  std::string Describe() const override;
  // Whether our table exists, and its full listing when it does.
  Expected<nlohmann::json> CaptureBefore() override;
  // Verify() passes; false (not an error) while the user does not exist yet.
  Expected<bool> IsApplied() override;
  // The table exists in any shape.
  Expected<bool> TargetPresent() override;
  // One atomic nft transaction that (re)creates the table with exactly our chain and rules,
  // using the user's current uid. A table of that name without Stockade's comment is refused
  // (kAlreadyExists) and left alone. kNotFound when the user does not exist.
  Status Apply() override;
  // Reads the table back as JSON: exactly one chain (filter, hook output, priority 0, policy
  // accept) with exactly the expected rules in order (counter values ignored), and no other
  // object. kVerificationFailed naming the first difference.
  Status Verify() override;
  // Deletes our table (only it), or puts back the listing it had when it existed before.
  Status Undo(const nlohmann::json& before) override;
  // The table is absent again (or its listing, counters aside, is as before).
  Status VerifyUndone(const nlohmann::json& before) override;

  // The nft commands Apply sends for a given uid (exposed for tests and docs).
  std::string RulesetFor(std::uint32_t uid) const;
  // The rules Verify expects for a given uid.
  std::vector<NftRule> ExpectedRules(std::uint32_t uid) const;
  const std::string& table() const { return table_; }

 private:
  NftStep(StepSpec spec, std::string prefix, std::string table, std::string user,
          std::vector<std::uint16_t> ports, std::uint32_t nflog_group)
      : Step(std::move(spec)),
        prefix_(std::move(prefix)),
        table_(std::move(table)),
        user_(std::move(user)),
        ports_(std::move(ports)),
        nflog_group_(nflog_group) {}

  const std::string prefix_, table_, user_;
  const std::vector<std::uint16_t> ports_;  // sorted, unique
  const std::uint32_t nflog_group_;
};

}  // namespace stockade::provision::linux_os

#endif  // STOCKADE_PROVISION_LINUX_NFT_STEP_H_
