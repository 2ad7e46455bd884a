#include "provision/linux/nft_step.h"

#include <algorithm>
#include <regex>

#include "provision/linux/accounts.h"
#include "provision/linux/step_params.h"

namespace stockade::provision::linux_os {
namespace {

// Marks the table as Stockade's in `nft list` output (JSON in nft 1.0.6 omits table comments,
// so ownership is read from the text listing).
constexpr char kOwnerMarker[] = "managed by stockade-provision";

std::string Comment(const std::string& prefix) {
  return "Stockade sandbox network rules (prefix " + prefix + "); " + kOwnerMarker;
}

// Counter values change with traffic; listings are compared without them.
std::string WithoutCounterValues(const std::string& listing) {
  static const std::regex kCounter("counter packets [0-9]+ bytes [0-9]+");
  return std::regex_replace(listing, kCounter, "counter");
}

Expected<std::string> TableListing(const std::string& table) {
  return RunNft(std::string("list table ") + kNftFamily + " " + table);
}

}  // namespace

std::string NftTableNameForPrefix(const std::string& prefix) {
  std::string out = "stockade_";
  for (char c : prefix) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    out += ok ? c : '_';
  }
  return out;
}

Expected<std::unique_ptr<Step>> NftStep::Create(const StepSpec& spec) {
  auto prefix = ParamString(spec, "prefix");
  if (!prefix.ok()) return prefix.error();
  auto user = ParamString(spec, "user");
  if (!user.ok()) return user.error();
  if (!IsValidAccountName(*user)) {
    return Error(ErrorCode::kInvalidArgument,
                 StepLabel(spec) + ": '" + *user + "' is not a valid user name");
  }
  auto table = ParamStringOr(spec, "table", NftTableNameForPrefix(*prefix));
  if (!table.ok()) return table.error();
  if (table->empty() || table->size() > 64 ||
      !std::all_of(table->begin(), table->end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_';
      })) {
    return Error(ErrorCode::kInvalidArgument,
                 StepLabel(spec) + ": table name '" + *table + "' must be [A-Za-z0-9_]{1,64}");
  }
  auto group = ParamInt(spec, "nflog_group", std::nullopt, 0, 65535);
  if (!group.ok()) return group.error();
  std::vector<std::uint16_t> ports;
  if (spec.params.contains("loopback_ports")) {
    const nlohmann::json& p = spec.params["loopback_ports"];
    if (!p.is_array()) {
      return Error(ErrorCode::kInvalidArgument,
                   StepLabel(spec) + ": params.loopback_ports must be a list of ports");
    }
    for (const nlohmann::json& v : p) {
      if (!v.is_number_integer() || v.get<long long>() < 1 || v.get<long long>() > 65535) {
        return Error(ErrorCode::kInvalidArgument, StepLabel(spec) +
                                                      ": params.loopback_ports holds " + v.dump() +
                                                      ", not a port 1..65535");
      }
      ports.push_back(static_cast<std::uint16_t>(v.get<long long>()));
    }
  }
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  return std::unique_ptr<Step>(new NftStep(spec, *prefix, *table, *user, std::move(ports),
                                           static_cast<std::uint32_t>(*group)));
}

std::string NftStep::Describe() const {
  std::string ports;
  for (std::uint16_t p : ports_) ports += (ports.empty() ? "" : ",") + std::to_string(p);
  return "nftables table " + std::string(kNftFamily) + " " + table_ + ": block network for " +
         user_ + " (loopback ports: " + (ports.empty() ? "none" : ports) + "; NFLOG group " +
         std::to_string(nflog_group_) + ")";
}

std::string NftStep::RulesetFor(std::uint32_t uid) const {
  const std::string who = "meta skuid " + std::to_string(uid);
  const std::string log = " counter log group " + std::to_string(nflog_group_);
  std::string t = std::string(kNftFamily) + " " + table_;
  // Create-then-delete-then-create in one transaction: an atomic replace that works whether
  // or not the table exists, and never leaves a moment without the rules.
  std::string s = "add table " + t + "\ndelete table " + t + "\ntable " + t + " {\n";
  s += "  comment \"" + Comment(prefix_) + "\"\n";
  s += "  chain " + std::string(kNftChain) + " {\n";
  s += "    type filter hook output priority filter; policy accept;\n";
  if (!ports_.empty()) {
    std::string ports;
    for (std::uint16_t p : ports_) ports += (ports.empty() ? "" : ", ") + std::to_string(p);
    s += "    " + who + " oifname \"lo\" tcp dport { " + ports + " } counter accept\n";
  }
  s += "    " + who + " meta l4proto tcp" + log + " reject with tcp reset\n";
  s += "    " + who + log + " reject\n";
  s += "  }\n}\n";
  return s;
}

std::vector<NftRule> NftStep::ExpectedRules(std::uint32_t uid) const {
  std::vector<NftRule> rules;
  if (!ports_.empty()) {
    NftRule r;
    r.skuid = uid;
    r.oifname = "lo";
    r.tcp_dports = ports_;
    r.counter = true;
    r.verdict = "accept";
    rules.push_back(r);
  }
  NftRule tcp;
  tcp.skuid = uid;
  tcp.l4proto = "tcp";
  tcp.counter = true;
  tcp.log_group = nflog_group_;
  tcp.verdict = "reject-tcp-reset";
  rules.push_back(tcp);
  NftRule rest;
  rest.skuid = uid;
  rest.counter = true;
  rest.log_group = nflog_group_;
  rest.verdict = "reject";
  rules.push_back(rest);
  return rules;
}

Expected<nlohmann::json> NftStep::CaptureBefore() {
  auto exists = NftTableExists(kNftFamily, table_);
  if (!exists.ok()) return exists.error();
  nlohmann::json before = {{"family", kNftFamily}, {"table", table_}, {"existed", *exists}};
  if (*exists) {
    auto listing = TableListing(table_);
    if (!listing.ok()) return listing.error();
    before["listing"] = *listing;
  }
  return before;
}

Expected<bool> NftStep::IsApplied() {
  auto user = LookupUser(user_);
  if (!user.ok()) return user.error();
  if (!user->has_value()) return false;
  auto exists = NftTableExists(kNftFamily, table_);
  if (!exists.ok()) return exists.error();
  if (!*exists) return false;
  return Verify().ok();
}

Expected<bool> NftStep::TargetPresent() { return NftTableExists(kNftFamily, table_); }

Status NftStep::Apply() {
  auto user = LookupUser(user_);
  if (!user.ok()) return user.error();
  if (!user->has_value()) {
    return Error(ErrorCode::kNotFound,
                 "cannot add network rules: user " + user_ + " does not exist");
  }
  auto exists = NftTableExists(kNftFamily, table_);
  if (!exists.ok()) return exists.error();
  if (*exists) {
    auto listing = TableListing(table_);
    if (!listing.ok()) return listing.error();
    if (listing->find(kOwnerMarker) == std::string::npos) {
      return Error(ErrorCode::kAlreadyExists,
                   "nftables table " + std::string(kNftFamily) + " " + table_ +
                       " exists and is not Stockade's; it was left untouched");
    }
  }
  auto out = RunNft(RulesetFor((*user)->uid));
  if (!out.ok()) return out.error().Wrap("network rules for " + user_);
  return OkStatus();
}

Status NftStep::Verify() {
  const std::string label = "nftables table " + std::string(kNftFamily) + " " + table_;
  auto fail = [&](const std::string& what) {
    return Error(ErrorCode::kVerificationFailed, label + " " + what);
  };
  auto user = LookupUser(user_);
  if (!user.ok()) return user.error();
  if (!user->has_value()) return fail("confines user " + user_ + ", who does not exist");
  auto table = ReadNftTable(kNftFamily, table_);
  if (!table.ok()) {
    if (table.error().code() == ErrorCode::kNotFound) return fail("does not exist");
    return table.error();
  }
  if (!table->other_objects.empty()) {
    return fail("holds an object Stockade never creates: " + table->other_objects.front());
  }
  if (table->chains.size() != 1 || table->chains[0].name != kNftChain) {
    std::string names;
    for (const NftChain& c : table->chains) names += (names.empty() ? "" : ",") + c.name;
    return fail("has chains [" + names + "], expected exactly [" + kNftChain + "]");
  }
  const NftChain& chain = table->chains[0];
  if (chain.type != "filter" || chain.hook != "output" || chain.prio != 0 ||
      chain.policy != "accept") {
    return fail("chain output is type " + chain.type + " hook " + chain.hook + " priority " +
                std::to_string(chain.prio) + " policy " + chain.policy +
                ", expected filter/output/0/accept");
  }
  std::vector<NftRule> want = ExpectedRules((*user)->uid);
  for (size_t i = 0; i < want.size() || i < chain.rules.size(); ++i) {
    if (i >= chain.rules.size()) return fail("lacks rule " + want[i].Describe());
    if (i >= want.size()) return fail("has an extra rule " + chain.rules[i].Describe());
    if (!chain.rules[i].SameAs(want[i])) {
      return fail("rule " + std::to_string(i + 1) + " is '" + chain.rules[i].Describe() +
                  "', expected '" + want[i].Describe() + "'");
    }
  }
  return OkStatus();
}

Status NftStep::Undo(const nlohmann::json& before) {
  if (!before.is_object() || !before.contains("existed") || !before["existed"].is_boolean()) {
    return CorruptBefore(spec(), "lacks 'existed'");
  }
  const std::string t = std::string(kNftFamily) + " " + table_;
  if (before["existed"].get<bool>()) {
    if (!before.contains("listing") || !before["listing"].is_string()) {
      return CorruptBefore(spec(), "lacks the table's listing");
    }
    auto out = RunNft("add table " + t + "\ndelete table " + t + "\n" +
                      before["listing"].get<std::string>());
    if (!out.ok()) return out.error().Wrap("restore " + t);
    return OkStatus();
  }
  auto exists = NftTableExists(kNftFamily, table_);
  if (!exists.ok()) return exists.error();
  if (!*exists) return OkStatus();
  auto out = RunNft("delete table " + t);
  if (!out.ok()) return out.error().Wrap("remove " + t);
  return OkStatus();
}

Status NftStep::VerifyUndone(const nlohmann::json& before) {
  if (!before.is_object() || !before.contains("existed") || !before["existed"].is_boolean()) {
    return CorruptBefore(spec(), "lacks 'existed'");
  }
  const std::string label = "nftables table " + std::string(kNftFamily) + " " + table_;
  auto exists = NftTableExists(kNftFamily, table_);
  if (!exists.ok()) return exists.error();
  if (!before["existed"].get<bool>()) {
    if (*exists) return Error(ErrorCode::kVerificationFailed, label + " still exists");
    return OkStatus();
  }
  if (!*exists) return Error(ErrorCode::kVerificationFailed, label + " existed and is gone");
  auto listing = TableListing(table_);
  if (!listing.ok()) return listing.error();
  if (WithoutCounterValues(*listing) !=
      WithoutCounterValues(before.value("listing", std::string()))) {
    return Error(ErrorCode::kVerificationFailed, label + " differs from its previous listing");
  }
  return OkStatus();
}

}  // namespace stockade::provision::linux_os
