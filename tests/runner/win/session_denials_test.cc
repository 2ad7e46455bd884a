// The service's end-of-session denial capture (runner/service/win/session_denials.h) against the
// real Security log of the machine it runs on. Under Wine (no Security log) and on Windows
// without SeSecurityPrivilege the read fails: that must be counted and logged, record nothing
// and return normally (the run's exit never depends on it). Elevated on Windows the read
// succeeds and its figures must add up.
#include "runner/service/win/session_denials.h"

#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include "audit/event.h"

namespace stockade::runner::service::win_os {
namespace {

class MemoryRecorder : public audit::Recorder {
 public:
  Expected<std::int64_t> Record(audit::Event event) override {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(event));
    return static_cast<std::int64_t>(events_.size());
  }
  Status RecordAsync(audit::Event event) override {
    (void)Record(std::move(event));
    return Status();
  }
  Status Flush() override { return Status(); }
  std::vector<audit::Event> events() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<audit::Event> events_;
};

audit::DenialScope Scope() {
  audit::DenialScope scope;
  scope.session_id = "5b0c9e1d-2f4a-4b7e-8c3d-6a1f0e9d2c4b";
  scope.sids = {"S-1-5-21-1004336348-1177238915-682003330-1013"};
  scope.end = audit::NowNs();
  scope.start = scope.end - 60'000'000'000;  // the last minute
  return scope;
}

TEST(WinSessionDenials, AnUnreadableLogIsCountedAndRecordsNothingElseTheFiguresAddUp) {
  MemoryRecorder recorder;
  DenialCaptureCounters counters;
  // A pid no process of this machine has now (pids are multiples of 4): nothing can be
  // attributed, whatever the log holds.
  const std::vector<audit::SessionProcess> processes = {{"guid-none", 3, 0, 0}};
  const SessionDenialOutcome outcome =
      RecordSessionDenials(&recorder, Scope(), processes, counters);
  EXPECT_TRUE(recorder.events().empty());
  EXPECT_EQ(outcome.recorded, 0u);
  EXPECT_EQ(counters.recorded.load(), 0u);
  if (!outcome.log_read) {
    // Wine (no Security log: kUnsupported) or Windows without SeSecurityPrivilege
    // (kPermissionDenied): counted and logged, nothing recorded, and we are here -- the call
    // returned.
    ASSERT_FALSE(outcome.read.ok());
    EXPECT_TRUE(outcome.read.error().code() == ErrorCode::kUnsupported ||
                outcome.read.error().code() == ErrorCode::kPermissionDenied)
        << outcome.read.error().ToString();
    EXPECT_EQ(counters.log_read_failures.load(), 1u);
    EXPECT_EQ(counters.events_read.load(), 0u);
    return;
  }
  EXPECT_TRUE(outcome.read.ok());
  EXPECT_EQ(counters.log_read_failures.load(), 0u);
  EXPECT_EQ(counters.events_read.load(), outcome.events_read);
  const audit::DenialAttribution& a = outcome.attribution;
  EXPECT_EQ(a.undated + a.outside_window + a.other_subject + a.other_process,
            outcome.events_read - outcome.unparsed);
  EXPECT_EQ(counters.not_attributed.load(), outcome.events_read - outcome.unparsed);
}

TEST(WinSessionDenials, NoRecorderOrNoProcessMeansNoQuery) {
  MemoryRecorder recorder;
  DenialCaptureCounters counters;
  const SessionDenialOutcome none = RecordSessionDenials(&recorder, Scope(), {}, counters);
  EXPECT_FALSE(none.log_read);
  const SessionDenialOutcome null =
      RecordSessionDenials(nullptr, Scope(), {{"guid-none", 3, 0, 0}}, counters);
  EXPECT_FALSE(null.log_read);
  EXPECT_EQ(counters.log_read_failures.load(), 0u);  // not attempted, so not a failure
  EXPECT_TRUE(recorder.events().empty());
}

}  // namespace
}  // namespace stockade::runner::service::win_os
