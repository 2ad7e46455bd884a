#include "provision/win/network_rules_step.h"

#include <set>

#include "core/log/logging.h"
#include "provision/win/params.h"
#include "provision/win/sid.h"
#include "provision/win/win_util.h"

namespace stockade::provision::win {

namespace {

// Every address but loopback: IPv4 without 127.0.0.0/8, IPv6 without ::1 (:: itself, the
// unspecified address, cannot be connected to and is left out with it).
constexpr char kNonLoopback[] =
    "0.0.0.0-126.255.255.255,128.0.0.0-255.255.255.255,"
    "::2-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
constexpr char kLoopbackV4[] = "127.0.0.0-127.255.255.255";
constexpr char kLoopbackV6[] = "::1";

Expected<std::vector<FirewallRule>> RulesFromJson(const nlohmann::json& list) {
  std::vector<FirewallRule> rules;
  if (!list.is_array()) return Error(ErrorCode::kStateCorrupt, "firewall rules: not an array");
  for (const auto& item : list) {
    auto rule = FirewallRule::FromJson(item);
    if (!rule.ok()) return rule.error();
    rules.push_back(std::move(*rule));
  }
  return rules;
}

// "" when `actual` holds exactly `expected` (by name, then property by property).
std::string CompareRuleSets(const std::vector<FirewallRule>& expected,
                            const std::vector<FirewallRule>& actual) {
  std::multiset<std::string> expected_names;
  for (const FirewallRule& rule : expected) expected_names.insert(rule.name);
  for (const FirewallRule& rule : actual) {
    if (expected_names.count(rule.name) == 0) {
      return "unexpected firewall rule '" + rule.name + "'";
    }
  }
  for (const FirewallRule& want : expected) {
    const FirewallRule* match = nullptr;
    int count = 0;
    for (const FirewallRule& have : actual) {
      if (have.name == want.name) {
        match = &have;
        ++count;
      }
    }
    if (count == 0) {
      return "firewall rule '" + want.name + "' is missing (" + std::to_string(actual.size()) +
             " rules listed under this step's names)";
    }
    if (count > 1) return std::to_string(count) + " firewall rules are named '" + want.name + "'";
    std::string difference = CompareRules(want, *match);
    if (!difference.empty()) return difference;
  }
  return "";
}

}  // namespace

std::string RuleNamePrefix(const std::string& rule_prefix, const std::string& user) {
  return rule_prefix + " " + user + ":";
}

std::vector<FirewallRule> PlannedRules(const std::string& rule_prefix, const std::string& user,
                                       const std::string& sid,
                                       const std::vector<std::uint16_t>& loopback_ports) {
  const std::string names = RuleNamePrefix(rule_prefix, user);
  const std::string scope = "O:LSD:(A;;CC;;;" + sid + ")";
  auto make = [&](const std::string& what, int direction, long protocol,
                  const std::string& remote) {
    FirewallRule rule;
    rule.name = names + " " + what;
    rule.description = "Stockade: network isolation of the sandbox identity " + user +
                       ". Managed by stockade-provision; removed by its rollback.";
    rule.grouping = kRuleGrouping;
    rule.direction = direction;
    rule.action = kFwActionBlock;
    rule.protocol = protocol;
    rule.remote_addresses = remote;
    rule.enabled = true;
    rule.profiles = kFwProfilesAll;
    rule.interface_types = "All";
    rule.local_user_authorized_list = scope;
    return rule;
  };
  std::vector<FirewallRule> rules;
  rules.push_back(
      make("block outbound (non-loopback)", kFwDirectionOut, kFwProtocolAny, kNonLoopback));
  rules.push_back(
      make("block inbound (non-loopback)", kFwDirectionIn, kFwProtocolAny, kNonLoopback));
  const std::string loopback = std::string(kLoopbackV4) + "," + kLoopbackV6;
  const std::string blocked_ports = ComplementPorts(loopback_ports);
  if (!blocked_ports.empty()) {
    FirewallRule tcp = make("block loopback TCP (except allowed ports)", kFwDirectionOut,
                            kFwProtocolTcp, loopback);
    // Every port blocked: no port list at all ("*").
    tcp.remote_ports = loopback_ports.empty() ? std::string() : blocked_ports;
    rules.push_back(std::move(tcp));
  }
  rules.push_back(make("block loopback UDP", kFwDirectionOut, kFwProtocolUdp, loopback));
  rules.push_back(make("block loopback ICMPv4", kFwDirectionOut, kFwProtocolIcmpV4, kLoopbackV4));
  rules.push_back(make("block loopback ICMPv6", kFwDirectionOut, kFwProtocolIcmpV6, kLoopbackV6));
  return rules;
}

Expected<std::unique_ptr<Step>> NetworkRulesStep::Create(const StepSpec& spec) {
  auto reader = JsonReader::Params(spec);
  auto user = reader.String("user");
  if (!user.ok()) return user.error();
  auto ports = reader.Ints("loopback_ports", 1, 65535);
  if (!ports.ok()) return ports.error();
  std::vector<std::uint16_t> loopback_ports;
  for (std::int64_t port : *ports) loopback_ports.push_back(static_cast<std::uint16_t>(port));
  auto prefix = reader.StringOr("rule_prefix", kDefaultRulePrefix);
  if (!prefix.ok()) return prefix.error();
  if (prefix->empty()) return reader.Bad("rule_prefix", "a non-empty string");
  return std::unique_ptr<Step>(
      new NetworkRulesStep(spec, *user, std::move(loopback_ports), *prefix));
}

std::string NetworkRulesStep::Describe() const {
  std::string ports;
  for (std::uint16_t port : ports_) ports += (ports.empty() ? "" : ",") + std::to_string(port);
  return "block the network for " + user_ + " with Windows Firewall rules (loopback ports " +
         (ports.empty() ? std::string("none") : ports) + " allowed)";
}

Expected<nlohmann::json> NetworkRulesStep::CaptureBefore() {
  auto sid = ResolveLocalAccountSid(user_);
  if (!sid.ok()) return sid.error();
  auto policy = FirewallPolicy::Open();
  if (!policy.ok()) return policy.error();
  auto existing = policy->ListRules(RuleNamePrefix(rule_prefix_, user_));
  if (!existing.ok()) return existing.error();
  nlohmann::json before{{"sid", sid->ToString()}, {"rules", nlohmann::json::array()}};
  for (const FirewallRule& rule : *existing) before["rules"].push_back(rule.ToJson());
  return before;
}

Expected<bool> NetworkRulesStep::TargetPresent() {
  auto policy = FirewallPolicy::Open();
  if (!policy.ok()) return policy.error();
  auto existing = policy->ListRules(RuleNamePrefix(rule_prefix_, user_));
  if (!existing.ok()) return existing.error();
  return !existing->empty();
}

Status NetworkRulesStep::Apply() {
  auto policy = FirewallPolicy::Open();
  if (!policy.ok()) return policy.error();
  // Before any change: rules that would not take effect are worse than none, because the
  // journal would then say the identity is offline.
  STOCKADE_RETURN_IF_ERROR(policy->CheckLocalRulesEffective());
  auto sid = ResolveLocalAccountSid(user_);
  if (!sid.ok()) return sid.error();
  auto existing = policy->ListRules(RuleNamePrefix(rule_prefix_, user_));
  if (!existing.ok()) return existing.error();
  for (const FirewallRule& rule : *existing) {
    STOCKADE_RETURN_IF_ERROR(policy->RemoveRules(rule.name));
  }
  const std::vector<FirewallRule> rules =
      PlannedRules(rule_prefix_, user_, sid->ToString(), ports_);
  for (const FirewallRule& rule : rules) {
    STOCKADE_RETURN_IF_ERROR(policy->AddRule(rule));
  }
  log::Logger()->info("firewall: {} rules for {} ({}) added and read back", rules.size(), user_,
                      sid->ToString());
  return OkStatus();
}

Expected<std::string> NetworkRulesStep::Check() {
  auto sid = ResolveLocalAccountSid(user_);
  if (!sid.ok()) {
    if (sid.error().code() == ErrorCode::kNotFound) return sid.error().context();
    return sid.error();
  }
  auto policy = FirewallPolicy::Open();
  if (!policy.ok()) return policy.error();
  auto listed = policy->ListRules(RuleNamePrefix(rule_prefix_, user_));
  if (!listed.ok()) return listed.error();
  std::string difference =
      CompareRuleSets(PlannedRules(rule_prefix_, user_, sid->ToString(), ports_), *listed);
  if (!difference.empty()) return difference;
  Status effective = policy->CheckLocalRulesEffective();
  if (!effective.ok()) {
    if (effective.error().code() == ErrorCode::kUnsupported) return effective.error().context();
    return effective.error();
  }
  return std::string();
}

Status NetworkRulesStep::Undo(const nlohmann::json& before) {
  auto reader = JsonReader::Before(spec(), before);
  auto list = reader.Member("rules");
  if (!list.ok()) return list.error();
  auto previous = RulesFromJson(*list);
  if (!previous.ok()) return previous.error().Wrap(spec().target);
  auto policy = FirewallPolicy::Open();
  if (!policy.ok()) return policy.error();
  auto listed = policy->ListRules(RuleNamePrefix(rule_prefix_, user_));
  if (!listed.ok()) return listed.error();
  std::set<std::string> names;
  for (const FirewallRule& rule : *listed) names.insert(rule.name);
  for (const std::string& name : names) STOCKADE_RETURN_IF_ERROR(policy->RemoveRules(name));
  for (const FirewallRule& rule : *previous) STOCKADE_RETURN_IF_ERROR(policy->AddRule(rule));
  log::Logger()->info("firewall: {} rules of {} removed, {} previous rules restored", names.size(),
                      user_, previous->size());
  return OkStatus();
}

Expected<std::string> NetworkRulesStep::CheckUndone(const nlohmann::json& before) {
  auto reader = JsonReader::Before(spec(), before);
  auto list = reader.Member("rules");
  if (!list.ok()) return list.error();
  auto previous = RulesFromJson(*list);
  if (!previous.ok()) return previous.error().Wrap(spec().target);
  auto policy = FirewallPolicy::Open();
  if (!policy.ok()) return policy.error();
  auto listed = policy->ListRules(RuleNamePrefix(rule_prefix_, user_));
  if (!listed.ok()) return listed.error();
  return CompareRuleSets(*previous, *listed);
}

}  // namespace stockade::provision::win
