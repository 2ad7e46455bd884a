#include "audit/linux/kernel_audit_config.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "audit/linux/audit_rules.h"

namespace stockade::audit::linux_os {
namespace {

constexpr char kLockName[] = "audit-capture.lock";
constexpr char kSavedName[] = "audit-capture.saved";

bool PidAlive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

std::string SavedText(const AuditStatus& s, pid_t owner) {
  std::ostringstream out;
  out << "owner=" << owner << "\nenabled=" << s.enabled << "\nfailure=" << s.failure
      << "\npid=" << s.pid << "\nrate_limit=" << s.rate_limit
      << "\nbacklog_limit=" << s.backlog_limit << "\nbacklog_wait_time=" << s.backlog_wait_time
      << "\n";
  return out.str();
}

Status WriteFileDurably(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoError(ErrorCode::kIo, "creating " + tmp, errno);
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
      ::fsync(fd.get()) != 0) {
    return ErrnoError(ErrorCode::kIo, "writing " + tmp, errno);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return ErrnoError(ErrorCode::kIo, "renaming " + tmp + " to " + path, errno);
  }
  return OkStatus();
}

// The saved file of a killed capture: nullopt when there is none. kStateCorrupt when it cannot
// be parsed (it is then left in place for a human to look at).
Expected<std::optional<std::map<std::string, std::uint32_t>>> ReadSaved(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return std::optional<std::map<std::string, std::uint32_t>>();
    return ErrnoError(ErrorCode::kIo, "reading " + path, errno);
  }
  std::map<std::string, std::uint32_t> values;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const auto eq = line.find('=');
    std::uint32_t v = 0;
    if (eq == std::string::npos ||
        std::from_chars(line.data() + eq + 1, line.data() + line.size(), v).ec != std::errc()) {
      return Error(ErrorCode::kStateCorrupt,
                   path + ":" + std::to_string(line_no) + ": expected name=number");
    }
    values[line.substr(0, eq)] = v;
  }
  for (const char* need :
       {"owner", "enabled", "failure", "pid", "rate_limit", "backlog_limit", "backlog_wait_time"}) {
    if (!values.contains(need)) {
      return Error(ErrorCode::kStateCorrupt, path + ": missing " + need);
    }
  }
  return std::optional<std::map<std::string, std::uint32_t>>(std::move(values));
}

}  // namespace

Expected<KernelAuditSnapshot> TakeKernelAuditSnapshot(AuditSocket& socket) {
  KernelAuditSnapshot snap;
  auto status = socket.GetStatus();
  if (!status.ok()) return status.error();
  snap.status = *status;
  auto rules = socket.ListRules();
  if (!rules.ok()) return rules.error();
  snap.rules = std::move(*rules);
  return snap;
}

std::string DescribeSnapshotDifference(const KernelAuditSnapshot& before,
                                       const KernelAuditSnapshot& after) {
  std::string diff;
  if (!before.status.SameConfig(after.status)) {
    diff += "status was {" + before.status.Describe() + "}, is {" + after.status.Describe() + "}";
  }
  if (before.rules != after.rules) {
    if (!diff.empty()) diff += "; ";
    diff += "rule list was " + std::to_string(before.rules.size()) + " rules, is " +
            std::to_string(after.rules.size());
    for (const std::string& r : after.rules) {
      bool known = false;
      for (const std::string& b : before.rules) known = known || b == r;
      if (!known) diff += " (new rule with key '" + KeyOfRule(r) + "')";
    }
  }
  return diff;
}

KernelAuditGuard::KernelAuditGuard(KernelAuditGuard&& o) noexcept
    : command_(std::move(o.command_)),
      record_socket_(o.record_socket_),
      lock_fd_(std::move(o.lock_fd_)),
      saved_path_(std::move(o.saved_path_)),
      found_(std::move(o.found_)),
      changed_mask_(o.changed_mask_),
      registered_(o.registered_),
      added_rules_(std::move(o.added_rules_)),
      swept_rules_(o.swept_rules_),
      restored_saved_(o.restored_saved_),
      released_(o.released_) {
  o.released_ = true;
}

KernelAuditGuard::~KernelAuditGuard() {
  if (released_) return;
  const Status s = Release();
  if (!s.ok()) std::fprintf(stderr, "stockade audit capture: %s\n", s.error().ToString().c_str());
}

Expected<KernelAuditGuard> KernelAuditGuard::Acquire(const KernelAuditRequest& request,
                                                     AuditSocket* record_socket) {
  KernelAuditGuard g;
  g.record_socket_ = record_socket;
  if (::mkdir(request.runtime_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoError(ErrorCode::kIo, "creating " + request.runtime_dir, errno);
  }
  const std::string lock_path = request.runtime_dir + "/" + kLockName;
  g.lock_fd_.Reset(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!g.lock_fd_.valid()) return ErrnoError(ErrorCode::kIo, "opening " + lock_path, errno);
  if (::flock(g.lock_fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    return Error(ErrorCode::kAlreadyExists,
                 "another Stockade audit capture owns the kernel audit configuration (lock " +
                     lock_path + " is held)");
  }
  auto command = AuditSocket::Open(AuditSocket::Mode::kCommand);
  if (!command.ok()) return command.error();
  g.command_.emplace(std::move(*command));
  AuditSocket& cmd = *g.command_;

  // 1. What a killed predecessor left behind.
  g.saved_path_ = request.runtime_dir + "/" + kSavedName;
  auto saved = ReadSaved(g.saved_path_);
  if (!saved.ok()) return saved.error();
  if (saved->has_value()) {
    const auto& v = **saved;
    AuditStatus s;
    s.enabled = v.at("enabled");
    s.failure = v.at("failure");
    s.rate_limit = v.at("rate_limit");
    s.backlog_limit = v.at("backlog_limit");
    s.backlog_wait_time = v.at("backlog_wait_time");
    std::uint32_t mask = kStatusFailure | kStatusRateLimit | kStatusBacklogLimit |
                         kStatusBacklogWaitTime | kStatusEnabled;
    // Unregistering the dead daemon: the kernel first pings the registered one and drops it
    // when it is gone, then accepts pid 0.
    if (v.at("pid") == 0) mask |= kStatusPid;
    STOCKADE_RETURN_IF_ERROR(cmd.SetStatus(mask, s));
    ::unlink(g.saved_path_.c_str());
    g.restored_saved_ = true;
  }
  auto rules = cmd.ListRules();
  if (!rules.ok()) return rules.error();
  for (const std::string& r : *rules) {
    const auto owner = OwnerOfRuleKey(KeyOfRule(r));
    if (owner && (*owner == ::getpid() || !PidAlive(*owner))) {
      STOCKADE_RETURN_IF_ERROR(cmd.DeleteRule(r));
      ++g.swept_rules_;
    }
  }

  // 2. The configuration as found.
  auto found = TakeKernelAuditSnapshot(cmd);
  if (!found.ok()) return found.error();
  g.found_ = std::move(*found);
  if (g.found_.status.enabled == 2) {
    return Error(ErrorCode::kUnsupported,
                 "the kernel audit configuration is locked (enabled=2, auditctl -e 2) until "
                 "reboot: Stockade cannot add its rules");
  }
  STOCKADE_RETURN_IF_ERROR(WriteFileDurably(g.saved_path_, SavedText(g.found_.status, ::getpid())));
  g.released_ = false;  // from here on, the destructor undoes (errors below return g's undo)

  // 3. What capture needs.
  AuditStatus want = g.found_.status;
  std::uint32_t mask = 0;
  if (want.enabled != 1) {
    want.enabled = 1;
    mask |= kStatusEnabled;
  }
  if (want.backlog_limit < request.min_backlog_limit) {
    want.backlog_limit = request.min_backlog_limit;
    mask |= kStatusBacklogLimit;
  }
  if (mask != 0) {
    STOCKADE_RETURN_IF_ERROR(cmd.SetStatus(mask, want));
    g.changed_mask_ = mask;
  }
  if (request.register_daemon && g.found_.status.pid == 0 && record_socket != nullptr) {
    AuditStatus me;
    me.pid = static_cast<std::uint32_t>(::getpid());
    STOCKADE_RETURN_IF_ERROR(record_socket->SetStatus(kStatusPid, me));
    g.registered_ = true;
  }
  const std::string key = RuleKeyForPid(::getpid());
  for (const std::uint32_t uid : request.uids) {
    for (std::string& r : RulesForUid(uid, key)) {
      const Status added = cmd.AddRule(r);
      if (!added.ok()) {
        return added.error().Wrap("adding the audit rule for uid " + std::to_string(uid));
      }
      g.added_rules_.push_back(std::move(r));
    }
  }
  return g;
}

Status KernelAuditGuard::Release() {
  if (released_) return OkStatus();
  released_ = true;
  AuditSocket& cmd = *command_;
  std::string errors;
  for (auto it = added_rules_.rbegin(); it != added_rules_.rend(); ++it) {
    const Status s = cmd.DeleteRule(*it);
    if (!s.ok() && s.error().code() != ErrorCode::kNotFound) {
      errors += s.error().ToString() + "; ";
    }
  }
  added_rules_.clear();
  if (registered_) {
    AuditStatus none;  // pid 0: only the registered daemon (this process) may unregister
    const Status s = cmd.SetStatus(kStatusPid, none);
    if (!s.ok()) errors += s.error().Wrap("unregistering the audit daemon").ToString() + "; ";
    registered_ = false;
  }
  if (changed_mask_ != 0) {
    const Status s = cmd.SetStatus(changed_mask_, found_.status);
    if (!s.ok()) errors += s.error().Wrap("restoring the audit status").ToString() + "; ";
    changed_mask_ = 0;
  }
  auto now = TakeKernelAuditSnapshot(cmd);
  if (!now.ok()) return now.error().Wrap("reading the audit configuration back");
  const std::string diff = DescribeSnapshotDifference(found_, *now);
  if (!errors.empty() || !diff.empty()) {
    // The saved file stays: the next capture retries the restore.
    return Error(ErrorCode::kVerificationFailed,
                 "the kernel audit configuration was not put back as found: " + errors + diff);
  }
  ::unlink(saved_path_.c_str());
  lock_fd_.Reset();
  return OkStatus();
}

}  // namespace stockade::audit::linux_os
