#include "core/policy/explain.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "core/paths/expand.h"

namespace stockade::explain {

namespace {

struct Expanded {
  std::string key;      // "filesystem.writable_roots[0]"
  std::string pattern;  // as written
  std::string path;     // expanded and normalised
};

std::string Key(std::string_view list, std::size_t index) {
  return "filesystem." + std::string(list) + "[" + std::to_string(index) + "]";
}

paths::ExpansionContext ToExpansion(const ExplainContext& context) {
  paths::ExpansionContext expansion;
  expansion.style = context.style;
  expansion.workspace = context.workspace;
  expansion.temp = context.temp;
  expansion.home = context.home;
  expansion.env = context.env;
  return expansion;
}

// Expands every entry of `patterns`; entries that cannot be expanded here are recorded in
// `skipped` rather than failing the whole answer (the {temp} of a run that does not exist yet).
std::vector<Expanded> ExpandAll(std::string_view list, const std::vector<std::string>& patterns,
                                const ExplainContext& context, std::vector<std::string>* skipped) {
  std::vector<Expanded> out;
  const paths::ExpansionContext expansion = ToExpansion(context);
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    Expected<std::string> path = paths::Expand(patterns[i], expansion);
    if (!path.ok()) {
      skipped->push_back(Key(list, i) + " \"" + patterns[i] + "\": " + path.error().context());
      continue;
    }
    out.push_back({Key(list, i), patterns[i], *path});
  }
  return out;
}

bool IsRelativeName(std::string_view entry) {
  return !entry.empty() && entry.front() != '~' && entry.find('{') == std::string_view::npos &&
         entry.find('%') == std::string_view::npos && entry.find('$') == std::string_view::npos &&
         !paths::IsAbsolute(entry, paths::PathStyle::kPosix) &&
         !paths::IsAbsolute(entry, paths::PathStyle::kWindows);
}

Decision Make(std::string access, Verdict verdict, RuleKind rule, std::string key,
              std::string pattern, std::string expanded, std::string reason) {
  Decision d;
  d.access = std::move(access);
  d.verdict = verdict;
  d.rule = rule;
  d.policy_key = std::move(key);
  d.pattern = std::move(pattern);
  d.expanded = std::move(expanded);
  d.reason = std::move(reason);
  return d;
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string PatternText(const Expanded& e) {
  return e.pattern == e.path ? Quote(e.pattern) : Quote(e.pattern) + " (" + e.path + ")";
}

// The deny-read decision for `path`, if one covers it.
std::optional<Decision> DenyReadFor(const std::string& path, std::string_view access,
                                    const std::vector<Expanded>& deny_read,
                                    const ExplainContext& context) {
  for (const Expanded& e : deny_read) {
    if (paths::IsWithin(path, e.path, context.style)) {
      return Make(std::string(access), Verdict::kDenied, RuleKind::kDenyRead, e.key, e.pattern,
                  e.path,
                  "denied by " + e.key + " " + PatternText(e) +
                      ": the path is hidden from the sandbox (neither readable nor writable)");
    }
  }
  const bool in_temp = !context.temp.empty() && paths::IsWithin(path, context.temp, context.style);
  if (!context.state_dir.empty() && !in_temp &&
      paths::IsWithin(path, context.state_dir, context.style)) {
    return Make(std::string(access), Verdict::kDenied, RuleKind::kServiceState, "",
                context.state_dir, context.state_dir,
                "denied: " + context.state_dir +
                    " is the service's state folder (journal, audit store, socket), which every "
                    "sandboxed tree is denied whatever the policy says");
  }
  return std::nullopt;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Parses a dotted IPv4 address; nullopt when `s` is not one.
std::optional<std::uint32_t> ParseIpv4(std::string_view s) {
  std::uint32_t value = 0;
  int parts = 0;
  while (true) {
    const std::size_t dot = s.find('.');
    const std::string_view part = s.substr(0, dot);
    if (!AllDigits(part) || part.size() > 3) return std::nullopt;
    unsigned octet = 0;
    std::from_chars(part.data(), part.data() + part.size(), octet);
    if (octet > 255) return std::nullopt;
    value = (value << 8) | octet;
    ++parts;
    if (dot == std::string_view::npos) break;
    s.remove_prefix(dot + 1);
  }
  if (parts != 4) return std::nullopt;
  return value;
}

// Expands an IPv6 text to its 16 bytes; nullopt when it is not one. Accepts "::" compression and
// a trailing dotted IPv4 part.
std::optional<std::vector<std::uint8_t>> ParseIpv6(std::string_view s) {
  if (s.empty() || s.find(':') == std::string_view::npos) return std::nullopt;
  std::vector<std::uint16_t> head, tail;
  std::vector<std::uint16_t>* cur = &head;
  bool compressed = false;
  std::size_t i = 0;
  if (s.substr(0, 2) == "::") {
    compressed = true;
    cur = &tail;
    i = 2;
  } else if (s.front() == ':') {
    return std::nullopt;
  }
  while (i < s.size()) {
    const std::size_t colon = s.find(':', i);
    const std::string_view group =
        s.substr(i, colon == std::string_view::npos ? std::string_view::npos : colon - i);
    if (group.find('.') != std::string_view::npos) {
      if (colon != std::string_view::npos) return std::nullopt;
      auto v4 = ParseIpv4(group);
      if (!v4) return std::nullopt;
      cur->push_back(static_cast<std::uint16_t>(*v4 >> 16));
      cur->push_back(static_cast<std::uint16_t>(*v4 & 0xFFFF));
      i = s.size();
      break;
    }
    if (group.empty() || group.size() > 4) return std::nullopt;
    unsigned value = 0;
    auto [end, ec] = std::from_chars(group.data(), group.data() + group.size(), value, 16);
    if (ec != std::errc() || end != group.data() + group.size()) return std::nullopt;
    cur->push_back(static_cast<std::uint16_t>(value));
    if (colon == std::string_view::npos) {
      i = s.size();
      break;
    }
    if (colon + 1 < s.size() && s[colon + 1] == ':') {
      if (compressed) return std::nullopt;
      compressed = true;
      cur = &tail;
      i = colon + 2;
    } else {
      if (colon + 1 == s.size()) return std::nullopt;
      i = colon + 1;
    }
  }
  const std::size_t groups = head.size() + tail.size();
  if (compressed ? groups > 7 : groups != 8) return std::nullopt;
  std::vector<std::uint16_t> all = head;
  all.resize(8 - tail.size(), 0);
  all.insert(all.end(), tail.begin(), tail.end());
  std::vector<std::uint8_t> bytes;
  for (std::uint16_t g : all) {
    bytes.push_back(static_cast<std::uint8_t>(g >> 8));
    bytes.push_back(static_cast<std::uint8_t>(g & 0xFF));
  }
  return bytes;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string PortList(const std::vector<std::uint16_t>& ports) {
  std::string out = "[";
  for (std::size_t i = 0; i < ports.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(ports[i]);
  }
  return out + "]";
}

}  // namespace

std::string_view RuleKindName(RuleKind kind) {
  switch (kind) {
    case RuleKind::kDenyRead:
      return "deny_read";
    case RuleKind::kServiceState:
      return "service_state";
    case RuleKind::kProtected:
      return "protected";
    case RuleKind::kWritableRoot:
      return "writable_root";
    case RuleKind::kOutsideRoots:
      return "outside_roots";
    case RuleKind::kReadsBroad:
      return "reads_broad";
    case RuleKind::kNetworkMode:
      return "network_mode";
    case RuleKind::kLoopbackPort:
      return "loopback_port";
    case RuleKind::kLoopbackUnlisted:
      return "loopback_unlisted";
  }
  return "unknown";
}

std::string_view VerdictName(Verdict verdict) {
  return verdict == Verdict::kAllowed ? "allowed" : "denied";
}

Expected<PathExplanation> ExplainPath(const Policy& policy, IdentityKind identity,
                                      std::string_view path, const ExplainContext& context) {
  Expected<std::string> normalized = paths::Normalize(path, context.style);
  if (!normalized.ok()) return normalized.error().Wrap("explaining a path");
  PathExplanation out;
  out.path = *normalized;
  const std::string who = policy.IdentityName(identity);
  const FilesystemPolicy& fs = policy.filesystem;

  const std::vector<Expanded> deny_read =
      ExpandAll("deny_read", fs.deny_read, context, &out.skipped);
  const std::vector<Expanded> roots =
      ExpandAll("writable_roots", fs.writable_roots, context, &out.skipped);

  // Protected entries: a relative name applies under every writable root (as the launcher joins
  // it), an anchored one is expanded as is.
  std::vector<Expanded> protected_paths;
  for (std::size_t i = 0; i < fs.protected_paths.size(); ++i) {
    const std::string& entry = fs.protected_paths[i];
    const std::string key = Key("protected", i);
    if (IsRelativeName(entry)) {
      for (const Expanded& root : roots) {
        Expected<std::string> joined = paths::JoinWithin(root.path, entry, context.style);
        if (!joined.ok()) {
          out.skipped.push_back(key + " \"" + entry + "\": " + joined.error().context());
          continue;
        }
        protected_paths.push_back({key, entry, *joined});
      }
    } else {
      std::vector<std::string> one{entry};
      std::vector<std::string> skipped;
      for (Expanded& e : ExpandAll("protected", one, context, &skipped)) {
        e.key = key;
        protected_paths.push_back(std::move(e));
      }
      for (std::string& s : skipped) {
        // ExpandAll named it "[0]"; restore the entry's real index.
        const std::size_t quote = s.find(" \"");
        out.skipped.push_back(key + s.substr(quote));
      }
    }
  }

  // Read.
  if (auto denied = DenyReadFor(out.path, "read", deny_read, context)) {
    out.read = *denied;
  } else {
    out.read = Make("read", Verdict::kAllowed, RuleKind::kReadsBroad, "", "", "",
                    "allowed: reads are broad and no filesystem.deny_read entry covers the path "
                    "(file permissions still apply to " +
                        who + ")");
  }

  // Write.
  if (auto denied = DenyReadFor(out.path, "write", deny_read, context)) {
    out.write = *denied;
    return out;
  }
  for (const Expanded& e : protected_paths) {
    if (paths::IsWithin(out.path, e.path, context.style)) {
      out.write = Make("write", Verdict::kDenied, RuleKind::kProtected, e.key, e.pattern, e.path,
                       "denied by " + e.key + " " + Quote(e.pattern) + ": " + e.path +
                           " is read-only even inside a writable root");
      return out;
    }
  }
  for (const Expanded& e : roots) {
    if (paths::IsWithin(out.path, e.path, context.style)) {
      out.write =
          Make("write", Verdict::kAllowed, RuleKind::kWritableRoot, e.key, e.pattern, e.path,
               "allowed by " + e.key + " " + PatternText(e) + " for " + who +
                   " (no protected or deny-read entry covers the path)");
      return out;
    }
  }
  std::string listed;
  for (const Expanded& e : roots) listed += (listed.empty() ? "" : ", ") + e.path;
  out.write =
      Make("write", Verdict::kDenied, RuleKind::kOutsideRoots, "filesystem.writable_roots", "", "",
           "denied: the path is outside every writable root" +
               (listed.empty() ? std::string(" (none applies here)") : " (" + listed + ")"));
  return out;
}

Expected<Address> ParseAddress(std::string_view text) {
  Address out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Error(ErrorCode::kInvalidArgument,
                   "\"" + std::string(text) + "\": expected [IPV6]:PORT");
    }
    out.host = std::string(text.substr(1, close - 1));
    if (!ParseIpv6(out.host)) {
      return Error(ErrorCode::kInvalidArgument,
                   "\"" + std::string(text) + "\": \"" + out.host + "\" is not an IPv6 address");
    }
    port_text = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      return Error(ErrorCode::kInvalidArgument,
                   "\"" + std::string(text) + "\": expected HOST:PORT");
    }
    if (text.substr(0, colon).find(':') != std::string_view::npos) {
      return Error(ErrorCode::kInvalidArgument,
                   "\"" + std::string(text) + "\": write an IPv6 address in brackets ([::1]:PORT)");
    }
    out.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  if (!AllDigits(port_text) || port_text.size() > 5 ||
      (std::from_chars(port_text.data(), port_text.data() + port_text.size(), port), port == 0) ||
      port > 65535) {
    return Error(ErrorCode::kInvalidArgument, "\"" + std::string(text) + "\": the port \"" +
                                                  std::string(port_text) +
                                                  "\" is not a number from 1 to 65535");
  }
  out.port = static_cast<std::uint16_t>(port);
  return out;
}

bool IsLoopbackHost(std::string_view host) {
  std::string lower = Lower(host);
  if (!lower.empty() && lower.back() == '.') lower.pop_back();
  if (lower == "localhost") return true;
  if (auto v4 = ParseIpv4(lower)) return (*v4 >> 24) == 127;
  if (auto v6 = ParseIpv6(lower)) {
    const std::vector<std::uint8_t>& b = *v6;
    bool zero_prefix =
        std::all_of(b.begin(), b.begin() + 10, [](std::uint8_t x) { return x == 0; });
    if (zero_prefix && b[10] == 0 && b[11] == 0 &&
        std::all_of(b.begin() + 12, b.begin() + 15, [](std::uint8_t x) { return x == 0; }) &&
        b[15] == 1) {
      return true;  // ::1
    }
    return zero_prefix && b[10] == 0xFF && b[11] == 0xFF && b[12] == 127;  // ::ffff:127.x.y.z
  }
  return false;
}

bool LooksLikeAddress(std::string_view text, paths::PathStyle style) {
  if (text.empty() || paths::IsAbsolute(text, style)) return false;
  if (!text.empty() && text.front() == '[') return text.find("]:") != std::string_view::npos;
  if (text.find('/') != std::string_view::npos || text.find('\\') != std::string_view::npos) {
    return false;
  }
  const std::size_t colon = text.rfind(':');
  return colon != std::string_view::npos && colon > 0 && AllDigits(text.substr(colon + 1));
}

Decision ExplainAddress(const Policy& policy, IdentityKind identity, const Address& address) {
  const NetworkPolicy& network = policy.Network(identity);
  const std::string section = std::string("network.") + IdentityKindName(identity);
  const std::string who = policy.IdentityName(identity);
  const std::string target =
      (address.host.find(':') != std::string::npos ? "[" + address.host + "]" : address.host) +
      ":" + std::to_string(address.port);
  if (network.mode == NetworkMode::kAllowed) {
    return Make("connect tcp", Verdict::kAllowed, RuleKind::kNetworkMode, section + ".mode",
                "allowed", "",
                "allowed by " + section + ".mode = \"allowed\": " + who + " may reach " + target);
  }
  if (!IsLoopbackHost(address.host)) {
    return Make("connect tcp", Verdict::kDenied, RuleKind::kNetworkMode, section + ".mode",
                "blocked", "",
                "denied by " + section + ".mode = \"blocked\": " + who +
                    " may reach no address but loopback ports " + PortList(network.loopback_ports) +
                    " (host names other than localhost are not resolved here)");
  }
  const bool listed = std::find(network.loopback_ports.begin(), network.loopback_ports.end(),
                                address.port) != network.loopback_ports.end();
  if (listed) {
    return Make("connect tcp", Verdict::kAllowed, RuleKind::kLoopbackPort,
                section + ".loopback_ports", PortList(network.loopback_ports), "",
                "allowed by " + section + ".loopback_ports " + PortList(network.loopback_ports) +
                    ": " + target + " is loopback TCP on a listed port (mode is \"blocked\")");
  }
  return Make("connect tcp", Verdict::kDenied, RuleKind::kLoopbackUnlisted,
              section + ".loopback_ports", PortList(network.loopback_ports), "",
              "denied by " + section + ".mode = \"blocked\": " + target +
                  " is loopback, but port " + std::to_string(address.port) + " is not in " +
                  section + ".loopback_ports " + PortList(network.loopback_ports));
}

}  // namespace stockade::explain
