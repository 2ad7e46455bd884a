// `stockade-provision uninstall`: rolls back every journaled transaction newest first (each undo
// verified by the executor), checks that the journal owns nothing any more, scans for residue
// and writes a rollback receipt. When something cannot be undone it stops, says exactly what
// remains and keeps the journal, so that running it again retries from there.
#ifndef STOCKADE_UNINSTALL_UNINSTALL_H_
#define STOCKADE_UNINSTALL_UNINSTALL_H_

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "provision/executor.h"
#include "uninstall/residue.h"

namespace stockade::uninstall {

struct UninstallOptions {
  std::string prefix;  // the policy's identity prefix (residue of that prefix is looked for)
  // Called with one line per undone transaction, for progress on stderr. May be empty.
  std::function<void(const std::string&)> progress;
};

struct RemainingStep {
  std::int64_t txn_id = 0;
  int seq = 0;
  std::string kind, target, state;
};

struct UninstallReport {
  bool complete = false;                          // everything undone and no residue
  std::vector<provision::RollbackResult> undone;  // newest transaction first
  std::vector<RemainingStep> remaining;           // steps the journal still owns
  std::vector<ResidueItem> residue;               // what the scan found
  std::string error;                              // why it stopped (empty when complete)
  std::string receipt_path;                       // where the receipt was written

  nlohmann::json ToJson() const;
};

// Runs the uninstall with `executor` (open, recovery done). Always returns a report when the
// journal can be read, complete or not; errors only for journal reads and an unwritable
// receipt. The receipt is "<state_dir>/uninstall-receipt.json" (ToJson(), replaced each run).
Expected<UninstallReport> Uninstall(provision::Executor& executor, const UninstallOptions& options);

// The residue scope of what the journal records (live, unresolved and undone steps alike:
// everything Stockade ever created may have left something).
Expected<ResidueScope> ScopeFromJournal(provision::Journal& journal, const std::string& prefix,
                                        const std::string& state_dir);

}  // namespace stockade::uninstall

#endif  // STOCKADE_UNINSTALL_UNINSTALL_H_
