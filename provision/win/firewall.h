// Windows Firewall rules through the firewall's COM API (INetFwPolicy2, INetFwRules, INetFwRule,
// INetFwRule3), with every rule read back after it is added, property by property.
//
// Under Wine 8 the firewall objects are stubs: INetFwRules::Add returns S_OK and stores nothing,
// the rule count stays 0, INetFwRule3 (the per-user scope) is not offered, and the policy's
// modify state and per-profile switches return E_NOTIMPL. AddRule detects the first through its
// read-back, refuses the second before adding anything (a block rule that cannot be scoped to
// the sandbox user would block everyone), and CheckLocalRulesEffective reports the third.
#ifndef STOCKADE_PROVISION_WIN_FIREWALL_H_
#define STOCKADE_PROVISION_WIN_FIREWALL_H_

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace stockade::provision::win {

// Values of the firewall API's enums, without its header.
inline constexpr long kFwProtocolTcp = 6;
inline constexpr long kFwProtocolUdp = 17;
inline constexpr long kFwProtocolIcmpV4 = 1;
inline constexpr long kFwProtocolIcmpV6 = 58;
inline constexpr long kFwProtocolAny = 256;
inline constexpr int kFwDirectionIn = 1;
inline constexpr int kFwDirectionOut = 2;
inline constexpr int kFwActionBlock = 0;
inline constexpr int kFwActionAllow = 1;
inline constexpr long kFwProfilesAll = 0x7FFFFFFF;

// One firewall rule, with the properties INetFwRule and INetFwRule3 expose. Empty address and
// port lists mean "any" ("*").
struct FirewallRule {
  std::string name;
  std::string description;
  std::string application_name;
  std::string service_name;
  long protocol = kFwProtocolAny;
  std::string local_ports;
  std::string remote_ports;
  std::string local_addresses;
  std::string remote_addresses;
  std::string icmp_types_and_codes;
  int direction = kFwDirectionOut;
  int action = kFwActionBlock;
  bool enabled = true;
  std::string grouping;
  long profiles = kFwProfilesAll;
  std::string interface_types = "All";
  bool edge_traversal = false;
  // INetFwRule3: SDDL of the local users the rule applies to ("O:LSD:(A;;CC;;;<SID>)"); "" for
  // every user.
  std::string local_user_authorized_list;
  std::string remote_user_authorized_list;
  std::string remote_machine_authorized_list;
  std::string local_user_owner;
  long secure_flags = 0;

  nlohmann::json ToJson() const;
  // Errors: kStateCorrupt naming the member.
  static Expected<FirewallRule> FromJson(const nlohmann::json& json);
};

// "" when `actual` (read back) is `expected` after normalising what Windows rewrites (address
// lists as sets of ranges, port lists, SDDL spelling, "*" vs empty, letter case where Windows
// ignores it); otherwise "<property> is <actual>, expected <expected>" for the first difference.
std::string CompareRules(const FirewallRule& expected, const FirewallRule& actual);

// A set of IPv4 and IPv6 address ranges plus keywords ("LocalSubnet", ...), compared by value:
// "127.0.0.0/8", "127.0.0.0/255.0.0.0" and "127.0.0.0-127.255.255.255" are equal.
class AddressSet {
 public:
  // Parses a firewall address list ("*", "a.b.c.d", "a.b.c.d/n", "a.b.c.d/m.m.m.m", "a-b",
  // IPv6 forms, keywords, comma-separated). Errors: kInvalidArgument naming the token.
  static Expected<AddressSet> Parse(std::string_view list);
  bool any() const { return any_; }
  std::string ToString() const;
  bool operator==(const AddressSet& other) const = default;

 private:
  // A 128-bit address (IPv4 in the low 32 bits); __extension__ keeps -Wpedantic quiet about
  // the GCC/Clang builtin type.
  __extension__ typedef unsigned __int128 Value;
  struct Range {
    int family;  // 4 or 6
    Value low;
    Value high;
    bool operator==(const Range&) const = default;
  };
  void Normalize();
  bool any_ = false;
  std::vector<Range> ranges_;
  std::vector<std::string> keywords_;  // lower-case, sorted
};

// Port lists ("*", "80", "1-1024", keywords such as "RPC"), compared by value.
class PortSet {
 public:
  static Expected<PortSet> Parse(std::string_view list);
  bool any() const { return any_; }
  std::string ToString() const;
  bool operator==(const PortSet& other) const = default;

 private:
  bool any_ = false;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> ranges_;
  std::vector<std::string> keywords_;
};

// The ports 1..65535 except `allowed`, as a firewall port list ("1-3127,3129-65535"); "" when
// every port is allowed.
std::string ComplementPorts(std::vector<std::uint16_t> allowed);

// An open firewall policy (COM initialised for the object's lifetime on this thread).
class FirewallPolicy {
 public:
  // CoInitializeEx + CoCreateInstance(CLSID_NetFwPolicy2). Errors name the call and HRESULT.
  static Expected<FirewallPolicy> Open();
  FirewallPolicy(FirewallPolicy&&) noexcept;
  FirewallPolicy& operator=(FirewallPolicy&&) noexcept;
  ~FirewallPolicy();

  // OK when rules added to the local policy take effect: Windows Firewall is on for the domain,
  // private and public profiles and Group Policy does not override local rules
  // (INetFwPolicy2::get_LocalPolicyModifyState != NET_FW_MODIFY_STATE_GP_OVERRIDE).
  // NET_FW_MODIFY_STATE_INBOUND_BLOCKED (all inbound traffic blocked by policy) is accepted:
  // it makes local *allow* rules for inbound traffic ineffective, not Stockade's block rules.
  // Errors: kUnsupported naming what makes local rules ineffective; the HRESULT of a failed call.
  Status CheckLocalRulesEffective();

  // Every rule whose name starts with `name_prefix` (ordinal, case-insensitive), read in full.
  // The count is read first: an empty collection is not enumerated.
  Expected<std::vector<FirewallRule>> ListRules(std::string_view name_prefix);

  // Adds `rule` and reads it back: kVerificationFailed when no rule of that name is listed
  // afterwards, or more than one, or a property differs (CompareRules). kUnsupported, before
  // anything is added, when the rule needs INetFwRule3 (a user scope) and the platform does not
  // offer it. Other failures name the property or call and the HRESULT.
  Status AddRule(const FirewallRule& rule);

  // Removes every rule named exactly `name` (INetFwRules::Remove, repeated while one is listed).
  Status RemoveRules(const std::string& name);

 private:
  struct Impl;
  explicit FirewallPolicy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace stockade::provision::win

#endif  // STOCKADE_PROVISION_WIN_FIREWALL_H_
