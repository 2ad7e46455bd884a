#include "runner/service/linux/audit_capture.h"

#include <pwd.h>

#include <algorithm>
#include <utility>

#include "core/log/logging.h"
#include "provision/journal/journal.h"
#include "provision/step.h"

namespace stockade::runner::service::linux_os {

namespace {

Error Unavailable(const std::string& what, const Error& cause) {
  return Error(ErrorCode::kAuditUnavailable, what + ": " + cause.ToString());
}

// The uids of the policy's identities that exist now.
std::vector<std::uint32_t> IdentityUids(const Policy& policy) {
  std::vector<std::uint32_t> uids;
  for (IdentityKind kind : {IdentityKind::kOffline, IdentityKind::kOnline}) {
    std::vector<char> buf(16384);
    passwd pw{};
    passwd* found = nullptr;
    const std::string name = policy.IdentityName(kind);
    if (::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr) {
      uids.push_back(found->pw_uid);
    }
  }
  return uids;
}

}  // namespace

Expected<std::optional<std::uint16_t>> JournalNflogGroup(const std::string& state_dir) {
  provision::JournalOptions options;
  options.read_only = true;
  auto journal = provision::Journal::Open(state_dir, options);
  if (!journal.ok()) {
    if (journal.error().code() == ErrorCode::kNotFound) return std::optional<std::uint16_t>();
    return journal.error();
  }
  auto live = journal->LiveSteps();
  if (!live.ok()) return live.error();
  std::optional<std::uint16_t> group;
  for (const provision::StepRecord& step : *live) {
    if (step.spec.kind != provision::kind::kNetworkRules) continue;
    const nlohmann::json& params = step.spec.params;
    if (!params.is_object() || !params.contains("nflog_group")) continue;
    const nlohmann::json& g = params.at("nflog_group");
    if (!g.is_number_unsigned() || g.get<std::uint64_t>() > 0xFFFF) {
      return Error(ErrorCode::kStateCorrupt, "journal " + journal->path() + ": network step " +
                                                 std::to_string(step.txn_id) + "." +
                                                 std::to_string(step.seq) +
                                                 " has an nflog_group that is not a group number");
    }
    group = g.get<std::uint16_t>();  // every table of a prefix logs to the same group
  }
  return group;
}

ServiceCapture::ServiceCapture(const Policy& policy, audit::Recorder* recorder,
                               ServiceCaptureOptions options)
    : policy_(policy), recorder_(recorder), options_(std::move(options)) {}

ServiceCapture::~ServiceCapture() {
  const Status s = Stop();
  if (!s.ok()) log::Logger()->error("audit capture: {}", s.error().ToString());
}

void ServiceCapture::OnEvent(audit::Event event) {
  // The capture's reader thread: RecordAsync only queues (the store's writer thread commits and
  // fsyncs), so the kernel's audit queue keeps draining.
  const Status queued = recorder_->RecordAsync(std::move(event));
  if (queued.ok()) {
    ++events_;
    return;
  }
  const std::uint64_t n = ++record_failures_;
  if ((n & (n - 1)) == 0) {  // 1, 2, 4, 8, ...: a failing store must not flood the log
    log::Logger()->error("audit capture: {} event(s) could not be recorded, last: {}", n,
                         queued.error().ToString());
  }
}

Status ServiceCapture::Start() {
  std::lock_guard lock(mu_);
  if (capture_) return OkStatus();
  const auto now = std::chrono::steady_clock::now();
  if (last_error_ && now - last_attempt_ < options_.retry_interval) return *last_error_;
  last_attempt_ = now;

  audit::linux_os::CaptureOptions copts;
  copts.uids = options_.uids.empty() ? IdentityUids(policy_) : options_.uids;
  if (!options_.runtime_dir.empty()) copts.runtime_dir = options_.runtime_dir;
  // The kernel's backlog limit also bounds its retry queue for a daemon that falls behind (a
  // storm while the store's writer competes for the CPU): beyond it records are lost. 65,536
  // records (tens of MiB at most, only while a burst lasts).
  copts.min_backlog_limit = 65536;
  if (copts.uids.empty()) {
    last_error_ = Error(ErrorCode::kAuditUnavailable,
                        "the audit capture has no identity to follow: neither " +
                            policy_.IdentityName(IdentityKind::kOffline) + " nor " +
                            policy_.IdentityName(IdentityKind::kOnline) +
                            " exists (run stockade-provision apply)");
    return *last_error_;
  }
  if (options_.nflog_group) {
    copts.nflog_group = options_.nflog_group;
  } else {
    auto group = JournalNflogGroup(options_.state_dir);
    if (!group.ok()) {
      last_error_ = Unavailable("reading the NFLOG group from the journal", group.error());
      return *last_error_;
    }
    copts.nflog_group = *group;
  }
  auto started = audit::linux_os::Capture::Start(
      copts, [this](audit::Event event) { OnEvent(std::move(event)); });
  if (!started.ok()) {
    const bool repeated = last_error_.has_value();
    last_error_ = Unavailable("the kernel audit capture could not start", started.error());
    // Retried every few seconds: said once as an error, then quietly until it changes.
    if (!repeated) {
      log::Logger()->error("{}; runs are refused until it starts (retried every {} s)",
                           last_error_->ToString(), options_.retry_interval.count() / 1000);
    } else {
      log::Logger()->debug("{}", last_error_->ToString());
    }
    return *last_error_;
  }
  capture_ = std::move(*started);
  uids_ = copts.uids;
  last_error_.reset();
  std::string uid_list;
  for (std::uint32_t uid : uids_) uid_list += (uid_list.empty() ? "" : ",") + std::to_string(uid);
  const auto stats = capture_->Stats();
  log::Logger()->info("audit capture started: uids {}, NFLOG group {}, {} (backlog limit {})",
                      uid_list, copts.nflog_group ? std::to_string(*copts.nflog_group) : "none",
                      stats.audit_daemon ? "as the audit daemon" : "multicast (another daemon)",
                      stats.backlog_limit);
  return OkStatus();
}

Status ServiceCapture::EnsureCovers(std::uint32_t uid) {
  STOCKADE_RETURN_IF_ERROR(Start());
  std::lock_guard lock(mu_);
  if (std::find(uids_.begin(), uids_.end(), uid) == uids_.end()) {
    return Error(ErrorCode::kAuditUnavailable,
                 "the audit capture does not follow uid " + std::to_string(uid) +
                     " (the identity was created after the service started its capture; "
                     "restart the service)");
  }
  return OkStatus();
}

bool ServiceCapture::running() {
  std::lock_guard lock(mu_);
  return capture_ != nullptr;
}

void ServiceCapture::AddSession(const std::string& session_id, std::int64_t root_pid,
                                std::int64_t uid) {
  audit::linux_os::Capture* c = nullptr;
  {
    std::lock_guard lock(mu_);
    c = capture_.get();
  }
  if (c != nullptr) c->AddSession(session_id, root_pid, uid);
}

Status ServiceCapture::EndSession(const std::string& session_id) {
  audit::linux_os::Capture* c = nullptr;
  {
    std::lock_guard lock(mu_);
    c = capture_.get();
  }
  if (c == nullptr) return OkStatus();
  return c->EndSession(session_id, options_.end_timeout);
}

audit::linux_os::CaptureStats ServiceCapture::Stats() {
  audit::linux_os::Capture* c = nullptr;
  {
    std::lock_guard lock(mu_);
    c = capture_.get();
  }
  return c != nullptr ? c->Stats() : audit::linux_os::CaptureStats{};
}

void ServiceCapture::ReportUnattributed() {
  const auto stats = Stats();
  std::lock_guard lock(mu_);
  if (stats.correlator.unattributed > unattributed_reported_) {
    log::Logger()->warn(
        "audit capture: {} kernel record(s) of the sandbox uids belonged to no run and were not "
        "recorded ({} in all; a sandbox uid used outside Stockade, or records after a run ended)",
        stats.correlator.unattributed - unattributed_reported_, stats.correlator.unattributed);
    unattributed_reported_ = stats.correlator.unattributed;
  }
}

Status ServiceCapture::Stop() {
  if (!running()) return OkStatus();
  ReportUnattributed();
  std::unique_ptr<audit::linux_os::Capture> c;
  {
    std::lock_guard lock(mu_);
    if (!capture_) return OkStatus();
    c = std::move(capture_);
  }
  const auto stats = c->Stats();
  const Status stopped = c->Stop();
  log::Logger()->info(
      "audit capture stopped: {} events recorded, {} refused by the store; {} records, kernel "
      "lost {}, socket overruns {}, connector overruns {}, unattributed {}, seccomp "
      "compatibility refusals dropped {}; kernel audit configuration {}",
      events_.load(), record_failures_.load(), stats.records, stats.kernel_lost,
      stats.socket_overruns, stats.proc_connector_overruns, stats.correlator.unattributed,
      stats.seccomp_compat_refusals,
      stopped.ok() ? "restored as found" : "NOT restored: " + stopped.error().ToString());
  return stopped;
}

}  // namespace stockade::runner::service::linux_os
