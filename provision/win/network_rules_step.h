// kind::kNetworkRules on Windows: Windows Firewall rules that take the network away from one
// sandbox identity (the offline one), scoped to it with INetFwRule3::LocalUserAuthorizedList.
//
// params:  {"user": "<prefix>-offline", "loopback_ports": [3128] (optional),
//           "rule_prefix": "Stockade" (optional)}
// before:  {"sid": "<the user's SID>", "rules": [<rules that already carried our names>]}
// Rules (all enabled, every profile, every interface, LocalUserAuthorizedList
// "O:LSD:(A;;CC;;;<SID>)", names "<rule_prefix> <user>: ..." so that only ours are ever touched;
// Windows Firewall lets a block rule win over any allow rule, so the loopback exception is made
// by leaving the allowed ports out of the block rule, not by an allow rule):
//   outbound, any protocol, to every address except loopback (IPv4 and IPv6)    block
//   inbound,  any protocol, from every address except loopback                  block
//   outbound, TCP to 127.0.0.0/8 and ::1, every port but loopback_ports          block
//   outbound, UDP to 127.0.0.0/8 and ::1                                          block
//   outbound, ICMPv4 to 127.0.0.0/8; outbound, ICMPv6 to ::1                      block
// Apply:   fails clearly, before any change, when Group Policy makes local rules ineffective or
//          the firewall is off for a profile (FirewallPolicy::CheckLocalRulesEffective); removes
//          rules carrying our names, adds each rule and reads every property back.
// Check:   exactly these rules are listed under our names, property for property, and local
//          rules still take effect. Under Wine nothing is stored (and INetFwRule3 is missing):
//          Verify fails; Apply fails on the policy's E_NOTIMPL before adding anything.
// Undo:    removes every rule under our names, then re-adds (and reads back) the ones that
//          carried our names before.
#ifndef STOCKADE_PROVISION_WIN_NETWORK_RULES_STEP_H_
#define STOCKADE_PROVISION_WIN_NETWORK_RULES_STEP_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "provision/win/checked_step.h"
#include "provision/win/firewall.h"

namespace stockade::provision::win {

inline constexpr char kDefaultRulePrefix[] = "Stockade";
// Every rule the firewall rules step makes belongs to this group (INetFwRule::Grouping).
inline constexpr char kRuleGrouping[] = "Stockade";

// The rules above for `user` with SID `sid`.
std::vector<FirewallRule> PlannedRules(const std::string& rule_prefix, const std::string& user,
                                       const std::string& sid,
                                       const std::vector<std::uint16_t>& loopback_ports);

// "<rule_prefix> <user>:" -- the start of every rule name of this step.
std::string RuleNamePrefix(const std::string& rule_prefix, const std::string& user);

class NetworkRulesStep : public CheckedStep {
 public:
  static Expected<std::unique_ptr<Step>> Create(const StepSpec& spec);

  std::string Describe() const override;
  Expected<nlohmann::json> CaptureBefore() override;
  // A rule carrying one of our names.
  Expected<bool> TargetPresent() override;
  Status Apply() override;
  Status Undo(const nlohmann::json& before) override;

 protected:
  Expected<std::string> Check() override;
  Expected<std::string> CheckUndone(const nlohmann::json& before) override;

 private:
  NetworkRulesStep(const StepSpec& spec, std::string user, std::vector<std::uint16_t> ports,
                   std::string rule_prefix)
      : CheckedStep(spec),
        user_(std::move(user)),
        ports_(std::move(ports)),
        rule_prefix_(std::move(rule_prefix)) {}

  std::string user_;
  std::vector<std::uint16_t> ports_;
  std::string rule_prefix_;
};

}  // namespace stockade::provision::win

#endif  // STOCKADE_PROVISION_WIN_NETWORK_RULES_STEP_H_
