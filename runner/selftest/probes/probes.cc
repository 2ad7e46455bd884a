#include "runner/selftest/probes/probes.h"

#include <charconv>

namespace stockade::runner::selftest {

Expected<ProbeArgs> ProbeArgs::Parse(const std::vector<std::string>& words) {
  ProbeArgs args;
  for (const std::string& word : words) {
    const std::size_t eq = word.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Error(ErrorCode::kInvalidArgument,
                   "probe argument '" + word + "': expected key=value");
    }
    std::string key = word.substr(0, eq);
    if (!args.values_.emplace(key, word.substr(eq + 1)).second) {
      return Error(ErrorCode::kInvalidArgument, "probe argument '" + key + "' given twice");
    }
  }
  return args;
}

bool ProbeArgs::Has(std::string_view key) const { return values_.find(key) != values_.end(); }

std::string ProbeArgs::Get(std::string_view key) const {
  auto it = values_.find(key);
  return it == values_.end() ? std::string() : it->second;
}

long long ProbeArgs::GetInt(std::string_view key, long long fallback) const {
  const std::string text = Get(key);
  long long value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return fallback;
  return value;
}

ProbeReport Blocked(std::string_view probe, std::string evidence) {
  return {std::string(probe), ProbeOutcome::kBlocked, std::move(evidence)};
}
ProbeReport Escaped(std::string_view probe, std::string evidence) {
  return {std::string(probe), ProbeOutcome::kEscaped, std::move(evidence)};
}
ProbeReport Allowed(std::string_view probe, std::string evidence) {
  return {std::string(probe), ProbeOutcome::kAllowed, std::move(evidence)};
}
ProbeReport Failed(std::string_view probe, std::string evidence) {
  return {std::string(probe), ProbeOutcome::kFailed, std::move(evidence)};
}

}  // namespace stockade::runner::selftest
