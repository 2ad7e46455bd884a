#include "audit/linux/audit_record.h"

#include <charconv>

namespace stockade::audit::linux_os {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

const std::string* AuditRecord::Find(std::string_view name) const {
  for (const auto& [k, v] : fields) {
    if (k == name) return &v;
  }
  return nullptr;
}

const AuditRecord* AuditEvent::First(std::uint16_t type) const {
  for (const AuditRecord& r : records) {
    if (r.type == type) return &r;
  }
  return nullptr;
}

std::optional<std::int64_t> ParseInt(std::string_view raw, int base) {
  std::int64_t v = 0;
  if (base == 16) {
    // Syscall arguments are unsigned 64-bit hex.
    std::uint64_t u = 0;
    const auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), u, 16);
    if (ec != std::errc() || p != raw.data() + raw.size() || raw.empty()) return std::nullopt;
    return static_cast<std::int64_t>(u);
  }
  const auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), v, base);
  if (ec != std::errc() || p != raw.data() + raw.size() || raw.empty()) return std::nullopt;
  return v;
}

std::string DecodeUntrusted(std::string_view raw) {
  if (raw.size() >= 2 && raw.front() == '"' && raw.back() == '"') {
    return std::string(raw.substr(1, raw.size() - 2));
  }
  if (raw == "(null)") return "";
  if (raw.size() % 2 != 0 || raw.empty()) return std::string(raw);
  std::string out;
  out.reserve(raw.size() / 2);
  for (std::size_t i = 0; i < raw.size(); i += 2) {
    const int hi = HexDigit(raw[i]);
    const int lo = HexDigit(raw[i + 1]);
    if (hi < 0 || lo < 0) return std::string(raw);
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

Expected<AuditRecord> ParseAuditRecord(std::uint16_t type, std::string_view text) {
  AuditRecord r;
  r.type = type;
  r.text = std::string(text);
  // "audit(SECONDS.MILLIS:SERIAL): "
  constexpr std::string_view kHead = "audit(";
  const auto close = text.find("):");
  if (text.substr(0, kHead.size()) != kHead || close == std::string_view::npos) {
    return Error(ErrorCode::kInvalidArgument, "audit record of type " + std::to_string(type) +
                                                  " without an audit(...) "
                                                  "header: " +
                                                  std::string(text.substr(0, 80)));
  }
  const std::string_view stamp = text.substr(kHead.size(), close - kHead.size());
  const auto dot = stamp.find('.');
  const auto colon = stamp.find(':');
  std::int64_t sec = 0, ms = 0;
  std::uint64_t serial = 0;
  if (dot == std::string_view::npos || colon == std::string_view::npos || colon < dot ||
      std::from_chars(stamp.data(), stamp.data() + dot, sec).ec != std::errc() ||
      std::from_chars(stamp.data() + dot + 1, stamp.data() + colon, ms).ec != std::errc() ||
      std::from_chars(stamp.data() + colon + 1, stamp.data() + stamp.size(), serial).ec !=
          std::errc()) {
    return Error(ErrorCode::kInvalidArgument,
                 "audit record with a malformed time stamp: " + std::string(stamp));
  }
  r.time = sec * 1'000'000'000 + ms * 1'000'000;
  r.serial = serial;
  std::string_view rest = text.substr(close + 2);
  while (!rest.empty()) {
    const auto start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const auto eq = rest.find('=');
    const auto sp = rest.find(' ');
    if (eq == std::string_view::npos || (sp != std::string_view::npos && sp < eq)) {
      // A word without "=" (some records carry free text): skip it.
      rest.remove_prefix(sp == std::string_view::npos ? rest.size() : sp);
      continue;
    }
    std::string name(rest.substr(0, eq));
    rest.remove_prefix(eq + 1);
    std::size_t end;
    if (!rest.empty() && rest.front() == '"') {
      const auto q = rest.find('"', 1);
      end = q == std::string_view::npos ? rest.size() : q + 1;
    } else if (!rest.empty() && rest.front() == '\'') {
      // msg='...' of user records: up to the closing quote.
      const auto q = rest.find('\'', 1);
      end = q == std::string_view::npos ? rest.size() : q + 1;
    } else {
      const auto s = rest.find(' ');
      end = s == std::string_view::npos ? rest.size() : s;
    }
    r.fields.emplace_back(std::move(name), std::string(rest.substr(0, end)));
    rest.remove_prefix(end);
  }
  return r;
}

void EventAssembler::Add(AuditRecord record) {
  const std::uint64_t serial = record.serial;
  if (record.type == kRecordEoe) {
    auto it = pending_.find(serial);
    if (it == pending_.end()) return;
    AuditEvent done = std::move(it->second.event);
    pending_.erase(it);
    sink_(std::move(done));
    return;
  }
  if (record.type == kRecordSeccomp && pending_.find(serial) == pending_.end()) {
    // seccomp acts before the syscall's audit entry, so its record has a serial of its own and
    // no EOE: complete it now rather than after the standalone timeout, by which time the run
    // may have ended and the record would belong to no session.
    AuditEvent done;
    done.serial = serial;
    done.time = record.time;
    done.records.push_back(std::move(record));
    sink_(std::move(done));
    return;
  }
  auto [it, inserted] = pending_.try_emplace(serial);
  if (inserted) {
    it->second.event.serial = serial;
    it->second.event.time = record.time;
    it->second.first_seen = std::chrono::steady_clock::now();
  }
  it->second.event.records.push_back(std::move(record));
}

void EventAssembler::Expire() {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (now - it->second.first_seen >= timeout_) {
      AuditEvent done = std::move(it->second.event);
      it = pending_.erase(it);
      sink_(std::move(done));
    } else {
      ++it;
    }
  }
}

void EventAssembler::Flush() {
  while (!pending_.empty()) {
    auto it = pending_.begin();
    AuditEvent done = std::move(it->second.event);
    pending_.erase(it);
    sink_(std::move(done));
  }
}

}  // namespace stockade::audit::linux_os
