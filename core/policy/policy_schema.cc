#include "core/policy/policy_schema.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>

namespace stockade::policy_internal {

namespace {

using KeyList = std::vector<std::string_view>;

// The schema: which keys each table may hold.
const KeyList kRootKeys = {"version", "identities", "network", "filesystem", "limits", "audit"};
const KeyList kIdentitiesKeys = {"prefix"};
const KeyList kNetworkKeys = {"offline", "online"};
const KeyList kNetworkBlockKeys = {"mode", "loopback_ports"};
const KeyList kFilesystemKeys = {"writable_roots", "protected", "deny_read"};
const KeyList kLimitsKeys = {"max_processes", "memory_mb"};
const KeyList kAuditKeys = {"retention_days", "fail_open", "fsync"};
const KeyList kModeValues = {"blocked", "allowed"};

TextPosition PositionOf(const toml::source_region& region) {
  return TextPosition{region.begin.line, region.begin.column};
}

std::string JoinKeys(const KeyList& keys) {
  std::string out;
  for (std::string_view key : keys) {
    if (!out.empty()) out += ", ";
    out += key;
  }
  return out;
}

// "a string (\"1024\")", "an integer (5)", "a table", ...: what was found, for "expected X, got Y".
std::string Describe(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: {
      std::string_view text = node.as_string()->get();
      constexpr std::size_t kMaxShown = 40;
      std::string shown =
          text.size() > kMaxShown ? Quote(text.substr(0, kMaxShown)) + "..." : Quote(text);
      return "a string (" + shown + ")";
    }
    case toml::node_type::integer:
      return "an integer (" + std::to_string(node.as_integer()->get()) + ")";
    case toml::node_type::floating_point: {
      char buffer[64];
      std::snprintf(buffer, sizeof buffer, "%g", node.as_floating_point()->get());
      return std::string("a floating-point number (") + buffer + ")";
    }
    case toml::node_type::boolean:
      return std::string("a boolean (") + (node.as_boolean()->get() ? "true" : "false") + ")";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

class SchemaReader {
 public:
  SchemaReader(std::string_view source, const Policy& base) : source_(source) {
    result_.policy = base;
    result_.policy.source = std::string(source);
    // Entries taken from the base have no position in this text.
    result_.locations.writable_roots.assign(base.filesystem.writable_roots.size(), std::nullopt);
    result_.locations.protected_paths.assign(base.filesystem.protected_paths.size(), std::nullopt);
    result_.locations.deny_read.assign(base.filesystem.deny_read.size(), std::nullopt);
  }

  Expected<SchemaResult> Read(const toml::table& document) {
    // The version first: a newer file may use keys this Stockade does not know, and saying
    // "unknown key" about them would hide the real problem.
    STOCKADE_RETURN_IF_ERROR(ReadVersion(document));
    STOCKADE_RETURN_IF_ERROR(CheckKeys(document, "", kRootKeys));
    Policy& policy = result_.policy;
    if (const toml::node* node = document.get("identities")) {
      auto table = ExpectTable(*node, "identities");
      if (!table.ok()) return table.error();
      STOCKADE_RETURN_IF_ERROR(CheckKeys(**table, "identities", kIdentitiesKeys));
      if (const toml::node* prefix = (*table)->get("prefix")) {
        STOCKADE_RETURN_IF_ERROR(ReadPrefix(*prefix));
      }
    }
    if (const toml::node* node = document.get("network")) {
      auto table = ExpectTable(*node, "network");
      if (!table.ok()) return table.error();
      STOCKADE_RETURN_IF_ERROR(CheckKeys(**table, "network", kNetworkKeys));
      STOCKADE_RETURN_IF_ERROR(ReadNetworkBlock(**table, "offline", &policy.offline));
      STOCKADE_RETURN_IF_ERROR(ReadNetworkBlock(**table, "online", &policy.online));
    }
    if (const toml::node* node = document.get("filesystem")) {
      auto table = ExpectTable(*node, "filesystem");
      if (!table.ok()) return table.error();
      STOCKADE_RETURN_IF_ERROR(CheckKeys(**table, "filesystem", kFilesystemKeys));
      STOCKADE_RETURN_IF_ERROR(ReadStringList(**table, "filesystem", "writable_roots",
                                              &policy.filesystem.writable_roots,
                                              &result_.locations.writable_roots));
      STOCKADE_RETURN_IF_ERROR(ReadStringList(**table, "filesystem", "protected",
                                              &policy.filesystem.protected_paths,
                                              &result_.locations.protected_paths));
      STOCKADE_RETURN_IF_ERROR(ReadStringList(**table, "filesystem", "deny_read",
                                              &policy.filesystem.deny_read,
                                              &result_.locations.deny_read));
    }
    if (const toml::node* node = document.get("limits")) {
      auto table = ExpectTable(*node, "limits");
      if (!table.ok()) return table.error();
      STOCKADE_RETURN_IF_ERROR(CheckKeys(**table, "limits", kLimitsKeys));
      if (const toml::node* value = (*table)->get("max_processes")) {
        auto number = ReadInteger(*value, "limits.max_processes", kMinProcesses, kMaxProcesses,
                                  "the sandboxed command itself is a process");
        if (!number.ok()) return number.error();
        policy.limits.max_processes = static_cast<std::uint32_t>(*number);
      }
      if (const toml::node* value = (*table)->get("memory_mb")) {
        auto number = ReadInteger(*value, "limits.memory_mb", kMinMemoryMb, kMaxMemoryMb,
                                  "megabytes of memory for the whole process tree");
        if (!number.ok()) return number.error();
        policy.limits.memory_mb = static_cast<std::uint64_t>(*number);
      }
    }
    if (const toml::node* node = document.get("audit")) {
      auto table = ExpectTable(*node, "audit");
      if (!table.ok()) return table.error();
      STOCKADE_RETURN_IF_ERROR(CheckKeys(**table, "audit", kAuditKeys));
      if (const toml::node* value = (*table)->get("retention_days")) {
        auto number = ReadInteger(*value, "audit.retention_days", kMinRetentionDays,
                                  kMaxRetentionDays, "audit records are kept at least a day");
        if (!number.ok()) return number.error();
        policy.audit.retention_days = static_cast<std::uint32_t>(*number);
      }
      if (const toml::node* value = (*table)->get("fail_open")) {
        if (!value->is_boolean()) {
          return Fail(*value, "audit.fail_open: expected a boolean (true or false), got " +
                                  Describe(*value));
        }
        policy.audit.fail_open = value->as_boolean()->get();
      }
      if (const toml::node* value = (*table)->get("fsync")) {
        if (!value->is_boolean()) {
          return Fail(*value, "audit.fsync: expected a boolean (true or false), got " +
                                  Describe(*value));
        }
        policy.audit.fsync = value->as_boolean()->get();
      }
    }
    return std::move(result_);
  }

 private:
  Error Fail(const toml::node& node, std::string_view message,
             ErrorCode code = ErrorCode::kPolicyInvalid) const {
    return PolicyError(code, source_, PositionOf(node.source()), message);
  }

  Status ReadVersion(const toml::table& document) {
    const toml::node* node = document.get("version");
    if (node == nullptr) {
      std::string message =
          "missing required key \"version\"; expected version = " + std::to_string(kPolicyVersion) +
          " at the top of the file";
      // A misspelt version key is the likely cause: point at it.
      for (auto&& [key, value] : document) {
        if (ClosestMatch(key.str(), {"version"}).has_value()) {
          return PolicyError(
              ErrorCode::kPolicyVersion, source_, PositionOf(key.source()),
              message + " (found " + Quote(key.str()) + "; did you mean \"version\"?)");
        }
      }
      return PolicyError(ErrorCode::kPolicyVersion, source_, TextPosition{}, message);
    }
    if (!node->is_integer()) {
      return Fail(*node,
                  "version: expected an integer (version = " + std::to_string(kPolicyVersion) +
                      "), got " + Describe(*node),
                  ErrorCode::kPolicyVersion);
    }
    std::int64_t version = node->as_integer()->get();
    if (version < 0) {
      return Fail(*node,
                  "version: " + std::to_string(version) +
                      " is negative; policy versions are positive integers, this Stockade "
                      "reads version " +
                      std::to_string(kPolicyVersion),
                  ErrorCode::kPolicyVersion);
    }
    if (version == 0) {
      return Fail(*node,
                  "version: 0 is not a policy version; versions start at 1, this Stockade "
                  "reads version " +
                      std::to_string(kPolicyVersion),
                  ErrorCode::kPolicyVersion);
    }
    if (version > kPolicyVersion) {
      return Fail(*node,
                  "version: " + std::to_string(version) +
                      " is newer than this Stockade supports (" + std::to_string(kPolicyVersion) +
                      "); upgrade Stockade or write a version " + std::to_string(kPolicyVersion) +
                      " policy",
                  ErrorCode::kPolicyVersion);
    }
    result_.policy.version = static_cast<int>(version);
    return OkStatus();
  }

  // Every key of `table` must be in `known`; reports the first unknown one in the text.
  Status CheckKeys(const toml::table& table, std::string_view table_name, const KeyList& known) {
    const toml::key* first_unknown = nullptr;
    const toml::node* first_value = nullptr;
    for (auto&& [key, value] : table) {
      if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
      TextPosition at = PositionOf(key.source());
      if (first_unknown == nullptr ||
          std::pair(at.line, at.column) < std::pair(PositionOf(first_unknown->source()).line,
                                                    PositionOf(first_unknown->source()).column)) {
        first_unknown = &key;
        first_value = &value;
      }
    }
    if (first_unknown == nullptr) return OkStatus();
    std::string_view name = first_unknown->str();
    std::optional<std::string> suggestion = ClosestMatch(name, known);
    std::string message;
    if (table_name.empty() && first_value->is_table()) {
      // Most likely a misspelt [section] header.
      message = "unknown table [" + std::string(name) + "]";
      message += suggestion ? "; did you mean [" + *suggestion + "]?"
                            : "; valid tables are: identities, network, filesystem, limits, audit";
    } else {
      message =
          "unknown key " + Quote(name) +
          (table_name.empty() ? " at the top level" : " in [" + std::string(table_name) + "]");
      message += suggestion ? "; did you mean " + Quote(*suggestion) + "?"
                            : "; valid keys are: " + JoinKeys(known);
    }
    return PolicyError(ErrorCode::kPolicyInvalid, source_, PositionOf(first_unknown->source()),
                       message);
  }

  Expected<const toml::table*> ExpectTable(const toml::node& node, std::string_view name) const {
    if (!node.is_table()) {
      return Fail(node, std::string(name) + ": expected a table ([" + std::string(name) +
                            "]), got " + Describe(node));
    }
    return node.as_table();
  }

  Expected<std::int64_t> ReadInteger(const toml::node& node, std::string_view name,
                                     std::int64_t min, std::int64_t max,
                                     std::string_view why) const {
    if (!node.is_integer()) {
      return Fail(node, std::string(name) + ": expected an integer, got " + Describe(node));
    }
    std::int64_t value = node.as_integer()->get();
    if (value < min || value > max) {
      return Fail(node, std::string(name) + ": " + std::to_string(value) +
                            " is out of range; expected " + std::to_string(min) + " to " +
                            std::to_string(max) + " (" + std::string(why) + ")");
    }
    return value;
  }

  Status ReadPrefix(const toml::node& node) {
    if (!node.is_string()) {
      return Fail(node, "identities.prefix: expected a string (e.g. prefix = \"stockade\"), got " +
                            Describe(node));
    }
    const std::string& prefix = node.as_string()->get();
    // A name both OSes accept as a user and group name, and that no shell or tool misreads:
    // the portable subset of useradd's NAME_REGEX, which Windows accepts too.
    if (prefix.empty()) {
      return Fail(node,
                  "identities.prefix: must not be empty; the identities are named "
                  "\"<prefix>-offline\" and \"<prefix>-online\"");
    }
    if (prefix[0] < 'a' || prefix[0] > 'z') {
      return Fail(
          node, "identities.prefix: " + Quote(prefix) + " must start with a lowercase letter a-z");
    }
    for (std::size_t i = 1; i < prefix.size(); ++i) {
      char c = prefix[i];
      bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
      if (!ok) {
        auto byte = static_cast<unsigned char>(c);
        std::string shown =
            byte >= 0x80 ? "a non-ASCII character"
                         : (byte < 0x20 ? "a control character" : "'" + std::string(1, c) + "'");
        return Fail(node, "identities.prefix: " + Quote(prefix) + " contains " + shown +
                              " at position " + std::to_string(i + 1) +
                              "; only a-z, 0-9, '_' and '-' are allowed");
      }
    }
    if (prefix.size() > kMaxPrefixLength) {
      return Fail(node, "identities.prefix: " + Quote(prefix) + " is " +
                            std::to_string(prefix.size()) + " characters; at most " +
                            std::to_string(kMaxPrefixLength) + " fit, because \"" + prefix +
                            "-offline\" must fit Windows' 20-character limit on user names");
    }
    result_.policy.identity_prefix = prefix;
    return OkStatus();
  }

  Status ReadNetworkBlock(const toml::table& network, std::string_view which, NetworkPolicy* out) {
    const toml::node* node = network.get(which);
    if (node == nullptr) return OkStatus();
    std::string name = "network." + std::string(which);
    auto table = ExpectTable(*node, name);
    if (!table.ok()) return table.error();
    STOCKADE_RETURN_IF_ERROR(CheckKeys(**table, name, kNetworkBlockKeys));

    bool mode_written = false;
    if (const toml::node* mode = (*table)->get("mode")) {
      if (!mode->is_string()) {
        return Fail(*mode, name + ".mode: expected a string (\"blocked\" or \"allowed\"), got " +
                               Describe(*mode));
      }
      const std::string& value = mode->as_string()->get();
      if (value == "blocked") {
        out->mode = NetworkMode::kBlocked;
      } else if (value == "allowed") {
        out->mode = NetworkMode::kAllowed;
      } else {
        std::optional<std::string> suggestion = ClosestMatch(value, kModeValues);
        return Fail(*mode, name + ".mode: invalid value " + Quote(value) +
                               "; expected \"blocked\" or \"allowed\"" +
                               (suggestion ? " (did you mean " + Quote(*suggestion) + "?)" : ""));
      }
      mode_written = true;
    }

    const toml::node* ports = (*table)->get("loopback_ports");
    if (ports != nullptr) {
      if (out->mode == NetworkMode::kAllowed) {
        return Fail(*ports, name + ".loopback_ports: only applies when mode = \"blocked\"; " +
                                "with mode \"allowed\"" +
                                (mode_written ? "" : " (the default for this identity)") +
                                " every port is reachable. Remove it or set mode = \"blocked\"");
      }
      if (!ports->is_array()) {
        return Fail(*ports, name +
                                ".loopback_ports: expected an array of port numbers (e.g. "
                                "loopback_ports = [3128]), got " +
                                Describe(*ports));
      }
      std::vector<std::uint16_t> values;
      std::map<std::int64_t, TextPosition> seen;
      const toml::array& array = *ports->as_array();
      for (std::size_t i = 0; i < array.size(); ++i) {
        const toml::node& element = array[i];
        std::string element_name = name + ".loopback_ports[" + std::to_string(i) + "]";
        if (!element.is_integer()) {
          return Fail(element, element_name + ": expected an integer (a TCP port), got " +
                                   Describe(element));
        }
        std::int64_t port = element.as_integer()->get();
        if (port < 0) {
          return Fail(element, element_name + ": " + std::to_string(port) +
                                   " is negative; TCP ports are 1 to 65535");
        }
        if (port == 0) {
          return Fail(
              element,
              element_name + ": port 0 is not a port one can connect to; expected 1 to 65535");
        }
        if (port > 65535) {
          return Fail(element, element_name + ": " + std::to_string(port) +
                                   " is above the highest TCP port (65535)");
        }
        auto [it, inserted] = seen.emplace(port, PositionOf(element.source()));
        if (!inserted) {
          return Fail(element, element_name + ": port " + std::to_string(port) +
                                   " is listed twice (first at " + PositionText(it->second) + ")");
        }
        values.push_back(static_cast<std::uint16_t>(port));
      }
      out->loopback_ports = std::move(values);
    } else if (out->mode == NetworkMode::kAllowed) {
      // Inherited ports mean nothing once the mode is "allowed": drop them rather than show
      // a rule that does not exist.
      out->loopback_ports.clear();
    }
    return OkStatus();
  }

  Status ReadStringList(const toml::table& table, std::string_view table_name, std::string_view key,
                        std::vector<std::string>* out,
                        std::vector<std::optional<TextPosition>>* positions) {
    const toml::node* node = table.get(key);
    if (node == nullptr) return OkStatus();
    std::string name = std::string(table_name) + "." + std::string(key);
    if (!node->is_array()) {
      return Fail(*node, name + ": expected an array of strings (e.g. " + std::string(key) +
                             " = [\"...\"]), got " + Describe(*node));
    }
    const toml::array& array = *node->as_array();
    if (array.size() > kMaxPathEntries) {
      return Fail(*node, name + ": " + std::to_string(array.size()) + " entries; at most " +
                             std::to_string(kMaxPathEntries) + " are supported");
    }
    std::vector<std::string> values;
    std::vector<std::optional<TextPosition>> where;
    for (std::size_t i = 0; i < array.size(); ++i) {
      const toml::node& element = array[i];
      if (!element.is_string()) {
        return Fail(element, name + "[" + std::to_string(i) +
                                 "]: expected a string (a path), got " + Describe(element));
      }
      values.push_back(element.as_string()->get());
      where.push_back(PositionOf(element.source()));
    }
    *out = std::move(values);
    *positions = std::move(where);
    return OkStatus();
  }

  std::string_view source_;
  SchemaResult result_;
};

}  // namespace

Expected<SchemaResult> ReadPolicySchema(const toml::table& document, std::string_view source,
                                        const Policy& base) {
  SchemaReader reader(source, base);
  return reader.Read(document);
}

}  // namespace stockade::policy_internal
