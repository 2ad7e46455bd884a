#include "audit/windows_denial_attribution.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <string_view>
#include <utility>
#include <variant>

namespace stockade::audit {

namespace {

bool SameSid(std::string_view a, std::string_view b) {
  // SIDs are "S-1-..." with digits: only the leading letter can differ in case.
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

constexpr TimeNs kMinTime = std::numeric_limits<TimeNs>::min();
constexpr TimeNs kMaxTime = std::numeric_limits<TimeNs>::max();

// The lifetime of `p` widened by `slack`, unknown bounds open.
TimeNs Lower(const SessionProcess& p, TimeNs slack) {
  return p.start == 0 ? kMinTime : p.start - slack;
}
TimeNs Upper(const SessionProcess& p, TimeNs slack) {
  return p.end == 0 ? kMaxTime : p.end + slack;
}

// How far `time` lies outside the exact lifetime of `p` (0 inside).
TimeNs Distance(const SessionProcess& p, TimeNs time) {
  if (p.start != 0 && time < p.start) return p.start - time;
  if (p.end != 0 && time > p.end) return time - p.end;
  return 0;
}

}  // namespace

void SessionProcessIndex::Add(const Event& event) {
  const auto* process = std::get_if<ProcessEvent>(&event.body);
  if (process == nullptr || process->process_guid.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  SessionProcess& entry = by_guid_[process->process_guid];
  entry.guid = process->process_guid;
  if (process->pid != 0) entry.pid = process->pid;
  if (process->start_time != 0) entry.start = process->start_time;
  if (process->phase == ProcessPhase::kExit && process->end_time != 0) {
    entry.end = process->end_time;
  }
}

std::vector<SessionProcess> SessionProcessIndex::Processes() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SessionProcess> out;
  out.reserve(by_guid_.size());
  for (const auto& [guid, process] : by_guid_) out.push_back(process);
  return out;
}

DenialAttribution AttributeSessionDenials(const std::vector<WindowsDenialFact>& facts,
                                          const std::vector<SessionProcess>& processes,
                                          const DenialScope& scope) {
  std::multimap<std::int64_t, const SessionProcess*> by_pid;
  for (const SessionProcess& p : processes) by_pid.emplace(p.pid, &p);

  DenialAttribution out;
  for (const WindowsDenialFact& fact : facts) {
    const TimeNs time = fact.time;
    if (time == 0) {
      ++out.undated;
      continue;
    }
    if (time < scope.start || (scope.end != 0 && time > scope.end)) {
      ++out.outside_window;
      continue;
    }
    if (fact.denial.source == DenialSource::kWin4656) {
      const bool ours = std::any_of(scope.sids.begin(), scope.sids.end(), [&](const auto& sid) {
        return SameSid(sid, fact.subject_sid);
      });
      if (!ours) {
        ++out.other_subject;
        continue;
      }
    }
    const auto [first, last] = by_pid.equal_range(fact.denial.pid);
    const SessionProcess* exact = nullptr;
    const SessionProcess* near = nullptr;
    TimeNs near_distance = kMaxTime;
    for (auto it = first; it != last; ++it) {
      const SessionProcess* p = it->second;
      if (Lower(*p, 0) <= time && time <= Upper(*p, 0)) {
        // Of several (unknown bounds, a pid reused), the one started last before the event.
        if (exact == nullptr || Lower(*p, 0) > Lower(*exact, 0)) exact = p;
      } else if (Lower(*p, scope.slack) <= time && time <= Upper(*p, scope.slack)) {
        const TimeNs distance = Distance(*p, time);
        if (distance < near_distance) {
          near = p;
          near_distance = distance;
        }
      }
    }
    const SessionProcess* owner = exact != nullptr ? exact : near;
    if (owner == nullptr) {
      ++out.other_process;
      continue;
    }
    if (exact == nullptr) ++out.within_slack;
    Event event;
    event.time = time;
    event.session_id = scope.session_id;
    DenialEvent denial = fact.denial;
    denial.process_guid = owner->guid;
    event.body = std::move(denial);
    out.events.push_back(std::move(event));
  }
  return out;
}

}  // namespace stockade::audit
