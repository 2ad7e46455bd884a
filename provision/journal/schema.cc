#include "provision/journal/schema.h"

#include <array>

namespace stockade::provision::journal_schema {
namespace {

// Version 1. Timestamps are UTC ISO 8601 with milliseconds, written by SQLite itself
// (strftime('%Y-%m-%dT%H:%M:%fZ','now')) so that every row uses one clock and one format.
// JSON columns hold nlohmann::json's compact dump (object keys sorted), which is what makes
// "the same params" a byte comparison.
constexpr std::string_view kV1 = R"sql(
CREATE TABLE transactions (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  kind          TEXT    NOT NULL,               -- apply, grant, revoke, repair, rollback, ...
  args          TEXT    NOT NULL DEFAULT '{}',  -- JSON: the command's inputs
  state         TEXT    NOT NULL
                CHECK (state IN ('open', 'committed', 'rolled_back', 'failed')),
  planned_steps INTEGER NOT NULL DEFAULT 0,     -- steps the executor meant to journal
  rollback_of   INTEGER REFERENCES transactions(id),  -- set on rollback transactions
  started_at    TEXT    NOT NULL,
  ended_at      TEXT,
  error         TEXT
);
CREATE INDEX transactions_by_state ON transactions(state);

CREATE TABLE steps (
  txn_id           INTEGER NOT NULL REFERENCES transactions(id),
  seq              INTEGER NOT NULL,            -- 1, 2, ... in the order they were applied
  kind             TEXT    NOT NULL,
  target           TEXT    NOT NULL,
  params           TEXT    NOT NULL,            -- JSON
  before           TEXT    NOT NULL,            -- JSON: what Undo puts back
  state            TEXT    NOT NULL
                   CHECK (state IN ('intended', 'applied', 'undo_intended', 'undone', 'failed')),
  error            TEXT,
  intended_at      TEXT    NOT NULL,
  applied_at       TEXT,
  undo_intended_at TEXT,
  undone_at        TEXT,
  undo_txn         INTEGER REFERENCES transactions(id),  -- the transaction that undid it
  PRIMARY KEY (txn_id, seq)
) WITHOUT ROWID;
CREATE INDEX steps_by_target ON steps(kind, target);
)sql";

constexpr std::array<Migration, 1> kMigrations = {{{1, kV1}}};

}  // namespace

std::span<const Migration> Migrations() { return kMigrations; }

int LatestVersion() { return kMigrations.back().version; }

}  // namespace stockade::provision::journal_schema
