// The provisioning journal's schema and its migrations. The journal stamps its schema version in
// SQLite's user_version and its identity in application_id, so that a file from a newer Stockade
// and a file that is not a journal at all are told apart from a damaged one.
#ifndef STOCKADE_PROVISION_JOURNAL_SCHEMA_H_
#define STOCKADE_PROVISION_JOURNAL_SCHEMA_H_

#include <cstdint>
#include <span>
#include <string_view>

namespace stockade::provision::journal_schema {

// PRAGMA application_id of every journal: "STKJ".
inline constexpr std::int32_t kApplicationId = 0x53544B4A;

// One step of the schema's history: running `sql` on a journal at version `version - 1` brings
// it to `version`. Migrations are append-only: a released migration is never edited, a change
// is a new entry (so every journal in the field reaches the same schema by the same path).
struct Migration {
  int version;
  std::string_view sql;
};

// Every migration, in order; versions are 1, 2, ... without gaps.
std::span<const Migration> Migrations();

// The version the newest migration produces: what this build reads and writes.
int LatestVersion();

}  // namespace stockade::provision::journal_schema

#endif  // STOCKADE_PROVISION_JOURNAL_SCHEMA_H_
