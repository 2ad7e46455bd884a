#include "provision/fault.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>

namespace stockade::provision::fault {
namespace {

struct State {
  std::mutex mutex;
  bool loaded = false;
  std::optional<Error> load_error;
  FaultPlan plan;
  int crash_points = 0;
  int applies = 0;
  bool fail_current_after = false;
  int undos = 0;
};

State& Global() {
  static State* state = new State();  // never destroyed: used up to std::_Exit
  return *state;
}

Expected<int> ParsePositive(const char* name, std::string_view text) {
  int value = 0;
  if (text.empty() || text.size() > 9) {
    return Error(ErrorCode::kInvalidArgument,
                 std::string(name) + "='" + std::string(text) + "' is not a positive integer");
  }
  for (char c : text) {
    if (c < '0' || c > '9') {
      return Error(ErrorCode::kInvalidArgument,
                   std::string(name) + "='" + std::string(text) + "' is not a positive integer");
    }
    value = value * 10 + (c - '0');
  }
  if (value == 0) {
    return Error(ErrorCode::kInvalidArgument,
                 std::string(name) + "=0: counting starts at 1 (unset the variable to disable)");
  }
  return value;
}

std::string_view Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string_view() : std::string_view(value);
}

}  // namespace

Expected<FaultPlan> PlanFromEnvironment() {
  FaultPlan plan;
  if (std::string_view v = Env("STOCKADE_CRASH_AT"); !v.empty()) {
    auto n = ParsePositive("STOCKADE_CRASH_AT", v);
    if (!n) return n.error();
    plan.crash_at = *n;
  }
  if (std::string_view v = Env("STOCKADE_FAIL_AT"); !v.empty()) {
    constexpr std::string_view kAfter = ":after";
    if (v.size() > kAfter.size() && v.substr(v.size() - kAfter.size()) == kAfter) {
      plan.fail_after_change = true;
      v.remove_suffix(kAfter.size());
    }
    auto n = ParsePositive("STOCKADE_FAIL_AT", v);
    if (!n) return n.error();
    plan.fail_apply_at = *n;
  }
  if (std::string_view v = Env("STOCKADE_FAIL_UNDO_AT"); !v.empty()) {
    auto n = ParsePositive("STOCKADE_FAIL_UNDO_AT", v);
    if (!n) return n.error();
    plan.fail_undo_at = *n;
  }
  return plan;
}

Status InitFromEnvironment() {
  State& s = Global();
  std::lock_guard lock(s.mutex);
  if (!s.loaded) {
    s.loaded = true;
    auto plan = PlanFromEnvironment();
    if (plan) {
      s.plan = *plan;
    } else {
      s.load_error = plan.error();
    }
  }
  if (s.load_error) return *s.load_error;
  return OkStatus();
}

void Configure(const FaultPlan& plan) {
  State& s = Global();
  std::lock_guard lock(s.mutex);
  s.loaded = true;
  s.load_error.reset();
  s.plan = plan;
  s.crash_points = 0;
  s.applies = 0;
  s.fail_current_after = false;
  s.undos = 0;
}

void CrashPoint(std::string_view label) {
  State& s = Global();
  std::lock_guard lock(s.mutex);
  ++s.crash_points;
  if (s.plan.crash_at != s.crash_points) return;
  std::string line = "stockade: fault injection: crash at point " + std::to_string(s.crash_points) +
                     " (" + std::string(label) + ")\n";
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  // No destructors, no atexit handlers, no SQLite close: as close to a power cut or kill -9 as a
  // process can do to itself while staying portable.
  std::_Exit(kCrashExitCode);
}

Status BeforeApply(std::string_view what) {
  State& s = Global();
  std::lock_guard lock(s.mutex);
  ++s.applies;
  s.fail_current_after = false;
  if (s.plan.fail_apply_at != s.applies) return OkStatus();
  if (s.plan.fail_after_change) {
    s.fail_current_after = true;
    return OkStatus();
  }
  return Error(ErrorCode::kOs, "fault injection (STOCKADE_FAIL_AT=" + std::to_string(s.applies) +
                                   "): " + std::string(what) + " failed before changing anything");
}

Status AfterApply(std::string_view what) {
  State& s = Global();
  std::lock_guard lock(s.mutex);
  if (!s.fail_current_after) return OkStatus();
  s.fail_current_after = false;
  return Error(ErrorCode::kOs, "fault injection (STOCKADE_FAIL_AT=" + std::to_string(s.applies) +
                                   ":after): " + std::string(what) +
                                   " failed after making its change");
}

Status BeforeUndo(std::string_view what) {
  State& s = Global();
  std::lock_guard lock(s.mutex);
  ++s.undos;
  if (s.plan.fail_undo_at != s.undos) return OkStatus();
  return Error(ErrorCode::kOs, "fault injection (STOCKADE_FAIL_UNDO_AT=" + std::to_string(s.undos) +
                                   "): undo of " + std::string(what) + " failed");
}

int CrashPointsPassed() {
  State& s = Global();
  std::lock_guard lock(s.mutex);
  return s.crash_points;
}

}  // namespace stockade::provision::fault
