#include "runner/service/grants.h"

#include <sqlite3.h>

#include <mutex>
#include <optional>
#include <utility>

#include "core/sqlite/database.h"
#include "provision/journal/journal.h"
#include "provision/step.h"

namespace stockade::runner::service {

namespace {

// Keep one read-only connection to the journal between requests (Linux). On Windows an open
// SQLite file cannot be deleted (no FILE_SHARE_DELETE), and the uninstaller removes the journal
// while the service may still run: there every request opens and closes it, as before.
#ifdef _WIN32
constexpr bool kKeepJournalOpen = false;
#else
constexpr bool kKeepJournalOpen = true;
#endif

Expected<std::vector<Grant>> GrantsIn(provision::Journal& journal) {
  auto live = journal.LiveSteps();
  if (!live.ok()) return live.error();
  std::vector<Grant> grants;
  for (const provision::StepRecord& step : *live) {
    if (step.spec.kind != provision::kind::kWorkspaceGrant) continue;
    const nlohmann::json& params = step.spec.params;
    if (!params.is_object() || !params.contains("path") || !params.at("path").is_string()) {
      return Error(ErrorCode::kStateCorrupt, "journal " + journal.path() + ": grant step " +
                                                 std::to_string(step.txn_id) + "." +
                                                 std::to_string(step.seq) + " has no path");
    }
    Grant g;
    g.path = params.at("path").get<std::string>();
    if (params.contains("owner_uid") && params.at("owner_uid").is_number_unsigned() &&
        params.at("owner_uid").get<std::uint64_t>() <= 0xFFFFFFFFULL) {
      g.owner_uid = params.at("owner_uid").get<std::uint32_t>();
    } else if (params.contains("owner_uid")) {
      return Error(ErrorCode::kStateCorrupt, "journal " + journal.path() + ": grant of " + g.path +
                                                 " has an owner_uid that is not a uid");
    }
    grants.push_back(std::move(g));
  }
  return grants;
}

// Opens the journal read-only; nullopt when there is none (nothing provisioned).
Expected<std::optional<provision::Journal>> OpenJournal(const std::string& state_dir) {
  provision::JournalOptions options;
  options.read_only = true;
  auto journal = provision::Journal::Open(state_dir, options);
  if (!journal.ok()) {
    if (journal.error().code() == ErrorCode::kNotFound) {
      return std::optional<provision::Journal>();
    }
    return journal.error();
  }
  return std::optional<provision::Journal>(std::move(*journal));
}

// SQLite's PRAGMA data_version: changes on this connection whenever another connection (the
// provisioner, in any process) has committed to the database since this connection last looked.
Expected<std::int64_t> DataVersion(sqlite::Database& db) {
  auto stmt = db.Prepare("PRAGMA data_version");
  if (!stmt.ok()) return stmt.error();
  auto row = stmt->Step();
  if (!row.ok()) return row.error();
  if (!*row) return Error(ErrorCode::kInternal, "PRAGMA data_version returned no row");
  return stmt->Int(0);
}

// True when the journal file the connection holds is no longer the one at its path (removed,
// or replaced: an uninstall followed by a new provisioning), or that cannot be told.
bool FileMoved(sqlite::Database& db) {
  int moved = 0;
  if (sqlite3_file_control(db.handle(), "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK) {
    return true;
  }
  return moved != 0;
}

// The grants read last, with the connection and the data_version they were read at.
struct GrantsCache {
  std::mutex mu;
  std::string state_dir;
  std::optional<provision::Journal> journal;
  std::int64_t data_version = 0;
  std::vector<Grant> grants;

  void Drop() {
    journal.reset();
    grants.clear();
  }
};

GrantsCache& Cache() {
  // Never destroyed: connection threads of a stopping service may still call in during exit.
  static GrantsCache* cache = new GrantsCache();
  return *cache;
}

Expected<std::vector<Grant>> ReadUncached(const std::string& state_dir) {
  auto journal = OpenJournal(state_dir);
  if (!journal.ok()) return journal.error();
  if (!journal->has_value()) return std::vector<Grant>();
  return GrantsIn(**journal);
}

}  // namespace

Expected<std::vector<Grant>> ReadLiveGrants(const std::string& state_dir) {
  if (!kKeepJournalOpen) return ReadUncached(state_dir);
  GrantsCache& cache = Cache();
  std::lock_guard<std::mutex> lock(cache.mu);
  if (cache.journal && (cache.state_dir != state_dir || FileMoved(cache.journal->database()))) {
    cache.Drop();
  }
  if (cache.journal) {
    auto version = DataVersion(cache.journal->database());
    if (version.ok() && *version == cache.data_version) return cache.grants;
    // Changed (or unreadable): read again on the same connection. The version is taken before
    // the steps, so a commit in between is seen as a change by the next call: never stale.
    if (version.ok()) {
      auto grants = GrantsIn(*cache.journal);
      if (grants.ok()) {
        cache.data_version = *version;
        cache.grants = *grants;
        return grants;
      }
    }
    cache.Drop();  // a connection that failed is not trusted again: reopen below
  }
  auto journal = OpenJournal(state_dir);
  if (!journal.ok()) return journal.error();
  if (!journal->has_value()) return std::vector<Grant>();  // nothing provisioned: nothing kept
  auto version = DataVersion((*journal)->database());
  if (!version.ok()) return version.error().Wrap("journal " + (*journal)->path());
  auto grants = GrantsIn(**journal);
  if (!grants.ok()) return grants.error();
  cache.state_dir = state_dir;
  cache.journal = std::move(*journal);
  cache.data_version = *version;
  cache.grants = *grants;
  return grants;
}

}  // namespace stockade::runner::service
