#include "audit/verify.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <span>
#include <system_error>
#include <utility>

#include "audit/canonical.h"
#include "audit/schema.h"
#include "audit/store.h"
#include "core/crypto/sha256.h"
#include "core/sqlite/database.h"

namespace stockade::audit {

namespace fs = std::filesystem;

namespace {

fs::path U8Path(const std::string& utf8) {
  return fs::path(std::u8string(utf8.begin(), utf8.end()));
}

std::string PathU8(const fs::path& p) {
  const std::u8string s = p.u8string();
  return std::string(s.begin(), s.end());
}

std::string Num(std::int64_t n) { return "#" + std::to_string(n); }

std::string_view AsView(std::span<const std::uint8_t> b) {
  return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}

std::optional<crypto::Sha256Digest> DigestFromView(std::span<const std::uint8_t> b) {
  if (b.size() != crypto::kSha256Size) return std::nullopt;
  crypto::Sha256Digest out{};
  std::copy(b.begin(), b.end(), out.begin());
  return out;
}

// What a segment must hold: its first seq, the hash its first event chains from, and (when
// known from a seal or the store's recorded head) its last seq and hash.
struct SegmentExpectation {
  std::int64_t first_seq = 1;
  crypto::Sha256Digest prev_hash{};
  std::int64_t last_seq = 0;
  crypto::Sha256Digest last_hash{};
  std::string head_source;  // "the seal of segment N" / "the store's recorded head"
};

struct SessionRow {
  std::string identity, workspace, invoking_user;
  std::optional<std::int64_t> start_time, start_seq, end_time, end_seq;
  bool carried = false;  // the row came from an earlier segment (session still running)
};

class SegmentVerifier {
 public:
  SegmentVerifier(sqlite::Database& db, std::string file, VerifyResult& result)
      : db_(db), file_(std::move(file)), result_(result) {}

  // Returns the first break of this segment, or nullopt; errors only for unreadable data.
  Expected<std::optional<ChainBreak>> Run(const SegmentExpectation& expect) {
    auto stmt = db_.Prepare(
        "SELECT seq, time, kind, session_id, image, data, prev_hash, hash FROM events "
        "ORDER BY seq");
    if (!stmt.ok()) return stmt.error();
    std::int64_t expected = expect.first_seq;
    crypto::Sha256Digest prev = expect.prev_hash;
    // Rows carried over from an earlier segment (their start was sealed there): the store
    // keeps their start fields, so a start event seen again here does not replace them.
    std::map<std::string, SessionRow> sessions;
    {
      auto carried = db_.Prepare(
          "SELECT session_id FROM sessions WHERE start_seq IS NOT NULL AND start_seq < ?1");
      if (!carried.ok()) return carried.error();
      STOCKADE_RETURN_IF_ERROR(carried->Bind(1, expect.first_seq));
      while (true) {
        auto row = carried->Step();
        if (!row.ok()) return row.error();
        if (!*row) break;
        sessions[carried->Text(0)].carried = true;
      }
    }
    // One pass over the rows with views into SQLite's row buffer (nothing copied but the two
    // digests), one chain hash per event when the row is intact.
    while (true) {
      auto row = stmt->Step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      const std::int64_t seq = stmt->Int(0);
      const std::string_view data = AsView(stmt->BlobView(5));
      const auto prev_col = DigestFromView(stmt->BlobView(6));
      const auto hash_col = DigestFromView(stmt->BlobView(7));
      if (seq < expected) {
        // Only possible before the segment's first event: rows that belong to no segment.
        return Break(seq, BreakKind::kInserted,
                     "event " + Num(seq) + " is before the first event of this segment (" +
                         Num(expect.first_seq) + ")");
      }
      if (seq > expected) {
        return Break(expected, BreakKind::kDeleted,
                     seq - expected == 1
                         ? "event " + Num(expected) + " is missing (the chain jumps from " +
                               Num(expected - 1) + " to " + Num(seq) + ")"
                         : "events " + Num(expected) + " to " + Num(seq - 1) +
                               " are missing (the chain jumps from " + Num(expected - 1) + " to " +
                               Num(seq) + ")");
      }
      auto event = DecodeCanonical(data);
      if (!event.ok()) {
        return Break(seq, BreakKind::kModified,
                     "the stored bytes of event " + Num(seq) +
                         " are not a valid event: " + event.error().context());
      }
      if (!prev_col || !hash_col) {
        return Break(seq, BreakKind::kModified,
                     "the stored hashes of event " + Num(seq) + " are not 32 bytes");
      }
      auto computed = hasher_.Hash(prev, data);
      if (!computed.ok()) return computed.error();
      // Is the row internally consistent (its bytes hash, from the predecessor hash it names,
      // to its stored hash)? A row that moved intact (reordered, or renumbered around a
      // deletion or an insertion) is; a row whose bytes changed is not. When it names the
      // expected predecessor (every intact row) that is the hash just computed.
      Expected<crypto::Sha256Digest> own = computed;
      if (*prev_col != prev) {
        own = hasher_.Hash(*prev_col, data);
        if (!own.ok()) return own.error();
      }
      if (*own != *hash_col) {
        if (*computed == *hash_col) {
          return Break(seq, BreakKind::kModified,
                       "the prev_hash column of event " + Num(seq) + " was changed");
        }
        return Break(seq, BreakKind::kModified,
                     "event " + Num(seq) + " was modified: its stored bytes do not match its hash");
      }
      if (event->seq != seq) {
        if (event->seq > seq) {
          // Either this position's event moved later (reordered), or it is gone and the
          // later events were renumbered to close the gap (deleted).
          auto found = FindEmbedded(*stmt, seq);
          if (!found.ok()) return found.error();
          if (*found) {
            return Break(seq, BreakKind::kReordered,
                         "position " + Num(seq) + " holds event " + Num(event->seq) +
                             ", and event " + Num(seq) + " is stored at position " + Num(**found));
          }
          return Break(seq, BreakKind::kDeleted,
                       "event " + Num(seq) + " is missing: position " + Num(seq) + " holds event " +
                           Num(event->seq) + " (later events were renumbered to hide the gap)");
        }
        if (seq - 1 >= expect.first_seq) {
          return Break(seq - 1, BreakKind::kInserted,
                       "event " + Num(seq - 1) +
                           " was not recorded by the store: the event "
                           "recorded as " +
                           Num(event->seq) + " is now at position " + Num(seq));
        }
        return Break(seq, BreakKind::kModified,
                     "position " + Num(seq) + " holds an event numbered " + Num(event->seq));
      }
      if (*prev_col != prev) {
        // This event is intact but was chained to a different hash of its predecessor: the
        // predecessor was rewritten together with its hash.
        if (seq - 1 >= expect.first_seq) {
          return Break(seq - 1, BreakKind::kModified,
                       "event " + Num(seq - 1) + " was modified and re-hashed: event " + Num(seq) +
                           " was chained to a different hash of it");
        }
        return Break(seq, BreakKind::kSealMismatch,
                     "event " + Num(seq) +
                         " does not chain from the last hash of the "
                         "previous segment");
      }
      // The chained bytes hold; now the indexed columns derived from them.
      const auto* process = std::get_if<ProcessEvent>(&event->body);
      std::string column;
      if (stmt->Int(1) != event->time)
        column = "time";
      else if (stmt->Int(2) != static_cast<int>(event->kind()))
        column = "kind";
      else if (stmt->IsNull(3) || stmt->TextView(3) != event->session_id)
        column = "session_id";
      else if (process != nullptr ? (stmt->IsNull(4) || stmt->TextView(4) != process->image)
                                  : !stmt->IsNull(4)) {
        column = "image";
      }
      if (!column.empty()) {
        return Break(
            seq, BreakKind::kModified,
            "the " + column + " column of event " + Num(seq) + " differs from the chained event");
      }
      if (const auto* s = std::get_if<SessionEvent>(&event->body)) {
        auto [it, inserted] = sessions.try_emplace(event->session_id);
        SessionRow& r = it->second;
        if (inserted) {
          r.identity = s->identity;
          r.workspace = s->workspace;
          r.invoking_user = s->invoking_user;
        }
        if (s->phase == SessionPhase::kStart) {
          if (inserted) {
            r.start_time = s->start_time;
            r.start_seq = seq;
          }
        } else {
          r.end_time = s->end_time;
          r.end_seq = seq;
        }
      }
      prev = *hash_col;
      ++result_.events_verified;
      if (result_.first_seq == 0) result_.first_seq = seq;
      ++expected;
    }
    const std::int64_t last = expected - 1;
    if (last < expect.last_seq) {
      return Break(last + 1, BreakKind::kDeleted,
                   "events " + Num(last + 1) + " to " + Num(expect.last_seq) +
                       " are missing from the end (" + expect.head_source + " names " +
                       Num(expect.last_seq) + ")");
    }
    if (last > expect.last_seq) {
      return Break(expect.last_seq + 1, BreakKind::kInserted,
                   "events " + Num(expect.last_seq + 1) + " to " + Num(last) +
                       " follow the last event named by " + expect.head_source);
    }
    if (last >= expect.first_seq && prev != expect.last_hash) {
      return Break(last, BreakKind::kModified,
                   "event " + Num(last) + " was modified and re-hashed: its hash differs from " +
                       expect.head_source);
    }
    if (last < expect.first_seq && expect.prev_hash != expect.last_hash) {
      return Break(expect.first_seq, BreakKind::kSealMismatch,
                   "an empty segment whose recorded head differs from its start");
    }
    result_.head_seq = last;
    result_.head_hash = crypto::HexEncode(prev);
    return CheckSessions(sessions, expect.first_seq, last);
  }

 private:
  std::optional<ChainBreak> Break(std::int64_t seq, BreakKind kind, std::string detail) {
    return ChainBreak{seq, kind, file_, std::move(detail)};
  }

  // Scans the remaining rows of `stmt` for the one whose embedded seq is `wanted`.
  Expected<std::optional<std::int64_t>> FindEmbedded(sqlite::Statement& stmt, std::int64_t wanted) {
    while (true) {
      auto row = stmt.Step();
      if (!row.ok()) return row.error();
      if (!*row) return std::optional<std::int64_t>();
      if (CanonicalSeq(AsView(stmt.BlobView(5))) == wanted) {
        return std::optional<std::int64_t>(stmt.Int(0));
      }
    }
  }

  // The sessions table is derived from the session events; a changed row would make queries
  // by identity or workspace show or hide the wrong events.
  Expected<std::optional<ChainBreak>> CheckSessions(
      const std::map<std::string, SessionRow>& expected, std::int64_t first, std::int64_t last) {
    auto stmt = db_.Prepare(
        "SELECT session_id, identity, workspace, invoking_user, start_time, start_seq, "
        "end_time, end_seq FROM sessions");
    if (!stmt.ok()) return stmt.error();
    std::map<std::string, SessionRow> actual;
    auto opt = [&](int col) -> std::optional<std::int64_t> {
      if (stmt->IsNull(col)) return std::nullopt;
      return stmt->Int(col);
    };
    while (true) {
      auto row = stmt->Step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      actual[stmt->Text(0)] =
          SessionRow{stmt->Text(1), stmt->Text(2), stmt->Text(3), opt(4), opt(5), opt(6), opt(7)};
    }
    auto in_segment = [&](const std::optional<std::int64_t>& s) {
      return s && *s >= first && *s <= last;
    };
    for (const auto& [id, want] : expected) {
      if (want.carried && !want.end_seq) continue;  // nothing about it happened here
      const std::int64_t at = want.start_seq ? *want.start_seq : *want.end_seq;
      auto it = actual.find(id);
      if (it == actual.end()) {
        return Break(at, BreakKind::kModified,
                     "the sessions index lacks session " + id + " of event " + Num(at));
      }
      const SessionRow& got = it->second;
      bool same = got.end_time == want.end_time && got.end_seq == want.end_seq;
      if (want.start_seq) {
        same = same && got.identity == want.identity && got.workspace == want.workspace &&
               got.invoking_user == want.invoking_user && got.start_time == want.start_time &&
               got.start_seq == want.start_seq;
      }
      if (!same) {
        return Break(
            at, BreakKind::kModified,
            "the sessions index row of session " + id + " differs from its chained session events");
      }
    }
    for (const auto& [id, got] : actual) {
      if (expected.count(id) != 0) continue;
      if (in_segment(got.start_seq) || in_segment(got.end_seq)) {
        const std::int64_t at = in_segment(got.start_seq) ? *got.start_seq : *got.end_seq;
        return Break(at, BreakKind::kInserted,
                     "the sessions index holds session " + id +
                         " that no chained event of this segment recorded");
      }
    }
    return std::optional<ChainBreak>();
  }

  sqlite::Database& db_;
  std::string file_;
  VerifyResult& result_;
  ChainHasher hasher_;
};

bool SameSeal(const schema::Seal& a, const schema::Seal& b) {
  return schema::EncodeSeal(a) == schema::EncodeSeal(b) && a.info.seal_hash == b.info.seal_hash;
}

}  // namespace

std::string_view BreakKindName(BreakKind kind) {
  switch (kind) {
    case BreakKind::kModified:
      return "modified";
    case BreakKind::kDeleted:
      return "deleted";
    case BreakKind::kInserted:
      return "inserted";
    case BreakKind::kReordered:
      return "reordered";
    case BreakKind::kSealMismatch:
      return "seal_mismatch";
    case BreakKind::kArchiveMissing:
      return "archive_missing";
  }
  return "unknown";
}

Expected<VerifyResult> VerifyStore(const std::string& store_path) {
  auto db = schema::OpenReadOnly(store_path);
  if (!db.ok()) return db.error();
  VerifyResult result;
  const std::string archive_dir = ArchiveDirFor(store_path);
  auto seals = schema::ReadSeals(*db);
  if (!seals.ok()) return seals.error();

  std::int64_t next_first = 1;
  crypto::Sha256Digest prev_hash = kGenesisHash;
  std::string prev_seal_hash = crypto::HexEncode(kGenesisHash);
  auto seal_break = [&](std::int64_t seq, BreakKind kind, const std::string& file,
                        std::string detail) {
    result.first_break = ChainBreak{seq, kind, file, std::move(detail)};
    return result;
  };
  for (const schema::Seal& seal : *seals) {
    const SealInfo& i = seal.info;
    const std::string seg = "segment " + std::to_string(i.segment);
    if (schema::SealHashHex(seal) != i.seal_hash) {
      return seal_break(i.first_seq, BreakKind::kSealMismatch, store_path,
                        "the seal of " + seg + " was altered (its hash does not match)");
    }
    if (seal.prev_seal_hash != prev_seal_hash) {
      return seal_break(i.first_seq, BreakKind::kSealMismatch, store_path,
                        "the seal of " + seg +
                            " does not follow the previous seal (a seal "
                            "was removed or replaced)");
    }
    if (i.first_seq != next_first) {
      return seal_break(next_first,
                        i.first_seq > next_first ? BreakKind::kDeleted : BreakKind::kInserted,
                        store_path,
                        seg + " starts at " + Num(i.first_seq) +
                            " but the previous segment "
                            "ends at " +
                            Num(next_first - 1));
    }
    if (i.prev_hash != crypto::HexEncode(prev_hash)) {
      return seal_break(i.first_seq, BreakKind::kSealMismatch, store_path,
                        seg + " does not chain from the last hash of the previous segment");
    }
    auto last_hash = schema::DigestFromHex(i.last_hash);
    if (!last_hash || i.event_count != i.last_seq - i.first_seq + 1) {
      return seal_break(i.first_seq, BreakKind::kSealMismatch, store_path,
                        "the seal of " + seg + " is malformed");
    }
    const std::string file = PathU8(U8Path(archive_dir) / i.archive_file);
    std::error_code ec;
    const bool present = fs::exists(U8Path(file), ec);
    if (seal.removed_at) {
      ++result.segments_expired;
      result.notes.push_back(seg + " (events " + Num(i.first_seq) + " to " + Num(i.last_seq) +
                             ") was removed by retention on " + FormatTime(*seal.removed_at) +
                             "; its seal keeps the chain: last hash " + i.last_hash);
    } else if (!present) {
      return seal_break(i.first_seq, BreakKind::kArchiveMissing, file,
                        "the archive of " + seg + " (events " + Num(i.first_seq) + " to " +
                            Num(i.last_seq) + ") is missing and was not removed by retention");
    } else {
      auto adb = schema::OpenReadOnly(file);
      if (!adb.ok()) return adb.error();
      auto own = schema::ReadSeals(*adb);
      if (!own.ok()) return own.error();
      const schema::Seal* mine = nullptr;
      for (const auto& s : *own) {
        if (s.info.segment == i.segment) mine = &s;
      }
      if (mine == nullptr || !SameSeal(*mine, seal)) {
        return seal_break(i.first_seq, BreakKind::kSealMismatch, file,
                          "the seal inside the archive of " + seg +
                              " differs from the store's copy (archive replaced or altered)");
      }
      SegmentExpectation expect;
      expect.first_seq = i.first_seq;
      expect.prev_hash = prev_hash;
      expect.last_seq = i.last_seq;
      expect.last_hash = *last_hash;
      expect.head_source = "the seal of " + seg;
      SegmentVerifier verifier(*adb, file, result);
      auto brk = verifier.Run(expect);
      if (!brk.ok()) return brk.error();
      if (*brk) {
        result.first_break = **brk;
        return result;
      }
      ++result.segments_verified;
    }
    next_first = i.last_seq + 1;
    prev_hash = *last_hash;
    prev_seal_hash = i.seal_hash;
    result.head_seq = i.last_seq;
    result.head_hash = i.last_hash;
  }

  // The active segment.
  auto segment = schema::GetMetaInt(*db, schema::kMetaSegment, 1);
  auto first = schema::GetMetaInt(*db, schema::kMetaSegmentFirstSeq, 1);
  auto start = schema::GetMetaDigest(*db, schema::kMetaSegmentPrevHash, kGenesisHash);
  auto head_seq = schema::GetMetaInt(*db, schema::kMetaHeadSeq, 0);
  auto head_hash = schema::GetMetaDigest(*db, schema::kMetaHeadHash, kGenesisHash);
  for (const auto* e : {&segment, &first, &head_seq}) {
    if (!e->ok()) return e->error();
  }
  if (!start.ok()) return start.error();
  if (!head_hash.ok()) return head_hash.error();
  const std::int64_t expected_segment = seals->empty() ? 1 : seals->back().info.segment + 1;
  if (*segment != expected_segment || *first != next_first || *start != prev_hash) {
    return seal_break(next_first, BreakKind::kSealMismatch, store_path,
                      "the active segment does not continue the last sealed segment "
                      "(segment " +
                          std::to_string(*segment) + " starting at " + Num(*first) +
                          "; expected segment " + std::to_string(expected_segment) +
                          " starting at " + Num(next_first) + ")");
  }
  SegmentExpectation expect;
  expect.first_seq = next_first;
  expect.prev_hash = prev_hash;
  expect.last_seq = *head_seq;
  expect.last_hash = *head_hash;
  expect.head_source = "the store's recorded head";
  SegmentVerifier verifier(*db, store_path, result);
  auto brk = verifier.Run(expect);
  if (!brk.ok()) return brk.error();
  if (*brk) {
    result.first_break = **brk;
    return result;
  }
  ++result.segments_verified;
  return result;
}

}  // namespace stockade::audit
