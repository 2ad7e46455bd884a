#include "provision/win/firewall.h"

#include <winsock2.h>
// winsock2.h before windows.h's users below; ws2tcpip.h needs it.
#include <ws2tcpip.h>
// initguid.h before netfw.h: it makes netfw.h define the firewall's CLSIDs and IIDs here
// instead of only declaring them (they are in no import library).
#include <initguid.h>
#include <netfw.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>

#include "provision/win/handles.h"
#include "provision/win/params.h"
#include "provision/win/security.h"
#include "provision/win/win_util.h"

namespace stockade::provision::win {

namespace {

__extension__ typedef unsigned __int128 U128;

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::vector<std::string> SplitList(std::string_view list) {
  std::vector<std::string> tokens;
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = list.find(',', start);
    const std::size_t end = comma == std::string_view::npos ? list.size() : comma;
    std::string token = Trim(list.substr(start, end - start));
    if (!token.empty()) tokens.push_back(std::move(token));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return tokens;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool IsKeyword(const std::string& token) {
  bool letter = false;
  for (unsigned char c : token) {
    if (std::isalpha(c)) {
      letter = true;
    } else if (!std::isdigit(c) && c != '_' && c != '-') {
      return false;
    }
  }
  return letter;
}

// Parses one address; family 4 or 6 and the value (IPv4 in the low 32 bits).
bool ParseAddress(const std::string& text, int* family, U128* value) {
  const std::wstring wide = Wide(text);
  if (text.find(':') == std::string::npos) {
    IN_ADDR v4{};
    if (InetPtonW(AF_INET, wide.c_str(), &v4) != 1) return false;
    *family = 4;
    *value = ntohl(v4.S_un.S_addr);
    return true;
  }
  IN6_ADDR v6{};
  if (InetPtonW(AF_INET6, wide.c_str(), &v6) != 1) return false;
  *family = 6;
  U128 v = 0;
  for (int i = 0; i < 16; ++i) v = (v << 8) | v6.u.Byte[i];
  *value = v;
  return true;
}

std::string FormatAddress(int family, U128 value) {
  wchar_t text[64] = {};
  if (family == 4) {
    IN_ADDR v4{};
    v4.S_un.S_addr = htonl(static_cast<u_long>(value));
    InetNtopW(AF_INET, &v4, text, 64);
  } else {
    IN6_ADDR v6{};
    for (int i = 15; i >= 0; --i) {
      v6.u.Byte[i] = static_cast<UCHAR>(value & 0xFF);
      value >>= 8;
    }
    InetNtopW(AF_INET6, &v6, text, 64);
  }
  return Utf8(text);
}

U128 MaxFor(int family) { return family == 4 ? U128{0xFFFFFFFFu} : ~U128{0}; }

// The low-bits mask of a prefix length, e.g. /24 on IPv4 -> 0xFF.
U128 HostMask(int family, int prefix) {
  const int bits = family == 4 ? 32 : 128;
  if (prefix >= bits) return 0;
  const int host = bits - prefix;
  return host == 128 ? ~U128{0} : ((U128{1} << host) - 1);
}

bool ParseInt(const std::string& text, int* value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && end == text.data() + text.size();
}

bool ParsePort(const std::string& text, std::uint32_t* value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && end == text.data() + text.size() && *value <= 65535;
}

std::string ProfileNames(long profiles) {
  if ((profiles & 7) == 7) return "all";
  std::string out;
  if (profiles & NET_FW_PROFILE2_DOMAIN) out += "domain,";
  if (profiles & NET_FW_PROFILE2_PRIVATE) out += "private,";
  if (profiles & NET_FW_PROFILE2_PUBLIC) out += "public,";
  if (!out.empty()) out.pop_back();
  return out.empty() ? "none" : out;
}

std::vector<std::string> LowerTokens(std::string_view list) {
  std::vector<std::string> tokens;
  for (std::string& t : SplitList(list)) tokens.push_back(Lower(std::move(t)));
  std::sort(tokens.begin(), tokens.end());
  return tokens;
}

bool NormalizedEmpty(const std::string& s) { return s.empty() || s == "*"; }

}  // namespace

// ---- address and port sets ----

Expected<AddressSet> AddressSet::Parse(std::string_view list) {
  AddressSet set;
  const std::vector<std::string> tokens = SplitList(list);
  if (tokens.empty()) {
    set.any_ = true;
    return set;
  }
  for (const std::string& token : tokens) {
    if (token == "*") {
      set.any_ = true;
      continue;
    }
    auto bad = [&] {
      return Error(ErrorCode::kInvalidArgument, "firewall address '" + token + "' is not valid");
    };
    int family = 0;
    U128 low = 0;
    U128 high = 0;
    const auto slash = token.find('/');
    const auto dash = token.find('-');
    if (slash != std::string::npos) {
      U128 base = 0;
      if (!ParseAddress(token.substr(0, slash), &family, &base)) return bad();
      const std::string suffix = token.substr(slash + 1);
      int prefix = 0;
      U128 host = 0;
      if (ParseInt(suffix, &prefix)) {
        if (prefix < 0 || prefix > (family == 4 ? 32 : 128)) return bad();
        host = HostMask(family, prefix);
      } else {
        int mask_family = 0;
        U128 mask = 0;
        if (!ParseAddress(suffix, &mask_family, &mask) || mask_family != family) return bad();
        host = ~mask & MaxFor(family);
      }
      low = base & ~host & MaxFor(family);
      high = low | host;
    } else if (dash != std::string::npos && !IsKeyword(token)) {
      int second = 0;
      if (!ParseAddress(token.substr(0, dash), &family, &low) ||
          !ParseAddress(token.substr(dash + 1), &second, &high) || second != family || high < low) {
        return bad();
      }
    } else if (ParseAddress(token, &family, &low)) {
      high = low;
    } else if (IsKeyword(token)) {
      set.keywords_.push_back(Lower(token));
      continue;
    } else {
      return bad();
    }
    set.ranges_.push_back({family, low, high});
  }
  set.Normalize();
  return set;
}

void AddressSet::Normalize() {
  std::sort(ranges_.begin(), ranges_.end(), [](const Range& a, const Range& b) {
    return a.family != b.family ? a.family < b.family : a.low < b.low;
  });
  std::vector<Range> merged;
  for (const Range& r : ranges_) {
    if (!merged.empty() && merged.back().family == r.family &&
        (merged.back().high == MaxFor(r.family) || merged.back().high + 1 >= r.low)) {
      merged.back().high = std::max(merged.back().high, r.high);
    } else {
      merged.push_back(r);
    }
  }
  ranges_ = std::move(merged);
  std::sort(keywords_.begin(), keywords_.end());
  keywords_.erase(std::unique(keywords_.begin(), keywords_.end()), keywords_.end());
  if (any_) {
    ranges_.clear();
    keywords_.clear();
  }
}

std::string AddressSet::ToString() const {
  if (any_) return "*";
  std::string out;
  for (const Range& r : ranges_) {
    if (!out.empty()) out += ",";
    out += FormatAddress(r.family, r.low);
    if (r.high != r.low) out += "-" + FormatAddress(r.family, r.high);
  }
  for (const std::string& k : keywords_) out += (out.empty() ? "" : ",") + k;
  return out;
}

Expected<PortSet> PortSet::Parse(std::string_view list) {
  PortSet set;
  const std::vector<std::string> tokens = SplitList(list);
  if (tokens.empty()) set.any_ = true;
  for (const std::string& token : tokens) {
    if (token == "*") {
      set.any_ = true;
      continue;
    }
    std::uint32_t low = 0;
    std::uint32_t high = 0;
    const auto dash = token.find('-');
    if (ParsePort(token, &low)) {
      high = low;
    } else if (dash != std::string::npos && ParsePort(token.substr(0, dash), &low) &&
               ParsePort(token.substr(dash + 1), &high) && low <= high) {
    } else if (IsKeyword(token)) {
      set.keywords_.push_back(Lower(token));
      continue;
    } else {
      return Error(ErrorCode::kInvalidArgument, "firewall port '" + token + "' is not valid");
    }
    set.ranges_.push_back({low, high});
  }
  std::sort(set.ranges_.begin(), set.ranges_.end());
  std::vector<std::pair<std::uint32_t, std::uint32_t>> merged;
  for (const auto& r : set.ranges_) {
    if (!merged.empty() && merged.back().second + 1 >= r.first) {
      merged.back().second = std::max(merged.back().second, r.second);
    } else {
      merged.push_back(r);
    }
  }
  set.ranges_ = std::move(merged);
  std::sort(set.keywords_.begin(), set.keywords_.end());
  if (set.any_) {
    set.ranges_.clear();
    set.keywords_.clear();
  }
  return set;
}

std::string PortSet::ToString() const {
  if (any_) return "*";
  std::string out;
  for (const auto& [low, high] : ranges_) {
    if (!out.empty()) out += ",";
    out += std::to_string(low);
    if (high != low) out += "-" + std::to_string(high);
  }
  for (const std::string& k : keywords_) out += (out.empty() ? "" : ",") + k;
  return out;
}

std::string ComplementPorts(std::vector<std::uint16_t> allowed) {
  std::sort(allowed.begin(), allowed.end());
  allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
  std::string out;
  std::uint32_t next = 1;
  auto emit = [&](std::uint32_t low, std::uint32_t high) {
    if (low > high) return;
    if (!out.empty()) out += ",";
    out += std::to_string(low);
    if (high != low) out += "-" + std::to_string(high);
  };
  for (std::uint16_t port : allowed) {
    if (port == 0) continue;
    emit(next, port - 1u);
    next = port + 1u;
  }
  emit(next, 65535);
  return out;
}

// ---- rules as JSON and their comparison ----

nlohmann::json FirewallRule::ToJson() const {
  return {{"name", name},
          {"description", description},
          {"application_name", application_name},
          {"service_name", service_name},
          {"protocol", protocol},
          {"local_ports", local_ports},
          {"remote_ports", remote_ports},
          {"local_addresses", local_addresses},
          {"remote_addresses", remote_addresses},
          {"icmp_types_and_codes", icmp_types_and_codes},
          {"direction", direction},
          {"action", action},
          {"enabled", enabled},
          {"grouping", grouping},
          {"profiles", profiles},
          {"interface_types", interface_types},
          {"edge_traversal", edge_traversal},
          {"local_user_authorized_list", local_user_authorized_list},
          {"remote_user_authorized_list", remote_user_authorized_list},
          {"remote_machine_authorized_list", remote_machine_authorized_list},
          {"local_user_owner", local_user_owner},
          {"secure_flags", secure_flags}};
}

Expected<FirewallRule> FirewallRule::FromJson(const nlohmann::json& json) {
  JsonReader reader(json, "firewall rule", ErrorCode::kStateCorrupt);
  FirewallRule rule;
  auto text = [&](const char* key, std::string* out) -> Status {
    auto value = reader.StringOr(key, "");
    if (!value.ok()) return value.error();
    *out = *value;
    return OkStatus();
  };
  auto number = [&](const char* key, long* out) -> Status {
    auto value = reader.IntOr(key, *out, INT32_MIN, INT32_MAX);
    if (!value.ok()) return value.error();
    *out = static_cast<long>(*value);
    return OkStatus();
  };
  auto flag = [&](const char* key, bool* out) -> Status {
    auto value = reader.BoolOr(key, *out);
    if (!value.ok()) return value.error();
    *out = *value;
    return OkStatus();
  };
  auto name = reader.String("name");
  if (!name.ok()) return name.error();
  rule.name = *name;
  long direction = rule.direction;
  long action = rule.action;
  STOCKADE_RETURN_IF_ERROR(text("description", &rule.description));
  STOCKADE_RETURN_IF_ERROR(text("application_name", &rule.application_name));
  STOCKADE_RETURN_IF_ERROR(text("service_name", &rule.service_name));
  STOCKADE_RETURN_IF_ERROR(number("protocol", &rule.protocol));
  STOCKADE_RETURN_IF_ERROR(text("local_ports", &rule.local_ports));
  STOCKADE_RETURN_IF_ERROR(text("remote_ports", &rule.remote_ports));
  STOCKADE_RETURN_IF_ERROR(text("local_addresses", &rule.local_addresses));
  STOCKADE_RETURN_IF_ERROR(text("remote_addresses", &rule.remote_addresses));
  STOCKADE_RETURN_IF_ERROR(text("icmp_types_and_codes", &rule.icmp_types_and_codes));
  STOCKADE_RETURN_IF_ERROR(number("direction", &direction));
  STOCKADE_RETURN_IF_ERROR(number("action", &action));
  STOCKADE_RETURN_IF_ERROR(flag("enabled", &rule.enabled));
  STOCKADE_RETURN_IF_ERROR(text("grouping", &rule.grouping));
  STOCKADE_RETURN_IF_ERROR(number("profiles", &rule.profiles));
  STOCKADE_RETURN_IF_ERROR(text("interface_types", &rule.interface_types));
  STOCKADE_RETURN_IF_ERROR(flag("edge_traversal", &rule.edge_traversal));
  STOCKADE_RETURN_IF_ERROR(text("local_user_authorized_list", &rule.local_user_authorized_list));
  STOCKADE_RETURN_IF_ERROR(text("remote_user_authorized_list", &rule.remote_user_authorized_list));
  STOCKADE_RETURN_IF_ERROR(
      text("remote_machine_authorized_list", &rule.remote_machine_authorized_list));
  STOCKADE_RETURN_IF_ERROR(text("local_user_owner", &rule.local_user_owner));
  STOCKADE_RETURN_IF_ERROR(number("secure_flags", &rule.secure_flags));
  rule.direction = static_cast<int>(direction);
  rule.action = static_cast<int>(action);
  return rule;
}

namespace {

bool UsesPorts(long protocol) { return protocol == kFwProtocolTcp || protocol == kFwProtocolUdp; }
bool UsesIcmp(long protocol) {
  return protocol == kFwProtocolIcmpV4 || protocol == kFwProtocolIcmpV6;
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

// "" when both SDDL strings describe the same descriptor (or both are empty).
bool SameSddl(const std::string& a, const std::string& b) {
  if (NormalizedEmpty(a) || NormalizedEmpty(b)) return NormalizedEmpty(a) == NormalizedEmpty(b);
  const SECURITY_INFORMATION parts = OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION;
  auto ca = CanonicalSddl(a, parts);
  auto cb = CanonicalSddl(b, parts);
  return ca.ok() && cb.ok() ? *ca == *cb : a == b;
}

std::string CompareAddresses(const char* what, const std::string& expected,
                             const std::string& actual) {
  auto e = AddressSet::Parse(expected);
  auto a = AddressSet::Parse(actual);
  if (e.ok() && a.ok() ? *e == *a : expected == actual) return "";
  return std::string(what) + " is " + Quote(actual) + ", expected " + Quote(expected);
}

std::string ComparePorts(const char* what, const std::string& expected, const std::string& actual) {
  auto e = PortSet::Parse(expected);
  auto a = PortSet::Parse(actual);
  if (e.ok() && a.ok() ? *e == *a : expected == actual) return "";
  return std::string(what) + " is " + Quote(actual) + ", expected " + Quote(expected);
}

}  // namespace

std::string CompareRules(const FirewallRule& e, const FirewallRule& a) {
  auto text = [](const char* what, const std::string& expected, const std::string& actual,
                 bool ignore_case) -> std::string {
    const bool same = ignore_case ? EqualsIgnoreCase(expected, actual) : expected == actual;
    if (same || (NormalizedEmpty(expected) && NormalizedEmpty(actual))) return "";
    return std::string(what) + " is " + Quote(actual) + ", expected " + Quote(expected);
  };
  auto number = [](const char* what, long expected, long actual) -> std::string {
    if (expected == actual) return "";
    return std::string(what) + " is " + std::to_string(actual) + ", expected " +
           std::to_string(expected);
  };
  std::vector<std::string> differences = {
      text("Name", e.name, a.name, false),
      text("Description", e.description, a.description, false),
      text("ApplicationName", e.application_name, a.application_name, true),
      text("ServiceName", e.service_name, a.service_name, true),
      number("Protocol", e.protocol, a.protocol),
      UsesPorts(e.protocol) ? ComparePorts("LocalPorts", e.local_ports, a.local_ports) : "",
      UsesPorts(e.protocol) ? ComparePorts("RemotePorts", e.remote_ports, a.remote_ports) : "",
      CompareAddresses("LocalAddresses", e.local_addresses, a.local_addresses),
      CompareAddresses("RemoteAddresses", e.remote_addresses, a.remote_addresses),
      UsesIcmp(e.protocol)
          ? text("IcmpTypesAndCodes", e.icmp_types_and_codes, a.icmp_types_and_codes, true)
          : "",
      number("Direction", e.direction, a.direction),
      number("Action", e.action, a.action),
      e.enabled == a.enabled ? "" : std::string("Enabled is ") + (a.enabled ? "true" : "false"),
      text("Grouping", e.grouping, a.grouping, false),
      ProfileNames(e.profiles) == ProfileNames(a.profiles)
          ? ""
          : "Profiles is " + ProfileNames(a.profiles) + ", expected " + ProfileNames(e.profiles),
      LowerTokens(e.interface_types) == LowerTokens(a.interface_types)
          ? ""
          : "InterfaceTypes is " + Quote(a.interface_types) + ", expected " +
                Quote(e.interface_types),
      e.edge_traversal == a.edge_traversal ? "" : "EdgeTraversal differs",
      SameSddl(e.local_user_authorized_list, a.local_user_authorized_list)
          ? ""
          : "LocalUserAuthorizedList is " + Quote(a.local_user_authorized_list) + ", expected " +
                Quote(e.local_user_authorized_list),
      SameSddl(e.remote_user_authorized_list, a.remote_user_authorized_list)
          ? ""
          : "RemoteUserAuthorizedList is " + Quote(a.remote_user_authorized_list),
      SameSddl(e.remote_machine_authorized_list, a.remote_machine_authorized_list)
          ? ""
          : "RemoteMachineAuthorizedList is " + Quote(a.remote_machine_authorized_list),
      text("LocalUserOwner", e.local_user_owner, a.local_user_owner, true),
      number("SecureFlags", e.secure_flags, a.secure_flags),
  };
  for (const std::string& d : differences) {
    if (!d.empty()) return "firewall rule " + Quote(e.name) + ": " + d;
  }
  return "";
}

// ---- the COM side ----

struct FirewallPolicy::Impl {
  explicit Impl(ComInit c) : com(std::move(c)) {}
  ComInit com;  // declared first: released last
  ComPtr<INetFwPolicy2> policy;
  ComPtr<INetFwRules> rules;
};

FirewallPolicy::FirewallPolicy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FirewallPolicy::FirewallPolicy(FirewallPolicy&&) noexcept = default;
FirewallPolicy& FirewallPolicy::operator=(FirewallPolicy&&) noexcept = default;
FirewallPolicy::~FirewallPolicy() {
  if (impl_) {
    // COM references go before CoUninitialize (the ComInit member is destroyed last anyway;
    // being explicit keeps that true if members are reordered).
    impl_->rules.reset();
    impl_->policy.reset();
  }
}

Expected<FirewallPolicy> FirewallPolicy::Open() {
  auto com = ComInit::Initialize(COINIT_MULTITHREADED);
  if (!com.ok()) return com.error();
  auto impl = std::make_unique<Impl>(std::move(*com));
  HRESULT hr = CoCreateInstance(CLSID_NetFwPolicy2, nullptr, CLSCTX_INPROC_SERVER,
                                IID_INetFwPolicy2, impl->policy.put_void());
  if (FAILED(hr)) return HresultError("CoCreateInstance(HNetCfg.FwPolicy2)", hr);
  hr = impl->policy->get_Rules(impl->rules.put());
  if (FAILED(hr)) return HresultError("INetFwPolicy2::get_Rules", hr);
  return FirewallPolicy(std::move(impl));
}

Status FirewallPolicy::CheckLocalRulesEffective() {
  NET_FW_MODIFY_STATE state = NET_FW_MODIFY_STATE_OK;
  HRESULT hr = impl_->policy->get_LocalPolicyModifyState(&state);
  if (FAILED(hr)) return HresultError("INetFwPolicy2::get_LocalPolicyModifyState", hr);
  if (state == NET_FW_MODIFY_STATE_GP_OVERRIDE) {
    return Error(ErrorCode::kUnsupported,
                 "Group Policy overrides the local firewall policy "
                 "(INetFwPolicy2::LocalPolicyModifyState = NET_FW_MODIFY_STATE_GP_OVERRIDE): "
                 "rules Stockade adds locally would not take effect; allow local rule merging "
                 "or deploy the rules through Group Policy");
  }
  const std::pair<NET_FW_PROFILE_TYPE2, const char*> profiles[] = {
      {NET_FW_PROFILE2_DOMAIN, "domain"},
      {NET_FW_PROFILE2_PRIVATE, "private"},
      {NET_FW_PROFILE2_PUBLIC, "public"}};
  for (const auto& [profile, name] : profiles) {
    VARIANT_BOOL enabled = VARIANT_FALSE;
    hr = impl_->policy->get_FirewallEnabled(profile, &enabled);
    if (FAILED(hr)) {
      return HresultError(std::string("INetFwPolicy2::get_FirewallEnabled(") + name + ")", hr);
    }
    if (enabled != VARIANT_TRUE) {
      return Error(ErrorCode::kUnsupported,
                   std::string("Windows Firewall is off for the ") + name +
                       " profile (INetFwPolicy2::get_FirewallEnabled): the sandbox's block rules "
                       "would not apply there");
    }
  }
  return OkStatus();
}

namespace {

Status ReadString(const char* what, HRESULT hr, const Bstr& value, std::string* out) {
  if (FAILED(hr)) return HresultError(std::string("INetFwRule::get_") + what, hr);
  *out = Utf8(value.wstr());
  return OkStatus();
}

Expected<FirewallRule> ReadRule(INetFwRule* rule) {
  FirewallRule out;
  Bstr s;
  HRESULT hr = rule->get_Name(s.put());
  STOCKADE_RETURN_IF_ERROR(ReadString("Name", hr, s, &out.name));
  hr = rule->get_Description(s.put());
  STOCKADE_RETURN_IF_ERROR(ReadString("Description", hr, s, &out.description));
  hr = rule->get_ApplicationName(s.put());
  STOCKADE_RETURN_IF_ERROR(ReadString("ApplicationName", hr, s, &out.application_name));
  hr = rule->get_ServiceName(s.put());
  STOCKADE_RETURN_IF_ERROR(ReadString("ServiceName", hr, s, &out.service_name));
  LONG protocol = 0;
  hr = rule->get_Protocol(&protocol);
  if (FAILED(hr)) return HresultError("INetFwRule::get_Protocol", hr);
  out.protocol = protocol;
  hr = rule->get_LocalPorts(s.put());
  STOCKADE_RETURN_IF_ERROR(ReadString("LocalPorts", hr, s, &out.local_ports));
  hr = rule->get_RemotePorts(s.put());
  STOCKADE_RETURN_IF_ERROR(ReadString("RemotePorts", hr, s, &out.remote_ports));
  hr = rule->get_LocalAddresses(s.put());
  STOCKADE_RETURN_IF_ERROR(ReadString("LocalAddresses", hr, s, &out.local_addresses));
  hr = rule->get_RemoteAddresses(s.put());
  STOCKADE_RETURN_IF_ERROR(ReadString("RemoteAddresses", hr, s, &out.remote_addresses));
  hr = rule->get_IcmpTypesAndCodes(s.put());
  STOCKADE_RETURN_IF_ERROR(ReadString("IcmpTypesAndCodes", hr, s, &out.icmp_types_and_codes));
  NET_FW_RULE_DIRECTION direction = NET_FW_RULE_DIR_OUT;
  hr = rule->get_Direction(&direction);
  if (FAILED(hr)) return HresultError("INetFwRule::get_Direction", hr);
  out.direction = static_cast<int>(direction);
  NET_FW_ACTION action = NET_FW_ACTION_BLOCK;
  hr = rule->get_Action(&action);
  if (FAILED(hr)) return HresultError("INetFwRule::get_Action", hr);
  out.action = static_cast<int>(action);
  VARIANT_BOOL flag = VARIANT_FALSE;
  hr = rule->get_Enabled(&flag);
  if (FAILED(hr)) return HresultError("INetFwRule::get_Enabled", hr);
  out.enabled = flag == VARIANT_TRUE;
  hr = rule->get_Grouping(s.put());
  STOCKADE_RETURN_IF_ERROR(ReadString("Grouping", hr, s, &out.grouping));
  LONG profiles = 0;
  hr = rule->get_Profiles(&profiles);
  if (FAILED(hr)) return HresultError("INetFwRule::get_Profiles", hr);
  out.profiles = profiles;
  hr = rule->get_InterfaceTypes(s.put());
  STOCKADE_RETURN_IF_ERROR(ReadString("InterfaceTypes", hr, s, &out.interface_types));
  hr = rule->get_EdgeTraversal(&flag);
  if (FAILED(hr)) return HresultError("INetFwRule::get_EdgeTraversal", hr);
  out.edge_traversal = flag == VARIANT_TRUE;

  ComPtr<INetFwRule3> rule3;
  hr = rule->QueryInterface(IID_INetFwRule3, rule3.put_void());
  if (hr == E_NOINTERFACE) return out;  // an old-style rule: no user scope to read
  if (FAILED(hr)) return HresultError("INetFwRule::QueryInterface(INetFwRule3)", hr);
  hr = rule3->get_LocalUserAuthorizedList(s.put());
  STOCKADE_RETURN_IF_ERROR(
      ReadString("LocalUserAuthorizedList", hr, s, &out.local_user_authorized_list));
  hr = rule3->get_RemoteUserAuthorizedList(s.put());
  STOCKADE_RETURN_IF_ERROR(
      ReadString("RemoteUserAuthorizedList", hr, s, &out.remote_user_authorized_list));
  hr = rule3->get_RemoteMachineAuthorizedList(s.put());
  STOCKADE_RETURN_IF_ERROR(
      ReadString("RemoteMachineAuthorizedList", hr, s, &out.remote_machine_authorized_list));
  hr = rule3->get_LocalUserOwner(s.put());
  STOCKADE_RETURN_IF_ERROR(ReadString("LocalUserOwner", hr, s, &out.local_user_owner));
  LONG secure = 0;
  hr = rule3->get_SecureFlags(&secure);
  if (FAILED(hr)) return HresultError("INetFwRule3::get_SecureFlags", hr);
  out.secure_flags = secure;
  return out;
}

bool NeedsRule3(const FirewallRule& rule) {
  return !rule.local_user_authorized_list.empty() || !rule.remote_user_authorized_list.empty() ||
         !rule.remote_machine_authorized_list.empty() || !rule.local_user_owner.empty() ||
         rule.secure_flags != 0;
}

// Sets a BSTR property; `what` names it in the error.
template <typename Setter>
Status PutString(const std::string& rule, const char* what, const std::string& value,
                 Setter&& setter) {
  Bstr text(Wide(value));
  if (!value.empty() && !text.allocated()) {
    return HresultError(std::string("SysAllocString(") + what + ")", E_OUTOFMEMORY);
  }
  const HRESULT hr = setter(text.get());
  if (FAILED(hr)) {
    return HresultError(
        "INetFwRule::put_" + std::string(what) + "('" + value + "') on rule '" + rule + "'", hr);
  }
  return OkStatus();
}

}  // namespace

Expected<std::vector<FirewallRule>> FirewallPolicy::ListRules(std::string_view name_prefix) {
  std::vector<FirewallRule> found;
  LONG count = 0;
  HRESULT hr = impl_->rules->get_Count(&count);
  if (FAILED(hr)) return HresultError("INetFwRules::get_Count", hr);
  if (count == 0) return found;
  ComPtr<IUnknown> unknown;
  hr = impl_->rules->get__NewEnum(unknown.put());
  if (FAILED(hr)) return HresultError("INetFwRules::get__NewEnum", hr);
  ComPtr<IEnumVARIANT> items;
  hr = unknown->QueryInterface(IID_IEnumVARIANT, items.put_void());
  if (FAILED(hr)) return HresultError("INetFwRules enumerator: QueryInterface(IEnumVARIANT)", hr);
  const std::string prefix(name_prefix);
  for (;;) {
    UniqueVariant item;
    ULONG fetched = 0;
    hr = items->Next(1, item.put(), &fetched);
    if (FAILED(hr)) return HresultError("IEnumVARIANT::Next (firewall rules)", hr);
    if (hr == S_FALSE || fetched == 0) break;
    if (item.get()->vt != VT_DISPATCH || item.get()->pdispVal == nullptr) continue;
    ComPtr<INetFwRule> rule;
    hr = item.get()->pdispVal->QueryInterface(IID_INetFwRule, rule.put_void());
    if (FAILED(hr)) return HresultError("firewall rule: QueryInterface(INetFwRule)", hr);
    Bstr name;
    hr = rule->get_Name(name.put());
    if (FAILED(hr)) return HresultError("INetFwRule::get_Name", hr);
    if (!StartsWithIgnoreCase(Utf8(name.wstr()), prefix)) continue;
    auto read = ReadRule(rule.get());
    if (!read.ok()) return read.error().Wrap("reading firewall rule '" + Utf8(name.wstr()) + "'");
    found.push_back(std::move(*read));
  }
  return found;
}

Status FirewallPolicy::AddRule(const FirewallRule& rule) {
  ComPtr<INetFwRule> object;
  HRESULT hr = CoCreateInstance(CLSID_NetFwRule, nullptr, CLSCTX_INPROC_SERVER, IID_INetFwRule,
                                object.put_void());
  if (FAILED(hr)) return HresultError("CoCreateInstance(HNetCfg.FWRule)", hr);
  ComPtr<INetFwRule3> object3;
  if (NeedsRule3(rule)) {
    hr = object->QueryInterface(IID_INetFwRule3, object3.put_void());
    if (FAILED(hr)) {
      return HresultError(ErrorCode::kUnsupported,
                          "INetFwRule::QueryInterface(INetFwRule3) for rule '" + rule.name +
                              "': the firewall cannot scope a rule to a user, so the rule was "
                              "not added (unscoped, it would block every user)",
                          hr);
    }
  }
  INetFwRule* r = object.get();
  const std::string& n = rule.name;
  STOCKADE_RETURN_IF_ERROR(PutString(n, "Name", rule.name, [&](BSTR v) { return r->put_Name(v); }));
  STOCKADE_RETURN_IF_ERROR(
      PutString(n, "Description", rule.description, [&](BSTR v) { return r->put_Description(v); }));
  if (!rule.application_name.empty()) {
    STOCKADE_RETURN_IF_ERROR(PutString(n, "ApplicationName", rule.application_name,
                                       [&](BSTR v) { return r->put_ApplicationName(v); }));
  }
  if (!rule.service_name.empty()) {
    STOCKADE_RETURN_IF_ERROR(PutString(n, "ServiceName", rule.service_name,
                                       [&](BSTR v) { return r->put_ServiceName(v); }));
  }
  // The protocol before ports and ICMP types: Windows validates those against it.
  hr = r->put_Protocol(rule.protocol);
  if (FAILED(hr)) return HresultError("INetFwRule::put_Protocol on rule '" + n + "'", hr);
  if (UsesPorts(rule.protocol)) {
    if (!NormalizedEmpty(rule.local_ports)) {
      STOCKADE_RETURN_IF_ERROR(PutString(n, "LocalPorts", rule.local_ports,
                                         [&](BSTR v) { return r->put_LocalPorts(v); }));
    }
    if (!NormalizedEmpty(rule.remote_ports)) {
      STOCKADE_RETURN_IF_ERROR(PutString(n, "RemotePorts", rule.remote_ports,
                                         [&](BSTR v) { return r->put_RemotePorts(v); }));
    }
  }
  if (UsesIcmp(rule.protocol) && !NormalizedEmpty(rule.icmp_types_and_codes)) {
    STOCKADE_RETURN_IF_ERROR(PutString(n, "IcmpTypesAndCodes", rule.icmp_types_and_codes,
                                       [&](BSTR v) { return r->put_IcmpTypesAndCodes(v); }));
  }
  if (!NormalizedEmpty(rule.local_addresses)) {
    STOCKADE_RETURN_IF_ERROR(PutString(n, "LocalAddresses", rule.local_addresses,
                                       [&](BSTR v) { return r->put_LocalAddresses(v); }));
  }
  if (!NormalizedEmpty(rule.remote_addresses)) {
    STOCKADE_RETURN_IF_ERROR(PutString(n, "RemoteAddresses", rule.remote_addresses,
                                       [&](BSTR v) { return r->put_RemoteAddresses(v); }));
  }
  hr = r->put_Direction(static_cast<NET_FW_RULE_DIRECTION>(rule.direction));
  if (FAILED(hr)) return HresultError("INetFwRule::put_Direction on rule '" + n + "'", hr);
  hr = r->put_Action(static_cast<NET_FW_ACTION>(rule.action));
  if (FAILED(hr)) return HresultError("INetFwRule::put_Action on rule '" + n + "'", hr);
  hr = r->put_Profiles(rule.profiles);
  if (FAILED(hr)) return HresultError("INetFwRule::put_Profiles on rule '" + n + "'", hr);
  STOCKADE_RETURN_IF_ERROR(PutString(n, "InterfaceTypes", rule.interface_types,
                                     [&](BSTR v) { return r->put_InterfaceTypes(v); }));
  if (!rule.grouping.empty()) {
    STOCKADE_RETURN_IF_ERROR(
        PutString(n, "Grouping", rule.grouping, [&](BSTR v) { return r->put_Grouping(v); }));
  }
  // Edge traversal only exists for inbound rules; a new rule has it off, so it is set only when
  // asked for.
  if (rule.edge_traversal) {
    hr = r->put_EdgeTraversal(VARIANT_TRUE);
    if (FAILED(hr)) return HresultError("INetFwRule::put_EdgeTraversal on rule '" + n + "'", hr);
  }
  hr = r->put_Enabled(rule.enabled ? VARIANT_TRUE : VARIANT_FALSE);
  if (FAILED(hr)) return HresultError("INetFwRule::put_Enabled on rule '" + n + "'", hr);
  if (object3) {
    INetFwRule3* r3 = object3.get();
    if (!rule.local_user_authorized_list.empty()) {
      STOCKADE_RETURN_IF_ERROR(
          PutString(n, "LocalUserAuthorizedList", rule.local_user_authorized_list,
                    [&](BSTR v) { return r3->put_LocalUserAuthorizedList(v); }));
    }
    if (!rule.remote_user_authorized_list.empty()) {
      STOCKADE_RETURN_IF_ERROR(
          PutString(n, "RemoteUserAuthorizedList", rule.remote_user_authorized_list,
                    [&](BSTR v) { return r3->put_RemoteUserAuthorizedList(v); }));
    }
    if (!rule.remote_machine_authorized_list.empty()) {
      STOCKADE_RETURN_IF_ERROR(
          PutString(n, "RemoteMachineAuthorizedList", rule.remote_machine_authorized_list,
                    [&](BSTR v) { return r3->put_RemoteMachineAuthorizedList(v); }));
    }
    if (!rule.local_user_owner.empty()) {
      STOCKADE_RETURN_IF_ERROR(PutString(n, "LocalUserOwner", rule.local_user_owner,
                                         [&](BSTR v) { return r3->put_LocalUserOwner(v); }));
    }
    if (rule.secure_flags != 0) {
      hr = r3->put_SecureFlags(rule.secure_flags);
      if (FAILED(hr)) return HresultError("INetFwRule3::put_SecureFlags on rule '" + n + "'", hr);
    }
  }

  hr = impl_->rules->Add(r);
  if (FAILED(hr)) return HresultError("INetFwRules::Add('" + n + "')", hr);

  // Read back: Add's S_OK proves nothing (Wine returns it and stores nothing).
  auto listed = ListRules(rule.name);
  if (!listed.ok()) return listed.error().Wrap("read back of firewall rule '" + n + "'");
  std::vector<FirewallRule> same_name;
  for (FirewallRule& candidate : *listed) {
    if (candidate.name == rule.name) same_name.push_back(std::move(candidate));
  }
  if (same_name.empty()) {
    LONG count = -1;
    impl_->rules->get_Count(&count);
    return Error(ErrorCode::kVerificationFailed,
                 "INetFwRules::Add('" + n +
                     "') returned S_OK but no rule of that name is listed "
                     "afterwards (INetFwRules::get_Count = " +
                     std::to_string(count) + "): the firewall did not store it");
  }
  if (same_name.size() > 1) {
    return Error(ErrorCode::kVerificationFailed,
                 std::to_string(same_name.size()) + " firewall rules are named '" + n + "'");
  }
  std::string difference = CompareRules(rule, same_name.front());
  if (!difference.empty()) {
    return Error(ErrorCode::kVerificationFailed, "read back after INetFwRules::Add: " + difference);
  }
  return OkStatus();
}

Status FirewallPolicy::RemoveRules(const std::string& name) {
  // Windows removes one rule per call when several share a name: repeat while one is listed,
  // bounded so that a firewall that ignores Remove cannot keep us here.
  for (int attempt = 0; attempt < 64; ++attempt) {
    auto listed = ListRules(name);
    if (!listed.ok()) return listed.error();
    bool present = false;
    for (const FirewallRule& rule : *listed) present = present || rule.name == name;
    if (!present) return OkStatus();
    Bstr text(Wide(name));
    const HRESULT hr = impl_->rules->Remove(text.get());
    if (FAILED(hr)) return HresultError("INetFwRules::Remove('" + name + "')", hr);
  }
  return Error(ErrorCode::kVerificationFailed,
               "firewall rule '" + name + "' is still listed after 64 INetFwRules::Remove calls");
}

}  // namespace stockade::provision::win
