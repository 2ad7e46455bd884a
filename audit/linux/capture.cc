#include "audit/linux/capture.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <exception>

#include "audit/linux/audit_rules.h"
#include "audit/linux/record_decoder.h"

namespace stockade::audit::linux_os {
namespace {

// AUDIT_TRUSTED_APP: a free-text user message; carries the barrier token.
constexpr std::uint16_t kBarrierType = 1121;
constexpr char kBarrierText[] = "stockade-capture-barrier ";
// Records logged outside a syscall (no EOE) are complete after this long.
constexpr auto kStandaloneTimeout = std::chrono::milliseconds(500);
constexpr auto kTick = std::chrono::milliseconds(100);

}  // namespace

Expected<std::unique_ptr<Capture>> Capture::Start(const CaptureOptions& options,
                                                  Callback callback) {
  if (options.uids.empty()) {
    return Error(ErrorCode::kInvalidArgument, "audit capture needs at least one sandbox uid");
  }
  std::unique_ptr<Capture> c(new Capture());
  c->options_ = options;
  c->callback_ = std::move(callback);
  c->rule_key_ = RuleKeyForPid(::getpid());

  // As the audit daemon, records that do not fit in this buffer go to the kernel's retry queue
  // (as long as the backlog limit) and are lost beyond it: room for a storm's burst.
  auto record = AuditSocket::Open(AuditSocket::Mode::kCommand, 64 << 20);
  if (!record.ok()) return record.error();
  c->record_socket_.emplace(std::move(*record));
  auto command = AuditSocket::Open(AuditSocket::Mode::kCommand);
  if (!command.ok()) return command.error();
  c->command_socket_.emplace(std::move(*command));

  KernelAuditRequest request;
  request.uids = options.uids;
  request.min_backlog_limit = options.min_backlog_limit;
  request.register_daemon = options.register_daemon;
  request.runtime_dir = options.runtime_dir;
  auto guard = KernelAuditGuard::Acquire(request, &*c->record_socket_);
  if (!guard.ok()) return guard.error().Wrap("starting the audit capture");
  c->guard_.emplace(std::move(*guard));
  if (!c->guard_->registered_daemon()) {
    // Another audit daemon is alive (or registration was not wanted): read the multicast copy.
    auto multicast = AuditSocket::Open(AuditSocket::Mode::kMulticast, 64 << 20);
    if (!multicast.ok()) return multicast.error().Wrap("starting the audit capture");
    c->record_socket_.emplace(std::move(*multicast));
  }
  if (options.nflog_group) {
    auto nflog = NflogReader::Open(*options.nflog_group);
    if (!nflog.ok()) return nflog.error().Wrap("starting the audit capture");
    c->nflog_ = std::move(*nflog);
  }
  // Deaths by signal: no audit record exists for them.
  auto deaths = ProcExitReader::Open();
  if (!deaths.ok()) return deaths.error().Wrap("starting the audit capture");
  c->proc_exits_ = std::move(*deaths);
  Capture* self = c.get();
  c->correlator_ = std::make_unique<Correlator>([self](Event e) { self->callback_(std::move(e)); },
                                                options.pending_timeout);
  c->assembler_ = std::make_unique<EventAssembler>(
      [self](AuditEvent event) {
        DecodeCounts counts;
        std::vector<AuditFact> facts = DecodeAuditEvent(event, self->rule_key_, &counts);
        if (counts.seccomp_compat_refusals != 0) {
          std::lock_guard lock(self->mu_);
          self->decode_counts_.seccomp_compat_refusals += counts.seccomp_compat_refusals;
        }
        for (AuditFact& f : facts) self->correlator_->OnFact(std::move(f));
      },
      kStandaloneTimeout);
  c->wake_.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!c->wake_.valid()) return ErrnoError(ErrorCode::kOs, "creating an eventfd", errno);
  c->stopped_ = false;
  c->reader_ = std::thread([self] { self->Run(); });
  return c;
}

Capture::~Capture() {
  const Status s = Stop();
  if (!s.ok()) std::fprintf(stderr, "stockade audit capture: %s\n", s.error().ToString().c_str());
}

void Capture::AddSession(const std::string& session_id, std::int64_t root_pid, std::int64_t uid) {
  correlator_->AddSession(session_id, root_pid, uid);
}

Status Capture::EndSession(const std::string& session_id, std::chrono::milliseconds timeout) {
  const Status synced = Sync(timeout);
  correlator_->RemoveSession(session_id);
  return synced;
}

Status Capture::SendBarrierLocked(std::uint64_t* token) {
  const std::uint64_t t = ++barrier_sent_;
  const Status sent = command_socket_->SendUserMessage(
      kBarrierType, kBarrierText + std::to_string(::getpid()) + "-" + std::to_string(t));
  if (!sent.ok()) return sent.error().Wrap("sending the audit capture's barrier");
  for (auto& [held_token, death] : held_deaths_) {
    if (held_token == 0) held_token = t;
  }
  *token = t;
  return OkStatus();
}

Status Capture::Sync(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (stopped_) return Error(ErrorCode::kInternal, "audit capture is stopped");
  // Deaths already queued on the connector are released by this barrier.
  DrainDeathsLocked();
  std::uint64_t token = 0;
  STOCKADE_RETURN_IF_ERROR(SendBarrierLocked(&token));
  if (!barrier_cv_.wait_for(lock, timeout, [&] { return barrier_seen_ >= token; })) {
    return Error(ErrorCode::kTimeout, "the audit capture's barrier did not come back within " +
                                          std::to_string(timeout.count()) + " ms");
  }
  return OkStatus();
}

void Capture::DrainDeathsLocked() {
  if (!proc_exits_) return;
  const Status s = proc_exits_->ReadAvailable([this](const SignalDeath& d) {
    ++signal_deaths_;
    held_deaths_.emplace_back(0, d);
  });
  if (!s.ok()) std::fprintf(stderr, "stockade audit capture: %s\n", s.error().ToString().c_str());
}

void Capture::DrainNflog() {
  if (!nflog_) return;
  const Status s = nflog_->ReadAvailable([this](NflogPacket p) {
    {
      std::lock_guard lock(mu_);
      ++nflog_packets_;
    }
    correlator_->OnNflog(p);
  });
  if (!s.ok()) std::fprintf(stderr, "stockade audit capture: %s\n", s.error().ToString().c_str());
}

void Capture::OnRecord(RawRecord raw) {
  {
    std::lock_guard lock(mu_);
    ++records_;
  }
  if (raw.type == kBarrierType) {
    // "pid=N uid=0 ... msg='stockade-capture-barrier <pid>-<token>'"
    const std::string marker = kBarrierText + std::to_string(::getpid()) + "-";
    const auto at = raw.text.find(marker);
    if (at != std::string::npos) {
      const auto token = ParseInt(raw.text.substr(
          at + marker.size(), raw.text.find('\'', at + marker.size()) - (at + marker.size())));
      DrainNflog();  // packets queued before the barrier was sent are readable now
      if (token) {
        const auto seen = static_cast<std::uint64_t>(*token);
        std::vector<SignalDeath> release;
        {
          std::lock_guard lock(mu_);
          DrainDeathsLocked();
          for (auto it = held_deaths_.begin(); it != held_deaths_.end();) {
            if (it->first != 0 && it->first <= seen) {
              release.push_back(it->second);
              it = held_deaths_.erase(it);
            } else {
              ++it;
            }
          }
          if (internal_barrier_ != 0 && internal_barrier_ <= seen) internal_barrier_ = 0;
        }
        // Applied before the waiters of this barrier wake: EndSession sees them attributed.
        for (const SignalDeath& d : release) correlator_->OnSignalDeath(d);
        std::lock_guard lock(mu_);
        barrier_seen_ = std::max(barrier_seen_, seen);
        barrier_cv_.notify_all();
      }
      return;
    }
  }
  auto record = ParseAuditRecord(raw.type, raw.text);
  if (!record.ok()) {
    std::lock_guard lock(mu_);
    ++malformed_;
    return;
  }
  assembler_->Add(std::move(*record));
}

void Capture::Run() {
  auto next_tick = std::chrono::steady_clock::now() + kTick;
  for (;;) {
    pollfd fds[4] = {{record_socket_->fd(), POLLIN, 0},
                     {wake_.get(), POLLIN, 0},
                     {nflog_ ? nflog_->fd() : -1, POLLIN, 0},
                     {proc_exits_ ? proc_exits_->fd() : -1, POLLIN, 0}};
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        next_tick - std::chrono::steady_clock::now());
    const int ready = ::poll(fds, 4, static_cast<int>(std::max<long>(0, wait.count())));
    if (ready < 0 && errno != EINTR) break;
    if (fds[1].revents & POLLIN) break;
    if (fds[0].revents & POLLIN) {
      // Read everything queued now before looking at the clock again.
      for (;;) {
        auto r = record_socket_->Receive(std::chrono::milliseconds(0));
        if (!r.ok()) {
          std::fprintf(stderr, "stockade audit capture: %s\n", r.error().ToString().c_str());
          break;
        }
        if (!r->has_value()) break;
        try {
          OnRecord(std::move(**r));
        } catch (const std::exception& ex) {  // e.g. bad_alloc: drop the record, keep reading
          std::lock_guard lock(mu_);
          ++malformed_;
        }
      }
      std::lock_guard lock(mu_);
      socket_overruns_ = record_socket_->overruns();
    }
    if (fds[2].revents & POLLIN) DrainNflog();
    {
      // Deaths by signal wait for a barrier (see held_deaths_); one of ours at a time.
      std::lock_guard lock(mu_);
      if (fds[3].revents & POLLIN) DrainDeathsLocked();
      const bool unassigned = std::any_of(held_deaths_.begin(), held_deaths_.end(),
                                          [](const auto& h) { return h.first == 0; });
      if (unassigned && internal_barrier_ == 0 && !stopped_) {
        std::uint64_t token = 0;
        const Status sent = SendBarrierLocked(&token);
        if (sent.ok()) {
          internal_barrier_ = token;
        } else {
          std::fprintf(stderr, "stockade audit capture: %s\n", sent.error().ToString().c_str());
        }
      }
    }
    if (std::chrono::steady_clock::now() >= next_tick) {
      assembler_->Expire();
      correlator_->Expire();
      next_tick = std::chrono::steady_clock::now() + kTick;
    }
  }
  assembler_->Flush();
}

Status Capture::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return OkStatus();
  }
  // Records logged up to now are read first (best effort: a dead kernel queue must not hang
  // the shutdown).
  (void)Sync(std::chrono::milliseconds(2000));
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  const std::uint64_t one = 1;
  if (::write(wake_.get(), &one, sizeof(one)) != sizeof(one)) {
    // Cannot happen for an eventfd below its maximum; the join below would then hang.
    std::fprintf(stderr, "stockade audit capture: waking the reader failed\n");
  }
  if (reader_.joinable()) reader_.join();
  nflog_.reset();
  {
    std::lock_guard lock(mu_);
    proc_exits_.reset();
  }
  return guard_->Release();
}

CaptureStats Capture::Stats() {
  CaptureStats s;
  s.audit_daemon = guard_->registered_daemon();
  s.correlator = correlator_->stats();
  std::lock_guard lock(mu_);
  s.records = records_;
  s.malformed_records = malformed_;
  s.socket_overruns = socket_overruns_;
  s.nflog_packets = nflog_packets_;
  s.nflog_overruns = nflog_ ? nflog_->overruns() : 0;
  s.signal_deaths = signal_deaths_;
  s.seccomp_compat_refusals = decode_counts_.seccomp_compat_refusals;
  s.proc_connector_overruns = proc_exits_ ? proc_exits_->overruns() : 0;
  if (auto status = command_socket_->GetStatus(); status.ok()) {
    s.kernel_lost = status->lost - guard_->lost_at_start();
    s.backlog_limit = status->backlog_limit;
  }
  return s;
}

}  // namespace stockade::audit::linux_os
