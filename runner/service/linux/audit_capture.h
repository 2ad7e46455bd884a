// The service's side of the Linux audit capture (audit/linux/capture.h): one Capture for the
// whole service, covering the uids of the policy's sandbox identities and the NFLOG group of the
// provisioner's nftables table; every event it produces goes to the audit store through
// Recorder::RecordAsync (the capture's reader thread never waits for a commit or an fsync).
//
// Fail closed: a run starts only while the capture runs and covers the run's identity
// (EnsureCovers). A capture that could not start (no CAP_AUDIT_CONTROL, the kernel audit
// configuration locked, another Stockade capture holding /run/stockade/audit-capture.lock) is
// retried by the service's main thread (Server::Maintain) and at the next run, at most once per
// retry interval, so a service started before the provisioner created the identities, or while
// another capture held the lock, recovers by itself.
//
// Events for no session: the correlator attributes every fact to a registered run; facts it
// cannot attribute within its pending timeout (10 s) are dropped and counted, never recorded
// (the store's events belong to runs). Those are a sandbox uid acting outside any run (someone
// running a program as that uid by hand), records of a run that arrive after EndSession's
// timeout, and NFLOG packets of a uid with no run. Their count is logged (warning) when it grows
// and at stop. See docs/audit-capture-linux.md, "In the service".
#ifndef STOCKADE_RUNNER_SERVICE_LINUX_AUDIT_CAPTURE_H_
#define STOCKADE_RUNNER_SERVICE_LINUX_AUDIT_CAPTURE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "audit/linux/capture.h"
#include "audit/recorder.h"
#include "core/error.h"
#include "core/policy/policy.h"

namespace stockade::runner::service::linux_os {

struct ServiceCaptureOptions {
  // The uids to audit; empty: those of the policy's identities (<prefix>-offline, -online) that
  // exist when the capture starts.
  std::vector<std::uint32_t> uids;
  // The NFLOG group; none: the one the provisioner's network-rules steps in the journal of
  // `state_dir` name (provision/plan.h kNflogGroup), or no NFLOG when it applied none.
  std::optional<std::uint16_t> nflog_group;
  std::string state_dir;
  std::string runtime_dir;  // the capture's lock and saved configuration ("" = /run/stockade)
  std::chrono::milliseconds retry_interval{2000};
  std::chrono::milliseconds end_timeout{10000};  // EndSession's wait for the records of a run
};

// The NFLOG group applied by the journal's live network-rules steps of `state_dir`; none when
// there is no journal or no such step. Errors: the journal's (kDatabase, kStateCorrupt).
Expected<std::optional<std::uint16_t>> JournalNflogGroup(const std::string& state_dir);

class ServiceCapture {
 public:
  ServiceCapture(const Policy& policy, audit::Recorder* recorder, ServiceCaptureOptions options);
  ~ServiceCapture();
  ServiceCapture(const ServiceCapture&) = delete;
  ServiceCapture& operator=(const ServiceCapture&) = delete;

  // Starts the capture when it is not running (a failed attempt is retried only after the retry
  // interval; meanwhile the last error is returned). Errors: kAuditUnavailable saying why (the
  // cause's code and text inside).
  Status Start();
  // Start(), then checks that `uid` is one of the audited uids. Errors: kAuditUnavailable.
  Status EnsureCovers(std::uint32_t uid);

  // Registers a run (right after its launch) / forgets it after its tree is gone. No-ops when
  // the capture is not running. EndSession errors: the capture's (kTimeout).
  void AddSession(const std::string& session_id, std::int64_t root_pid, std::int64_t uid);
  Status EndSession(const std::string& session_id);

  // Stops the capture and puts the kernel audit configuration back (verified). Errors: those of
  // Capture::Stop (kVerificationFailed naming what differs). Idempotent.
  Status Stop();

  bool running();
  // Stats of the running capture (zeros when it is not running).
  audit::linux_os::CaptureStats Stats();
  // Events the store refused (RecordAsync errors); they are lost, and logged.
  std::uint64_t record_failures() const { return record_failures_; }
  std::uint64_t events_recorded() const { return events_; }
  // Logs a warning when the count of unattributed facts grew since the last call.
  void ReportUnattributed();

 private:
  void OnEvent(audit::Event event);

  Policy policy_;
  audit::Recorder* recorder_;
  ServiceCaptureOptions options_;
  std::mutex mu_;  // guards the fields below
  std::unique_ptr<audit::linux_os::Capture> capture_;
  std::vector<std::uint32_t> uids_;
  std::optional<Error> last_error_;
  std::chrono::steady_clock::time_point last_attempt_{};
  std::uint64_t unattributed_reported_ = 0;
  std::atomic<std::uint64_t> record_failures_{0};
  std::atomic<std::uint64_t> events_{0};
};

}  // namespace stockade::runner::service::linux_os

#endif  // STOCKADE_RUNNER_SERVICE_LINUX_AUDIT_CAPTURE_H_
