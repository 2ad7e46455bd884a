// Benchmark: inserting audit-sized rows in batched WAL transactions through stockade::sqlite
// versus hand-written code on the raw sqlite3 C API, in the same process and run, on the same
// disk, with the same rows and settings. Prints rows/s for each and the ratio.
//
//   bench_sqlite_insert [--rows N] [--batch N] [--rounds N] [--sync off|normal|full] [--dir D]
//
// The variants run interleaved, in an order rotated each round, on a fresh file each time, and
// the best round of each is reported, so a noisy shared machine does not favour one. Each run is
// checked afterwards by counting its rows.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "bench/bench_clock.h"
#include "core/crypto/random.h"
#include "core/sqlite/database.h"

namespace {

namespace fs = std::filesystem;
using stockade::bench::Measure;
using stockade::bench::Timing;
using stockade::sqlite::Database;
using stockade::sqlite::OpenOptions;
using stockade::sqlite::Synchronous;
using stockade::sqlite::Transaction;

// Shaped like a process event in the audit store: ~330 bytes of payload per row.
constexpr const char* kSchema =
    "CREATE TABLE events("
    " id INTEGER PRIMARY KEY,"
    " session TEXT NOT NULL,"
    " ts INTEGER NOT NULL,"
    " kind INTEGER NOT NULL,"
    " pid INTEGER NOT NULL,"
    " image TEXT NOT NULL,"
    " argv TEXT NOT NULL,"
    " prev_hash TEXT NOT NULL,"
    " hash TEXT NOT NULL)";
constexpr const char* kInsert =
    "INSERT INTO events(session, ts, kind, pid, image, argv, prev_hash, hash)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)";

struct Row {
  std::string session, image, argv, prev_hash, hash;
};

struct Config {
  int rows = 200000;
  int batch = 1000;
  int rounds = 2;
  Synchronous sync = Synchronous::kFull;
  std::string sync_name = "FULL";
  fs::path dir;
};

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench_sqlite_insert: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T Check(stockade::Expected<T> result, const char* what) {
  if (!result.ok()) Die(std::string(what) + ": " + result.error().ToString());
  return std::move(result).value();
}

void Check(const stockade::Status& status, const char* what) {
  if (!status.ok()) Die(std::string(what) + ": " + status.error().ToString());
}

std::string Hex(std::size_t bytes) { return Check(stockade::crypto::RandomHex(bytes), "hex"); }

// 1024 distinct rows, reused round-robin: generating 200k rows would cost as much as inserting.
std::vector<Row> MakeRows() {
  std::vector<Row> rows(1024);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    rows[i].session = Hex(16);
    rows[i].image = "/usr/lib/toolchain/bin/compiler-driver-" + std::to_string(i);
    rows[i].argv = "compiler-driver-" + std::to_string(i) +
                   " -O2 -g -Wall -Wextra -I/work/project/include -c /work/project/src/module_" +
                   std::to_string(i) + ".cc -o /work/project/build/module_" + std::to_string(i) +
                   ".o";
    rows[i].prev_hash = Hex(32);
    rows[i].hash = Hex(32);
  }
  return rows;
}

void Remove(const fs::path& db) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    fs::remove(fs::path(db.native() + fs::path(suffix).native()), ec);
  }
}

std::string Utf8(const fs::path& p) {
  auto u8 = p.u8string();
  return std::string(u8.begin(), u8.end());
}

// Rows in the table after a run: a benchmark that skipped work must not look fast.
std::int64_t CountRows(const fs::path& file) {
  Database db = Check(Database::Open(Utf8(file)), "reopen");
  auto stmt = Check(db.Prepare("SELECT count(*), count(DISTINCT hash) FROM events"), "count");
  if (!Check(stmt.Step(), "count step")) Die("count returned no row");
  return stmt.Int(0);
}

Timing RunWrapper(const Config& config, const std::vector<Row>& rows, const fs::path& file) {
  OpenOptions options;
  options.synchronous = config.sync;
  Database db = Check(Database::Open(Utf8(file), options), "open");
  Check(db.Exec(kSchema), "schema");
  auto insert = Check(db.Prepare(kInsert), "prepare");
  return Measure([&] {
    for (int done = 0; done < config.rows;) {
      auto tx = Check(Transaction::Begin(db), "begin");
      for (int n = 0; n < config.batch && done < config.rows; ++n, ++done) {
        const Row& r = rows[static_cast<std::size_t>(done) % rows.size()];
        Check(insert.BindAll(r.session, std::int64_t{1700000000000} + done, done % 4,
                             1000 + done % 30000, r.image, r.argv, r.prev_hash, r.hash),
              "bind");
        Check(insert.Run(), "insert");
      }
      Check(tx.Commit(), "commit");
    }
  });
}

void RawCheck(sqlite3* db, int rc, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE) {
    Die(std::string("raw ") + what + ": " + sqlite3_errmsg(db));
  }
}

// What a careful hand-written loop does: one prepared statement, bind/step/reset, explicit
// BEGIN IMMEDIATE/COMMIT. `destructor` is SQLITE_TRANSIENT (SQLite copies the text, as the
// wrapper must) or SQLITE_STATIC (no copy: valid only because the rows outlive each step).
Timing RunRaw(const Config& config, const std::vector<Row>& rows, const fs::path& file,
              sqlite3_destructor_type destructor) {
  sqlite3* db = nullptr;
  std::string path = Utf8(file);
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    Die("raw open: " + std::string(sqlite3_errmsg(db)));
  }
  const std::string pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=" +
                              std::to_string(static_cast<int>(config.sync)) +
                              "; PRAGMA foreign_keys=ON;";
  sqlite3_busy_timeout(db, 5000);
  RawCheck(db, sqlite3_exec(db, pragmas.c_str(), nullptr, nullptr, nullptr), "pragmas");
  RawCheck(db, sqlite3_exec(db, kSchema, nullptr, nullptr, nullptr), "schema");
  sqlite3_stmt* stmt = nullptr;
  RawCheck(db, sqlite3_prepare_v2(db, kInsert, -1, &stmt, nullptr), "prepare");
  auto text = [&](int index, const std::string& s) {
    RawCheck(db, sqlite3_bind_text(stmt, index, s.data(), static_cast<int>(s.size()), destructor),
             "bind");
  };
  const Timing timing = Measure([&] {
    for (int done = 0; done < config.rows;) {
      RawCheck(db, sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), "begin");
      for (int n = 0; n < config.batch && done < config.rows; ++n, ++done) {
        const Row& r = rows[static_cast<std::size_t>(done) % rows.size()];
        text(1, r.session);
        RawCheck(db, sqlite3_bind_int64(stmt, 2, std::int64_t{1700000000000} + done), "bind");
        RawCheck(db, sqlite3_bind_int64(stmt, 3, done % 4), "bind");
        RawCheck(db, sqlite3_bind_int64(stmt, 4, 1000 + done % 30000), "bind");
        text(5, r.image);
        text(6, r.argv);
        text(7, r.prev_hash);
        text(8, r.hash);
        RawCheck(db, sqlite3_step(stmt), "insert");
        RawCheck(db, sqlite3_reset(stmt), "reset");
      }
      RawCheck(db, sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), "commit");
    }
  });
  sqlite3_finalize(stmt);
  sqlite3_close_v2(db);
  return timing;
}

Config ParseArgs(int argc, char** argv) {
  Config config;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die("missing value after " + std::string(arg));
      return argv[++i];
    };
    if (arg == "--rows") {
      config.rows = std::atoi(next().c_str());
    } else if (arg == "--batch") {
      config.batch = std::atoi(next().c_str());
    } else if (arg == "--rounds") {
      config.rounds = std::atoi(next().c_str());
    } else if (arg == "--dir") {
      std::string d = next();
      config.dir = fs::path(std::u8string(d.begin(), d.end()));
    } else if (arg == "--sync") {
      std::string s = next();
      if (s == "off")
        config.sync = Synchronous::kOff;
      else if (s == "normal")
        config.sync = Synchronous::kNormal;
      else if (s == "full")
        config.sync = Synchronous::kFull;
      else
        Die("--sync takes off, normal or full");
      config.sync_name = s;
    } else {
      Die("usage: bench_sqlite_insert [--rows N] [--batch N] [--rounds N] "
          "[--sync off|normal|full] [--dir D]");
    }
  }
  if (config.rows <= 0 || config.batch <= 0 || config.rounds <= 0) Die("counts must be > 0");
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  Config config = ParseArgs(argc, argv);
  const bool own_dir = config.dir.empty();
  if (own_dir) config.dir = fs::temp_directory_path() / ("stockade-bench-" + Hex(6));
  fs::create_directories(config.dir);
  const std::vector<Row> rows = MakeRows();

  struct Variant {
    const char* label;
    double best_wall = 1e300;
    double best_cpu = 1e300;
  };
  Variant variants[] = {{"wrapper (stockade::sqlite)"},
                        {"raw C API, SQLITE_TRANSIENT"},
                        {"raw C API, SQLITE_STATIC"}};
  constexpr int kVariants = 3;
  for (int round = 0; round < config.rounds; ++round) {
    for (int k = 0; k < kVariants; ++k) {
      // Rotate the order each round so that no variant always runs first (cold cache, a
      // neighbour's build starting) or last.
      const int v = (k + round) % kVariants;
      const fs::path file = config.dir / ("bench-" + std::to_string(v) + ".db");
      Remove(file);
      Timing t = v == 0   ? RunWrapper(config, rows, file)
                 : v == 1 ? RunRaw(config, rows, file, SQLITE_TRANSIENT)
                          : RunRaw(config, rows, file, SQLITE_STATIC);
      if (CountRows(file) != config.rows) Die(std::string(variants[v].label) + ": row count");
      Remove(file);
      variants[v].best_wall = std::min(variants[v].best_wall, t.wall);
      variants[v].best_cpu = std::min(variants[v].best_cpu, t.cpu);
    }
  }
  if (own_dir) {
    std::error_code ec;
    fs::remove_all(config.dir, ec);
  }

  std::printf("sqlite insert: %d rows, batches of %d, WAL, synchronous=%s, best of %d rounds\n",
              config.rows, config.batch, config.sync_name.c_str(), config.rounds);
  std::printf("  (SQLite %s, %s)\n", sqlite3_libversion(), Utf8(config.dir).c_str());
  std::printf("  %-30s %12s %9s %14s\n", "", "rows/s", "wall s", "CPU us/row");
  double rate[kVariants], cpu[kVariants];
  for (int v = 0; v < kVariants; ++v) {
    rate[v] = config.rows / variants[v].best_wall;
    cpu[v] = variants[v].best_cpu;
    std::printf("  %-30s %12.0f %9.3f %14.2f\n", variants[v].label, rate[v], variants[v].best_wall,
                1e6 * cpu[v] / config.rows);
  }
  // Ratios > 1 mean the wrapper is faster. Wall-clock ratios swing with the machine's load; the
  // CPU-time ratios are the steadier measure of the wrapper's own cost.
  std::printf("  ratio wrapper / raw TRANSIENT   rows/s %.3f   CPU %.3f\n", rate[0] / rate[1],
              cpu[1] / cpu[0]);
  std::printf("  ratio wrapper / raw STATIC      rows/s %.3f   CPU %.3f\n", rate[0] / rate[2],
              cpu[2] / cpu[0]);
  // Machine-readable summary for bench/run.sh.
  std::printf(
      "RESULT sqlite wrapper_rows_per_s=%.0f raw_transient_rows_per_s=%.0f "
      "raw_static_rows_per_s=%.0f wrapper_cpu_s=%.3f raw_transient_cpu_s=%.3f "
      "raw_static_cpu_s=%.3f\n",
      rate[0], rate[1], rate[2], cpu[0], cpu[1], cpu[2]);
  return 0;
}
