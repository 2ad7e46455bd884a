#include "provision/linux/nft.h"

#include <nftables/libnftables.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

namespace stockade::provision::linux_os {
namespace {

struct CtxDeleter {
  void operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }
};
using CtxPtr = std::unique_ptr<nft_ctx, CtxDeleter>;

std::string OneLine(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

// Parses a port or a set of ports from a JSON right-hand side.
bool ParsePorts(const nlohmann::json& right, std::vector<std::uint16_t>* out) {
  if (right.is_number_unsigned() || right.is_number_integer()) {
    out->push_back(right.get<std::uint16_t>());
    return true;
  }
  if (right.is_object() && right.contains("set") && right["set"].is_array()) {
    for (const nlohmann::json& v : right["set"]) {
      if (!v.is_number_integer()) return false;
      out->push_back(v.get<std::uint16_t>());
    }
    std::sort(out->begin(), out->end());
    return true;
  }
  return false;
}

NftRule ParseRule(const nlohmann::json& rule) {
  NftRule r;
  if (!rule.contains("expr") || !rule["expr"].is_array()) {
    r.understood = false;
    return r;
  }
  for (const nlohmann::json& e : rule["expr"]) {
    if (!e.is_object() || e.size() != 1) {
      r.understood = false;
      continue;
    }
    const std::string key = e.begin().key();
    const nlohmann::json& v = e.begin().value();
    if (key == "match") {
      const std::string op = v.value("op", "");
      if (op != "==" && op != "in") {
        r.understood = false;
        continue;
      }
      const nlohmann::json& left = v["left"];
      const nlohmann::json& right = v["right"];
      if (left.contains("meta")) {
        const std::string mkey = left["meta"].value("key", "");
        if (mkey == "skuid" && right.is_number_integer()) {
          r.skuid = right.get<std::uint32_t>();
        } else if (mkey == "oifname" && right.is_string()) {
          r.oifname = right.get<std::string>();
        } else if (mkey == "l4proto" && right.is_string()) {
          r.l4proto = right.get<std::string>();
        } else {
          r.understood = false;
        }
      } else if (left.contains("payload") && left["payload"].value("protocol", "") == "tcp" &&
                 left["payload"].value("field", "") == "dport") {
        if (!ParsePorts(right, &r.tcp_dports)) r.understood = false;
      } else {
        r.understood = false;
      }
    } else if (key == "counter") {
      r.counter = true;
      if (v.is_object()) {
        r.packets = v.value("packets", std::uint64_t{0});
        r.bytes = v.value("bytes", std::uint64_t{0});
      }
    } else if (key == "log") {
      if (v.is_object() && v.contains("group") && v.size() == 1) {
        r.log_group = v["group"].get<std::uint32_t>();
      } else {
        r.understood = false;
      }
    } else if (key == "accept" || key == "drop") {
      r.verdict = key;
    } else if (key == "reject") {
      if (v.is_null()) {
        r.verdict = "reject";
      } else if (v.value("type", "") == "tcp reset") {
        r.verdict = "reject-tcp-reset";
      } else if (v.value("type", "") == "icmpx" && v.value("expr", "") == "port-unreachable") {
        r.verdict = "reject";
      } else {
        r.understood = false;
      }
    } else {
      r.understood = false;
    }
  }
  return r;
}

}  // namespace

bool NftRule::SameAs(const NftRule& o) const {
  return skuid == o.skuid && oifname == o.oifname && l4proto == o.l4proto &&
         tcp_dports == o.tcp_dports && counter == o.counter && log_group == o.log_group &&
         verdict == o.verdict && understood == o.understood;
}

std::string NftRule::Describe() const {
  std::string s;
  auto add = [&](const std::string& part) { s += (s.empty() ? "" : " ") + part; };
  if (skuid) add("meta skuid " + std::to_string(*skuid));
  if (!oifname.empty()) add("oifname " + oifname);
  if (!l4proto.empty()) add("meta l4proto " + l4proto);
  if (!tcp_dports.empty()) {
    std::string ports;
    for (std::uint16_t p : tcp_dports) ports += (ports.empty() ? "" : ",") + std::to_string(p);
    add("tcp dport {" + ports + "}");
  }
  if (counter) add("counter");
  if (log_group) add("log group " + std::to_string(*log_group));
  if (!verdict.empty()) add(verdict);
  if (!understood) add("<other expressions>");
  return s;
}

Expected<std::string> RunNft(const std::string& commands, NftOutput output) {
  CtxPtr ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) return Error(ErrorCode::kOs, "nft_ctx_new failed");
  if (nft_ctx_buffer_output(ctx.get()) != 0 || nft_ctx_buffer_error(ctx.get()) != 0) {
    return Error(ErrorCode::kOs, "libnftables: cannot buffer output");
  }
  if (output == NftOutput::kJson) nft_ctx_output_set_flags(ctx.get(), NFT_CTX_OUTPUT_JSON);
  int rc = nft_run_cmd_from_buffer(ctx.get(), commands.c_str());
  std::string out = nft_ctx_get_output_buffer(ctx.get());
  std::string err = nft_ctx_get_error_buffer(ctx.get());
  if (rc != 0) {
    ErrorCode code = geteuid() != 0 ? ErrorCode::kPermissionDenied : ErrorCode::kOs;
    return Error(code, "nft '" + OneLine(commands).substr(0, 200) +
                           "' failed: " + OneLine(err.empty() ? "(no message)" : err));
  }
  return out;
}

Expected<nlohmann::json> RunNftJson(const std::string& commands) {
  auto out = RunNft(commands, NftOutput::kJson);
  if (!out.ok()) return out.error();
  try {
    return nlohmann::json::parse(*out);
  } catch (const nlohmann::json::exception& e) {
    return Error(ErrorCode::kOs, "nft '" + commands + "' printed no valid JSON: " + e.what());
  }
}

Expected<std::vector<NftTableName>> ListNftTables() {
  auto j = RunNftJson("list tables");
  if (!j.ok()) return j.error();
  std::vector<NftTableName> out;
  if (!j->contains("nftables")) return out;
  for (const nlohmann::json& item : (*j)["nftables"]) {
    if (item.contains("table")) {
      out.push_back({item["table"].value("family", ""), item["table"].value("name", "")});
    }
  }
  return out;
}

Expected<bool> NftTableExists(const std::string& family, const std::string& name) {
  auto tables = ListNftTables();
  if (!tables.ok()) return tables.error();
  NftTableName want{family, name};
  return std::find(tables->begin(), tables->end(), want) != tables->end();
}

Expected<NftTable> ReadNftTable(const std::string& family, const std::string& name) {
  auto exists = NftTableExists(family, name);
  if (!exists.ok()) return exists.error();
  if (!*exists) {
    return Error(ErrorCode::kNotFound, "nftables table " + family + " " + name + " does not exist");
  }
  auto j = RunNftJson("list table " + family + " " + name);
  if (!j.ok()) return j.error();
  NftTable table;
  try {
    for (const nlohmann::json& item : (*j).at("nftables")) {
      if (item.contains("metainfo") || item.contains("table")) continue;
      if (item.contains("chain")) {
        const nlohmann::json& c = item["chain"];
        NftChain chain;
        chain.name = c.value("name", "");
        chain.type = c.value("type", "");
        chain.hook = c.value("hook", "");
        chain.policy = c.value("policy", "");
        chain.prio = c.value("prio", std::int64_t{0});
        table.chains.push_back(std::move(chain));
      } else if (item.contains("rule")) {
        const nlohmann::json& r = item["rule"];
        std::string chain = r.value("chain", "");
        auto it = std::find_if(table.chains.begin(), table.chains.end(),
                               [&](const NftChain& c) { return c.name == chain; });
        if (it == table.chains.end()) {
          table.other_objects.push_back("rule in unknown chain " + chain);
        } else {
          it->rules.push_back(ParseRule(r));
        }
      } else if (!item.empty()) {
        table.other_objects.push_back(item.begin().key());
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return Error(ErrorCode::kOs, "unexpected JSON from nft listing " + name + ": " + e.what());
  }
  return table;
}

}  // namespace stockade::provision::linux_os
