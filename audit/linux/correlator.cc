#include "audit/linux/correlator.h"

#include <sys/random.h>

#include <cstdio>
#include <exception>
#include <set>
#include <utility>

namespace stockade::audit::linux_os {
namespace {

std::int64_t FactPid(const AuditFact& f) {
  return std::visit(
      [](const auto& v) -> std::int64_t {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, ForkFact>) {
          return v.parent_pid;
        } else {
          return v.pid;
        }
      },
      f);
}

std::int64_t FactPpid(const AuditFact& f) {
  if (const auto* e = std::get_if<ExecFact>(&f)) return e->ppid;
  if (const auto* d = std::get_if<DenialFact>(&f)) return d->ppid;
  return 0;
}

}  // namespace

Correlator::Correlator(Sink sink, std::chrono::milliseconds pending_timeout)
    : sink_(std::move(sink)), pending_timeout_(pending_timeout) {
  // The high half of every GUID: random per correlator, so GUIDs of different service runs on
  // one host never collide; the low half counts.
  if (::getrandom(&guid_high_, sizeof(guid_high_), 0) != sizeof(guid_high_)) {
    guid_high_ = static_cast<std::uint64_t>(NowNs());
  }
}

std::string Correlator::NewGuid() {
  const std::uint64_t lo = ++guid_counter_;
  char buf[40];
  std::snprintf(
      buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(guid_high_ >> 32),
      static_cast<unsigned>((guid_high_ >> 16) & 0xffff),
      static_cast<unsigned>(guid_high_ & 0xffff), static_cast<unsigned>((lo >> 48) & 0xffff),
      static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

void Correlator::Emit(std::vector<Event> events) {
  for (Event& e : events) {
    // The sink is the service's code, called from the capture's reader thread: nothing it
    // throws may end that thread (or escape the module).
    try {
      sink_(std::move(e));
    } catch (const std::exception& ex) {
      std::fprintf(stderr, "stockade audit capture: the event callback failed: %s\n", ex.what());
    } catch (...) {
      std::fprintf(stderr, "stockade audit capture: the event callback failed\n");
    }
  }
}

void Correlator::AddSession(const std::string& session_id, std::int64_t root_pid,
                            std::int64_t uid) {
  std::vector<Event> out;
  std::unique_lock lock(mu_);
  sessions_[session_id] = Session{root_pid, uid, ++next_order_};
  roots_[root_pid] = session_id;
  Retry({root_pid}, &out);
  for (auto it = pending_nflog_.begin(); it != pending_nflog_.end();) {
    it = NflogDenial(it->first, &out) ? pending_nflog_.erase(it) : std::next(it);
  }
  std::unique_lock emit(emit_mu_);
  lock.unlock();
  Emit(std::move(out));
}

void Correlator::RemoveSession(const std::string& session_id) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) return;
  roots_.erase(it->second.root_pid);
  sessions_.erase(it);
  for (auto p = procs_.begin(); p != procs_.end();) {
    p = p->second.session == session_id ? procs_.erase(p) : std::next(p);
  }
}

void Correlator::OnFact(AuditFact fact) {
  std::vector<Event> out;
  std::vector<std::int64_t> tracked;
  std::unique_lock lock(mu_);
  if (Apply(fact, &out, &tracked)) {
    Retry(std::move(tracked), &out);
  } else {
    Queue(std::move(fact));
  }
  std::unique_lock emit(emit_mu_);
  lock.unlock();
  Emit(std::move(out));
}

void Correlator::OnSignalDeath(const SignalDeath& death) {
  ExitFact fact;
  fact.pid = death.pid;
  fact.time = death.time;
  fact.signal = death.signal;
  std::vector<Event> out;
  std::unique_lock lock(mu_);
  auto it = procs_.find(death.pid);
  if (it != procs_.end()) {
    std::vector<std::int64_t> tracked;
    if (Apply(fact, &out, &tracked)) Retry(std::move(tracked), &out);
  } else if (pending_by_pid_.count(death.pid) != 0) {
    Queue(fact);  // after the pid's pending exec: retried in arrival order
  } else {
    return;  // not a process of any session
  }
  std::unique_lock emit(emit_mu_);
  lock.unlock();
  Emit(std::move(out));
}

void Correlator::Queue(AuditFact fact) {
  const std::uint64_t id = ++next_pending_;
  const std::int64_t pid = FactPid(fact);
  const std::int64_t ppid = FactPpid(fact);
  pending_by_pid_.emplace(pid, id);
  if (ppid != 0 && ppid != pid) pending_by_pid_.emplace(ppid, id);
  pending_.emplace(id, Pending{std::move(fact), std::chrono::steady_clock::now()});
}

void Correlator::Retry(std::vector<std::int64_t> tracked, std::vector<Event>* out) {
  while (!tracked.empty()) {
    std::set<std::uint64_t> ids;
    for (const std::int64_t pid : tracked) {
      auto [b, e] = pending_by_pid_.equal_range(pid);
      for (auto it = b; it != e; ++it) ids.insert(it->second);
    }
    tracked.clear();
    bool progress = false;
    for (const std::uint64_t id : ids) {  // in arrival order
      auto it = pending_.find(id);
      if (it == pending_.end()) continue;
      if (!Apply(it->second.fact, out, &tracked)) continue;
      progress = true;
      const std::int64_t pid = FactPid(it->second.fact);
      const std::int64_t ppid = FactPpid(it->second.fact);
      for (const std::int64_t key : {pid, ppid}) {
        auto [b, e] = pending_by_pid_.equal_range(key);
        for (auto x = b; x != e;) x = x->second == id ? pending_by_pid_.erase(x) : std::next(x);
      }
      pending_.erase(it);
    }
    if (!progress) break;
  }
}

void Correlator::Expire() {
  std::lock_guard lock(mu_);
  const auto limit = std::chrono::steady_clock::now() - pending_timeout_;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.since > limit) break;  // arrival order: the rest are younger
    const std::uint64_t id = it->first;
    for (const std::int64_t key : {FactPid(it->second.fact), FactPpid(it->second.fact)}) {
      auto [b, e] = pending_by_pid_.equal_range(key);
      for (auto x = b; x != e;) x = x->second == id ? pending_by_pid_.erase(x) : std::next(x);
    }
    it = pending_.erase(it);
    ++stats_.unattributed;
  }
  while (!pending_nflog_.empty() && pending_nflog_.front().second <= limit) {
    pending_nflog_.pop_front();
    ++stats_.unattributed;
  }
}

CorrelatorStats Correlator::stats() const {
  std::lock_guard lock(mu_);
  CorrelatorStats s = stats_;
  s.pending = pending_.size() + pending_nflog_.size();
  return s;
}

bool Correlator::Apply(const AuditFact& fact, std::vector<Event>* out,
                       std::vector<std::int64_t>* tracked) {
  if (const auto* e = std::get_if<ExecFact>(&fact)) return ApplyExec(*e, out, tracked);
  if (const auto* f = std::get_if<ForkFact>(&fact)) return ApplyFork(*f, tracked);
  if (const auto* x = std::get_if<ExitFact>(&fact)) return ApplyExit(*x, out);
  return ApplyDenial(std::get<DenialFact>(fact), out);
}

bool Correlator::ApplyExec(const ExecFact& f, std::vector<Event>* out,
                           std::vector<std::int64_t>* tracked) {
  std::string session, parent_guid;
  std::int64_t parent_pid = 0;
  auto self = procs_.find(f.pid);
  auto parent = procs_.find(f.ppid);
  if (self != procs_.end() && self->second.ppid == f.ppid) {
    // A tracked fork child, or an exec chain: the image it replaces is the parent.
    session = self->second.session;
    parent_guid = self->second.guid;
    parent_pid = self->second.guid_pid;
  } else if (parent != procs_.end()) {
    session = parent->second.session;
    parent_guid = parent->second.guid;
    parent_pid = parent->second.guid_pid;
  } else if (self != procs_.end()) {
    // Reparented (its parent died before it exec'd).
    session = self->second.session;
    parent_guid = self->second.guid;
    parent_pid = self->second.guid_pid;
  } else if (auto root = roots_.find(f.pid); root != roots_.end()) {
    const Session& s = sessions_[root->second];
    if (s.uid >= 0 && f.uid >= 0 && s.uid != f.uid) return false;
    session = root->second;
    parent_pid = f.ppid;  // the service's launcher: outside the tree, no GUID
  } else {
    return false;
  }
  Proc p;
  p.session = session;
  p.guid = NewGuid();
  p.guid_pid = f.pid;
  p.parent_guid = parent_guid;
  p.parent_pid = parent_pid;
  p.ppid = f.ppid;
  p.own_exec = true;
  p.time = f.time;
  p.start = f.time;
  p.image = f.image;
  p.cwd = f.cwd;
  p.argv = f.argv;

  Event ev;
  ev.time = f.time;
  ev.session_id = session;
  ProcessEvent pe;
  pe.phase = ProcessPhase::kExec;
  pe.process_guid = p.guid;
  pe.pid = f.pid;
  pe.parent_guid = parent_guid;
  pe.parent_pid = parent_pid;
  pe.image = f.image;
  pe.argv = f.argv;
  pe.cwd = f.cwd;
  pe.uid = f.uid;
  pe.start_time = f.time;
  ev.body = std::move(pe);
  out->push_back(std::move(ev));
  ++stats_.exec_events;
  procs_[f.pid] = std::move(p);
  tracked->push_back(f.pid);
  return true;
}

bool Correlator::ApplyFork(const ForkFact& f, std::vector<std::int64_t>* tracked) {
  auto parent = procs_.find(f.parent_pid);
  if (parent == procs_.end()) return false;
  auto child = procs_.find(f.child_pid);
  // The child may have exec'd (and been tracked through its ppid) before the parent's clone
  // returned: that entry is newer than the fork and stays. An older entry is a reused pid.
  if (child != procs_.end() && child->second.time >= f.time && child->second.ppid == f.parent_pid) {
    return true;
  }
  Proc p;
  p.session = parent->second.session;
  p.guid = parent->second.guid;
  p.guid_pid = parent->second.guid_pid;
  p.parent_guid = parent->second.parent_guid;
  p.parent_pid = parent->second.parent_pid;
  p.ppid = f.parent_pid;
  p.own_exec = false;
  p.time = f.time;
  procs_[f.child_pid] = std::move(p);
  ++stats_.forks_tracked;
  tracked->push_back(f.child_pid);
  return true;
}

bool Correlator::ApplyExit(const ExitFact& f, std::vector<Event>* out) {
  auto it = procs_.find(f.pid);
  if (it == procs_.end()) return false;
  const Proc& p = it->second;
  if (p.own_exec) {
    Event ev;
    ev.time = f.time;
    ev.session_id = p.session;
    ProcessEvent pe;
    pe.phase = ProcessPhase::kExit;
    pe.process_guid = p.guid;
    pe.pid = f.pid;
    pe.parent_guid = p.parent_guid;
    pe.parent_pid = p.parent_pid;
    pe.image = p.image;
    pe.argv = p.argv;
    pe.cwd = p.cwd;
    pe.uid = f.uid;
    if (pe.uid < 0) {  // a death by signal: the connector does not say; the session's identity
      auto s = sessions_.find(p.session);
      if (s != sessions_.end()) pe.uid = s->second.uid;
    }
    pe.start_time = p.start;
    pe.end_time = f.time;
    if (f.signal != 0) {
      pe.exit.signal = f.signal;
    } else {
      pe.exit.code = f.code;
    }
    ev.body = std::move(pe);
    out->push_back(std::move(ev));
    ++stats_.exit_events;
  }
  procs_.erase(it);
  return true;
}

bool Correlator::ApplyDenial(const DenialFact& f, std::vector<Event>* out) {
  std::string session, guid;
  if (auto it = procs_.find(f.pid); it != procs_.end()) {
    session = it->second.session;
    guid = it->second.guid;
  } else if (auto parent = procs_.find(f.ppid); parent != procs_.end()) {
    session = parent->second.session;
    guid = parent->second.guid;  // a fork child not tracked yet runs its parent's image
  } else if (auto root = roots_.find(f.pid); root != roots_.end()) {
    session = root->second;  // the first process, before its exec
  } else if (f.pid == 0) {
    // Logged outside any syscall: only the uid is known.
    int count = 0;
    session = SessionOfUid(f.uid, &count);
    if (session.empty()) return false;
  } else {
    return false;
  }
  Event ev;
  ev.time = f.time;
  ev.session_id = session;
  DenialEvent d = f.denial;
  d.process_guid = guid;
  d.pid = f.pid;
  ev.body = std::move(d);
  out->push_back(std::move(ev));
  ++stats_.denial_events;
  return true;
}

std::string Correlator::SessionOfUid(std::int64_t uid, int* count) const {
  std::string best;
  std::uint64_t best_order = 0;
  *count = 0;
  for (const auto& [id, s] : sessions_) {
    if (s.uid != uid) continue;
    ++*count;
    if (s.order > best_order) {
      best_order = s.order;
      best = id;
    }
  }
  return best;
}

bool Correlator::NflogDenial(const NflogPacket& packet, std::vector<Event>* out) {
  if (!packet.uid) return false;
  int count = 0;
  const std::string session = SessionOfUid(*packet.uid, &count);
  if (session.empty()) return false;
  Event ev;
  ev.time = packet.time;
  ev.session_id = session;
  DenialEvent d;
  d.category = DenialCategory::kNetwork;
  d.target = packet.destination;
  d.access = (packet.protocol == "tcp" ? "connect " : "send ") + packet.protocol;
  d.source = DenialSource::kNflog;
  d.evidence = DescribeNflogPacket(packet);
  if (count > 1) {
    d.evidence += " (attributed to the most recent of " + std::to_string(count) +
                  " sessions of this uid: NFLOG carries no pid)";
  }
  ev.body = std::move(d);
  out->push_back(std::move(ev));
  ++stats_.denial_events;
  return true;
}

void Correlator::OnNflog(const NflogPacket& packet) {
  std::vector<Event> out;
  std::unique_lock lock(mu_);
  if (!NflogDenial(packet, &out)) {
    if (packet.uid) {
      pending_nflog_.emplace_back(packet, std::chrono::steady_clock::now());
    } else {
      ++stats_.unattributed;  // no local socket: nothing to attribute it to
    }
  }
  std::unique_lock emit(emit_mu_);
  lock.unlock();
  Emit(std::move(out));
}

}  // namespace stockade::audit::linux_os
