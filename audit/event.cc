#include "audit/event.h"

#include <array>
#include <chrono>
#include <cstdio>
#include <string>
#include <type_traits>
#include <utility>

namespace stockade::audit {

namespace {

template <typename E>
struct NameTable {
  E value;
  std::string_view name;
};

constexpr NameTable<EventKind> kKindNames[] = {{EventKind::kSession, "session"},
                                               {EventKind::kProcess, "process"},
                                               {EventKind::kDenial, "denial"},
                                               {EventKind::kProvisioning, "provisioning"}};
constexpr NameTable<SessionPhase> kSessionPhaseNames[] = {{SessionPhase::kStart, "start"},
                                                          {SessionPhase::kEnd, "end"}};
constexpr NameTable<ProcessPhase> kProcessPhaseNames[] = {{ProcessPhase::kExec, "exec"},
                                                          {ProcessPhase::kExit, "exit"}};
constexpr NameTable<DenialCategory> kCategoryNames[] = {{DenialCategory::kFileWrite, "file_write"},
                                                        {DenialCategory::kFileRead, "file_read"},
                                                        {DenialCategory::kNetwork, "network"},
                                                        {DenialCategory::kOther, "other"}};
constexpr NameTable<DenialSource> kSourceNames[] = {
    {DenialSource::kLandlock, "landlock"},          {DenialSource::kNflog, "nflog"},
    {DenialSource::kAuditSyscall, "audit_syscall"}, {DenialSource::kWin4656, "win_4656"},
    {DenialSource::kWin5157, "win_5157"},           {DenialSource::kOther, "other"}};

template <typename E, std::size_t N>
std::string_view NameOf(const NameTable<E> (&table)[N], E value) {
  for (const auto& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return "invalid";
}

template <typename E, std::size_t N>
Expected<E> Parse(const NameTable<E> (&table)[N], std::string_view name, std::string_view what) {
  std::string expected;
  for (const auto& entry : table) {
    if (entry.name == name) return entry.value;
    if (!expected.empty()) expected += ", ";
    expected += entry.name;
  }
  return Error(ErrorCode::kInvalidArgument, "unknown " + std::string(what) + " \"" +
                                                std::string(name) +
                                                "\" (expected one of: " + expected + ")");
}

// Howard Hinnant's civil-calendar algorithms: exact for the proleptic Gregorian calendar, no
// dependence on the C library's time zone handling (gmtime/timegm differ between glibc and
// mingw's msvcrt).
constexpr std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

constexpr Civil CivilFromDays(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2 ? 1 : 0), m, d};
}

constexpr std::int64_t kNsPerSecond = 1'000'000'000;
constexpr std::int64_t kSecondsPerDay = 86'400;

// Reads exactly `count` digits at `pos`; advances pos. Returns -1 when they are not digits.
std::int64_t Digits(std::string_view text, std::size_t& pos, std::size_t count) {
  if (pos + count > text.size()) return -1;
  std::int64_t value = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') return -1;
    value = value * 10 + (c - '0');
  }
  pos += count;
  return value;
}

}  // namespace

EventKind Event::kind() const {
  return std::visit(
      [](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, SessionEvent>) return EventKind::kSession;
        if constexpr (std::is_same_v<T, ProcessEvent>) return EventKind::kProcess;
        if constexpr (std::is_same_v<T, DenialEvent>) return EventKind::kDenial;
        if constexpr (std::is_same_v<T, ProvisioningEvent>) return EventKind::kProvisioning;
      },
      body);
}

std::string_view EventKindName(EventKind kind) { return NameOf(kKindNames, kind); }
std::string_view SessionPhaseName(SessionPhase phase) { return NameOf(kSessionPhaseNames, phase); }
std::string_view ProcessPhaseName(ProcessPhase phase) { return NameOf(kProcessPhaseNames, phase); }
std::string_view DenialCategoryName(DenialCategory c) { return NameOf(kCategoryNames, c); }
std::string_view DenialSourceName(DenialSource source) { return NameOf(kSourceNames, source); }

Expected<EventKind> ParseEventKind(std::string_view name) {
  return Parse(kKindNames, name, "event kind");
}
Expected<SessionPhase> ParseSessionPhase(std::string_view name) {
  return Parse(kSessionPhaseNames, name, "session phase");
}
Expected<ProcessPhase> ParseProcessPhase(std::string_view name) {
  return Parse(kProcessPhaseNames, name, "process phase");
}
Expected<DenialCategory> ParseDenialCategory(std::string_view name) {
  return Parse(kCategoryNames, name, "denial category");
}
Expected<DenialSource> ParseDenialSource(std::string_view name) {
  return Parse(kSourceNames, name, "denial source");
}

TimeNs NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string FormatTime(TimeNs time) {
  std::int64_t seconds = time / kNsPerSecond;
  std::int64_t nanos = time % kNsPerSecond;
  if (nanos < 0) {
    nanos += kNsPerSecond;
    --seconds;
  }
  std::int64_t days = seconds / kSecondsPerDay;
  std::int64_t rem = seconds % kSecondsPerDay;
  if (rem < 0) {
    rem += kSecondsPerDay;
    --days;
  }
  const Civil c = CivilFromDays(days);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%09lldZ",
                static_cast<long long>(c.year), c.month, c.day, static_cast<long long>(rem / 3600),
                static_cast<long long>(rem / 60 % 60), static_cast<long long>(rem % 60),
                static_cast<long long>(nanos));
  return buf;
}

Expected<TimeNs> ParseTime(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Error(ErrorCode::kInvalidArgument,
                 "time \"" + std::string(text) + "\" is not RFC 3339 UTC (" + std::string(why) +
                     "); expected e.g. 2026-11-22T08:15:38Z or 2026-11-22");
  };
  std::size_t pos = 0;
  const std::int64_t year = Digits(text, pos, 4);
  if (year < 0 || pos >= text.size() || text[pos++] != '-') return bad("year");
  const std::int64_t month = Digits(text, pos, 2);
  if (month < 1 || month > 12 || pos >= text.size() || text[pos++] != '-') return bad("month");
  const std::int64_t day = Digits(text, pos, 2);
  if (day < 1 || day > 31) return bad("day");
  const std::int64_t days =
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  if (CivilFromDays(days).day != static_cast<unsigned>(day)) return bad("no such date");
  if (pos == text.size()) return days * kSecondsPerDay * kNsPerSecond;
  if (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ') return bad("date/time separator");
  ++pos;
  const std::int64_t hour = Digits(text, pos, 2);
  if (hour < 0 || hour > 23 || pos >= text.size() || text[pos++] != ':') return bad("hour");
  const std::int64_t minute = Digits(text, pos, 2);
  if (minute < 0 || minute > 59 || pos >= text.size() || text[pos++] != ':') return bad("minute");
  const std::int64_t second = Digits(text, pos, 2);
  if (second < 0 || second > 60) return bad("second");
  std::int64_t nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::size_t n = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (n < 9) nanos = nanos * 10 + (text[pos] - '0');
      ++n;
      ++pos;
    }
    if (n == 0) return bad("empty fraction");
    for (std::size_t i = n; i < 9; ++i) nanos *= 10;
  }
  std::int64_t offset_seconds = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '+' ? 1 : -1;
    ++pos;
    const std::int64_t oh = Digits(text, pos, 2);
    if (oh < 0 || pos >= text.size() || text[pos++] != ':') return bad("offset");
    const std::int64_t om = Digits(text, pos, 2);
    if (om < 0) return bad("offset");
    offset_seconds = sign * (oh * 3600 + om * 60);
  } else {
    return bad("missing Z or offset");
  }
  if (pos != text.size()) return bad("trailing characters");
  const std::int64_t seconds =
      days * kSecondsPerDay + hour * 3600 + minute * 60 + second - offset_seconds;
  return seconds * kNsPerSecond + nanos;
}

}  // namespace stockade::audit
