// Verification of the audit trail: the hash chain of every segment (sealed archives, then the
// active store), the seals that link the segments, and the indexed columns derived from the
// chained bytes. Stops at the first break and says which event and what is wrong. See
// docs/audit-events.md ("Verification") for what can and cannot be detected.
#ifndef STOCKADE_AUDIT_VERIFY_H_
#define STOCKADE_AUDIT_VERIFY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace stockade::audit {

enum class BreakKind {
  kModified,        // an event's bytes, hash or indexed columns changed after recording
  kDeleted,         // one or more events are missing
  kInserted,        // an event that was not recorded by the store is present
  kReordered,       // an event is stored at another event's position
  kSealMismatch,    // a seal was altered, or segments do not chain
  kArchiveMissing,  // a sealed archive not removed by retention is gone
};

// "modified", "deleted", "inserted", "reordered", "seal_mismatch", "archive_missing".
std::string_view BreakKindName(BreakKind kind);

struct ChainBreak {
  std::int64_t seq = 0;  // the first broken event (for kDeleted: the first missing one)
  BreakKind kind = BreakKind::kModified;
  std::string file;    // the store or archive file where it was found
  std::string detail;  // one sentence for humans
};

struct VerifyResult {
  std::int64_t events_verified = 0;  // events whose chain link was checked and held
  std::int64_t segments_verified = 0;
  std::int64_t segments_expired = 0;      // removed by retention (only their seals remain)
  std::int64_t first_seq = 0;             // first event still present (0 when none)
  std::int64_t head_seq = 0;              // last event of the chain
  std::string head_hash;                  // hex hash of the last event
  std::optional<ChainBreak> first_break;  // empty when the whole trail verified
  std::vector<std::string> notes;         // facts that are not breaks (expired segments, ...)

  bool ok() const { return !first_break.has_value(); }
};

// Verifies the store at `store_path` and the archives next to it. A broken trail is a
// successful call whose result holds first_break. Errors: only when the trail cannot be read
// at all (kNotFound, kPermissionDenied, kStateTooNew, kDatabase).
Expected<VerifyResult> VerifyStore(const std::string& store_path);

}  // namespace stockade::audit

#endif  // STOCKADE_AUDIT_VERIFY_H_
