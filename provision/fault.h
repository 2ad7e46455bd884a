// Fault injection for the provisioner's crash and failure tests (docs/journal.md):
//
//   STOCKADE_CRASH_AT=N       the process dies abruptly (std::_Exit, no destructors, no journal
//                             close, no lock release other than the OS's) at the N-th crash
//                             point it reaches. Crash points are every boundary between a
//                             durable journal write and an OS change (see CrashPoint callers).
//   STOCKADE_FAIL_AT=N        the N-th step Apply of this process fails with an error instead
//                             of changing anything; "N:after" makes the change first and then
//                             fails (a half-applied step, which rollback must undo too).
//   STOCKADE_FAIL_UNDO_AT=N   the N-th step Undo of this process fails (a rollback that cannot
//                             complete), for testing failed transactions and retries.
//
// Counters are per process and start at 1. Unset or empty variables inject nothing. The
// switches exist in release builds on purpose: fleet operators can reproduce a crash exactly.
#ifndef STOCKADE_PROVISION_FAULT_H_
#define STOCKADE_PROVISION_FAULT_H_

#include <string_view>

#include "core/error.h"

namespace stockade::provision::fault {

// The exit status of an injected crash (and the line it prints to stderr first:
// "stockade: fault injection: crash at point N (<label>)").
inline constexpr int kCrashExitCode = 86;

struct FaultPlan {
  int crash_at = 0;       // 0: never
  int fail_apply_at = 0;  // 0: never
  bool fail_after_change = false;
  int fail_undo_at = 0;  // 0: never
};

// Parses the three environment variables. kInvalidArgument naming the variable and its value
// when one is not a positive integer (or "N:after" for STOCKADE_FAIL_AT): a typo in a test must
// not silently turn into a run without faults.
Expected<FaultPlan> PlanFromEnvironment();

// Loads the plan from the environment on first call in this process and keeps it; later calls
// return the first call's result. Configure() before it takes precedence.
Status InitFromEnvironment();

// Replaces the plan and resets every counter (tests inside one process).
void Configure(const FaultPlan& plan);

// Counts one crash point; at the N-th, prints the crash line and calls std::_Exit. `label` says
// where ("after step 2 intended"), for the line and for tests that map points to protocol stages.
void CrashPoint(std::string_view label);

// Counts one step Apply; at the planned one returns the injected error (kOs, context naming the
// variable, the count and `what`), otherwise OK.
Status BeforeApply(std::string_view what);
// Called after the Apply that BeforeApply just counted made its change: returns the injected
// error when that Apply was planned to fail "after" (STOCKADE_FAIL_AT=N:after), otherwise OK.
Status AfterApply(std::string_view what);
// Counts one step Undo; at the planned one returns the injected error.
Status BeforeUndo(std::string_view what);

// Crash points passed so far in this process (for reports).
int CrashPointsPassed();

}  // namespace stockade::provision::fault

#endif  // STOCKADE_PROVISION_FAULT_H_
