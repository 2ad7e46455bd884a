#include "tests/audit/audit_test_support.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <system_error>

namespace stockade::audit::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
  path_ = fs::temp_directory_path() /
          ("stockade-audit-test-" + std::to_string(stamp) + "-" + std::to_string(counter++));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  // Archives are read-only: make everything writable so removal works on Windows too.
  for (auto it = fs::recursive_directory_iterator(path_, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
  }
  fs::remove_all(path_, ec);
}

std::string TempDir::Utf8(const std::string& child) const {
  const fs::path p = child.empty() ? path_ : path_ / fs::path(child);
  const std::u8string s = p.u8string();
  return std::string(s.begin(), s.end());
}

StoreOptions TestStoreOptions(const std::string& path) {
  StoreOptions o;
  o.path = path;
  o.host = "test-host";
  o.secure_permissions = false;
  o.max_batch_latency = std::chrono::milliseconds(2);
  o.retention_days = 0;
  return o;
}

namespace {

std::string RandomText(std::mt19937_64& rng, int max_len) {
  static const char* kPieces[] = {"a",  "b", "Z", "0", "9",  " ", "/",  ",",  "\"", "'",
                                  "\n", "=", "-", "é", "中", "😀", "\\", "\t", "@",  "x"};
  std::uniform_int_distribution<int> len(0, max_len);
  std::uniform_int_distribution<std::size_t> pick(0, std::size(kPieces) - 1);
  std::string out;
  const int n = len(rng);
  for (int i = 0; i < n; ++i) out += kPieces[pick(rng)];
  return out;
}

std::int64_t RandomInt(std::mt19937_64& rng, std::int64_t lo, std::int64_t hi) {
  return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
}

std::vector<std::string> RandomArgv(std::mt19937_64& rng) {
  std::vector<std::string> argv{"/usr/bin/" + RandomText(rng, 6)};
  const auto n = RandomInt(rng, 0, 5);
  for (int i = 0; i < n; ++i) argv.push_back(RandomText(rng, 12));
  return argv;
}

ExitStatus RandomExit(std::mt19937_64& rng) {
  ExitStatus e;
  if (RandomInt(rng, 0, 1)) e.code = RandomInt(rng, -5, 300);
  if (RandomInt(rng, 0, 3) == 0) e.signal = RandomInt(rng, 1, 31);
  e.timed_out = RandomInt(rng, 0, 5) == 0;
  e.killed = RandomInt(rng, 0, 5) == 0;
  return e;
}

TimeNs RandomTime(std::mt19937_64& rng) {
  return RandomInt(rng, 1'600'000'000'000'000'000LL, 1'900'000'000'000'000'000LL);
}

}  // namespace

Event RandomEvent(std::mt19937_64& rng, EventKind kind, const std::string& session,
                  bool with_envelope) {
  Event e;
  e.session_id = kind == EventKind::kProvisioning ? "" : session;
  if (with_envelope) {
    e.time = RandomTime(rng);
    e.host = "host-" + RandomText(rng, 5);
  }
  switch (kind) {
    case EventKind::kSession: {
      SessionEvent s;
      s.phase = RandomInt(rng, 0, 1) ? SessionPhase::kStart : SessionPhase::kEnd;
      s.identity = RandomInt(rng, 0, 1) ? "offline" : "online";
      s.workspace = "/home/dev/" + RandomText(rng, 8);
      s.policy_hash = std::string(64, 'a');
      s.invoking_uid = RandomInt(rng, -1, 70000);
      s.invoking_sid = RandomInt(rng, 0, 1) ? "S-1-5-21-1-2-3-1001" : "";
      s.invoking_user = RandomText(rng, 6);
      s.argv = RandomArgv(rng);
      s.cwd = "/home/dev/" + RandomText(rng, 5);
      s.start_time = RandomTime(rng);
      s.end_time = s.phase == SessionPhase::kEnd ? RandomTime(rng) : 0;
      if (s.phase == SessionPhase::kEnd) s.exit = RandomExit(rng);
      e.body = s;
      break;
    }
    case EventKind::kProcess: {
      ProcessEvent p;
      p.phase = RandomInt(rng, 0, 1) ? ProcessPhase::kExec : ProcessPhase::kExit;
      p.process_guid = "pg-" + std::to_string(RandomInt(rng, 1, 1'000'000));
      p.pid = RandomInt(rng, 1, 4'000'000);
      p.parent_guid = RandomInt(rng, 0, 3) ? "pg-" + std::to_string(RandomInt(rng, 1, 999)) : "";
      p.parent_pid = RandomInt(rng, 0, 4'000'000);
      p.image = "/usr/bin/" + RandomText(rng, 8);
      p.argv = RandomArgv(rng);
      p.cwd = "/w/" + RandomText(rng, 6);
      p.uid = RandomInt(rng, -1, 70000);
      p.start_time = RandomTime(rng);
      p.end_time = p.phase == ProcessPhase::kExit ? RandomTime(rng) : 0;
      if (p.phase == ProcessPhase::kExit) p.exit = RandomExit(rng);
      e.body = p;
      break;
    }
    case EventKind::kDenial: {
      DenialEvent d;
      d.category = static_cast<DenialCategory>(RandomInt(rng, 1, 4));
      d.target = d.category == DenialCategory::kNetwork
                     ? "10.0.0." + std::to_string(RandomInt(rng, 1, 254)) + ":" +
                           std::to_string(RandomInt(rng, 1, 65535))
                     : "/etc/" + RandomText(rng, 8);
      d.access = d.category == DenialCategory::kNetwork ? "connect tcp" : "write";
      d.pid = RandomInt(rng, 1, 4'000'000);
      d.process_guid = "pg-" + std::to_string(RandomInt(rng, 1, 999));
      d.source = static_cast<DenialSource>(RandomInt(rng, 1, 6));
      d.evidence = "type=LANDLOCK_ACCESS msg=audit(1.2:3): " + RandomText(rng, 20);
      e.body = d;
      break;
    }
    case EventKind::kProvisioning: {
      ProvisioningEvent p;
      p.transaction_id = RandomInt(rng, 1, 1000);
      p.action = RandomInt(rng, 0, 1) ? "apply" : "grant";
      p.step_index = RandomInt(rng, -1, 20);
      p.step_kind = RandomText(rng, 6);
      p.target = RandomText(rng, 10);
      p.outcome = RandomInt(rng, 0, 1) ? "applied" : "failed: " + RandomText(rng, 10);
      e.body = p;
      break;
    }
  }
  return e;
}

Event RandomEventAny(std::mt19937_64& rng, const std::string& session, bool with_envelope) {
  const auto kind = static_cast<EventKind>(RandomInt(rng, 1, 4));
  return RandomEvent(rng, kind, session, with_envelope);
}

std::vector<Event> FillStore(Store& store, std::mt19937_64& rng, int count) {
  std::vector<Event> out;
  for (int i = 0; i < count; ++i) {
    Event e = RandomEventAny(rng, "session-" + std::to_string(i % 7));
    auto seq = store.Record(e);
    EXPECT_TRUE(seq.ok()) << seq.error().ToString();
    if (!seq.ok()) break;
    e.seq = *seq;
    out.push_back(e);
  }
  return out;
}

}  // namespace stockade::audit::testing
