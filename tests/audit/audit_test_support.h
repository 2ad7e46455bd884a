// Shared helpers of the audit tests: a temporary folder per test and generators of varied,
// reproducible events.
#ifndef STOCKADE_TESTS_AUDIT_AUDIT_TEST_SUPPORT_H_
#define STOCKADE_TESTS_AUDIT_AUDIT_TEST_SUPPORT_H_

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "audit/event.h"
#include "audit/store.h"

namespace stockade::audit::testing {

// A fresh folder under the temp folder, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string Utf8(const std::string& child = "") const;

 private:
  std::filesystem::path path_;
};

// Store options for tests: the given file, permissions left alone unless asked (tests run
// unprivileged under Wine), short batch latency.
StoreOptions TestStoreOptions(const std::string& path);

// An event of the given kind with fields drawn from `rng` (UTF-8 text with non-ASCII
// characters, commas, quotes and newlines; argv of varying length). `session` is used as the
// session id (provisioning events get ""). seq/version/time/host are left for the store unless
// `with_envelope`, which fills time and host too.
Event RandomEvent(std::mt19937_64& rng, EventKind kind, const std::string& session,
                  bool with_envelope = false);
// One of each kind in turn.
Event RandomEventAny(std::mt19937_64& rng, const std::string& session, bool with_envelope = false);

// Records `count` random events in one store (sync), returns them as recorded (with seq).
std::vector<Event> FillStore(Store& store, std::mt19937_64& rng, int count);

}  // namespace stockade::audit::testing

#endif  // STOCKADE_TESTS_AUDIT_AUDIT_TEST_SUPPORT_H_
