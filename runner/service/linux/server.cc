#include "runner/service/linux/server.h"

#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <vector>

#include "audit/event.h"
#include "core/log/logging.h"
#include "core/paths/path_rules.h"
#include "core/version.h"
#include "runner/linux/launcher.h"
#include "runner/protocol/linux/socket_io.h"
#include "runner/service/broker.h"
#include "runner/service/linux/reaper.h"
#include "runner/service/linux/system_facts.h"
#include "runner/service/session_audit.h"
#include "runner/service/session_id.h"
#include "runner/service/spec_builder.h"

namespace stockade::runner::service::linux_os {

namespace {

namespace proto = stockade::runner::protocol;
namespace pio = stockade::runner::protocol::linux_os;
using runner::linux_os::UniqueFd;

using Clock = std::chrono::steady_clock;

void SendError(int fd, const Error& error, proto::ErrorStage stage) {
  // Best effort: the peer may be gone already.
  (void)pio::WriteMessage(fd, proto::ToErrorMessage(error, stage));
}

sockaddr_un SocketAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

// Removes a socket left by a service that died; refuses when one still answers there.
Status ClearStaleSocket(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return OkStatus();
    return ErrnoError(ErrorCode::kIo, "lstat " + path, errno);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return Error(ErrorCode::kAlreadyExists,
                 path + " exists and is not a socket; refusing to replace it");
  }
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const sockaddr_un addr = SocketAddress(path);
  if (probe.valid() &&
      ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) {
    return Error(ErrorCode::kAlreadyExists,
                 "a Stockade service already listens on " + path + "; stop it first");
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoError(ErrorCode::kIo, "removing the stale socket " + path, errno);
  }
  return OkStatus();
}

// Creates `dir` (root-owned, exactly `mode`) when missing; an existing one must be a root-owned
// folder that is not a symlink, and gets `mode`.
Status EnsureRootDir(const std::string& dir, mode_t mode) {
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
    return ErrnoError(ErrorCode::kIo, "mkdir " + dir, errno);
  }
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) return ErrnoError(ErrorCode::kIo, "lstat " + dir, errno);
  if (!S_ISDIR(st.st_mode) || st.st_uid != 0) {
    return Error(ErrorCode::kPermissionDenied,
                 dir + " is not a root-owned folder (a symlink or another user's folder?)");
  }
  // mkdir applies the umask (077 in the service), and a folder left from an earlier run may have
  // another mode: set exactly the one asked for.
  if ((st.st_mode & 07777) != mode && ::chmod(dir.c_str(), mode) != 0) {
    return ErrnoError(ErrorCode::kIo, "chmod " + dir, errno);
  }
  return OkStatus();
}

// The per-session "{temp}": a fresh folder owned by the identity, mode 0700.
Expected<std::string> MakeSessionTemp(const std::string& root, const std::string& session,
                                      const Account& account) {
  STOCKADE_RETURN_IF_ERROR(EnsureRootDir(root, 0711));
  const std::string dir = root + "/" + session;
  if (::mkdir(dir.c_str(), 0700) != 0) return ErrnoError(ErrorCode::kIo, "mkdir " + dir, errno);
  if (::lchown(dir.c_str(), account.uid, account.gid) != 0) {
    const int err = errno;
    ::rmdir(dir.c_str());
    return ErrnoError(ErrorCode::kIo, "chown " + dir + " to " + account.name, err);
  }
  return dir;
}

void RemoveTree(const std::string& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);  // does not follow symlinks the tree left behind
  if (ec) log::Logger()->warn("could not remove the session temp folder {}: {}", dir, ec.message());
}

// How a launch failure is reported: the command itself (126/127) or the sandbox (125).
proto::ErrorStage StageOfLaunchFailure(const runner::linux_os::LaunchFailureInfo& info,
                                       Error* error) {
  if (info.program_not_found) {
    *error = Error(ErrorCode::kNotFound, error->context());
    return proto::ErrorStage::kExec;
  }
  if (info.step == runner::linux_os::SetupStep::kExec) {
    const ErrorCode code = info.err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kPermissionDenied;
    *error = Error(code, error->context(), error->os_kind(), error->os_error());
    return proto::ErrorStage::kExec;
  }
  return proto::ErrorStage::kSetup;
}

std::string UserName(std::uint32_t uid) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr) {
    return found->pw_name;
  }
  return std::to_string(uid);
}

std::string Describe(const Caller& c) {
  return "uid " + std::to_string(c.uid) + " pid " + std::to_string(c.pid);
}

// What a run needs from the server besides its options.
struct RunContext {
  const ServerOptions& options;
  ServiceCapture* capture;  // null: no kernel capture
};

// Runs one authorised request to its end on connection `fd`.
void RunSession(const RunContext& context, int fd, const Caller& caller,
                const proto::RunRequest& request, std::vector<UniqueFd> passed) {
  const ServerOptions& options = context.options;
  auto logger = log::Logger();
  if (passed.size() != request.PassedFdCount()) {
    SendError(fd,
              Error(ErrorCode::kProtocol,
                    "RunRequest.stdio names " + std::to_string(request.PassedFdCount()) +
                        " descriptor(s) but " + std::to_string(passed.size()) + " were passed"),
              proto::ErrorStage::kProtocol);
    return;
  }
  LinuxSystemFacts facts(options.state_dir);
  auto allowed = Authorize(options.policy, facts, caller, request);
  if (!allowed.ok()) {
    logger->warn("refused {} ({} in {}): {}", Describe(caller), request.identity, request.workspace,
                 allowed.error().ToString());
    SendError(fd, allowed.error(), proto::ErrorStage::kAuthorize);
    return;
  }
  auto session = NewSessionId();
  if (!session.ok()) {
    SendError(fd, session.error(), proto::ErrorStage::kService);
    return;
  }
  auto groups = AccountGroups(allowed->account);
  if (!groups.ok()) {
    SendError(fd, groups.error(), proto::ErrorStage::kSetup);
    return;
  }
  auto temp = MakeSessionTemp(
      options.temp_root.empty() ? options.state_dir + "-sessions" : options.temp_root, *session,
      allowed->account);
  if (!temp.ok()) {
    SendError(fd, temp.error().Wrap("session temp folder"), proto::ErrorStage::kSetup);
    return;
  }
  // From here on the temp folder is removed whatever happens.
  struct TempGuard {
    std::string dir;
    void Remove() {
      RemoveTree(dir);
      dir.clear();
    }
    ~TempGuard() { Remove(); }
  } temp_guard{*temp};

  SpecInputs in;
  in.kind = allowed->kind;
  in.identity.name = allowed->account.name;
  in.identity.uid = allowed->account.uid;
  in.identity.gid = allowed->account.gid;
  in.identity.supplementary_gids = *groups;
  in.workspace = allowed->workspace;
  in.cwd = allowed->cwd;
  in.temp = *temp;
  in.home = allowed->home;
  in.argv = request.argv;
  in.env = request.env;
  in.timeout = std::chrono::milliseconds(request.timeout_ms);
  in.extra_deny_read.push_back(options.state_dir);
  if (!paths::IsWithin(options.socket_path, options.state_dir, paths::NativeStyle())) {
    in.extra_deny_read.push_back(options.socket_path);
  }
  auto spec = BuildLaunchSpec(options.policy, in);
  if (!spec.ok()) {
    SendError(fd, spec.error().Wrap("building the sandbox from the policy"),
              proto::ErrorStage::kSetup);
    return;
  }

  UniqueFd dev_null;
  int stdio[3] = {-1, -1, -1};
  std::size_t next = 0;
  for (int i = 0; i < 3; ++i) {
    if (request.stdio[i] == proto::StdioKind::kFd) {
      stdio[i] = passed[next++].get();
      continue;
    }
    if (!dev_null.valid()) dev_null.Reset(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!dev_null.valid()) {
      SendError(fd, ErrnoError(ErrorCode::kIo, "open /dev/null", errno), proto::ErrorStage::kSetup);
      return;
    }
    stdio[i] = dev_null.get();
  }

  // Fail closed: no run starts whose processes and denials the capture would not see.
  if (context.capture != nullptr) {
    const Status covered = context.capture->EnsureCovers(allowed->account.uid);
    if (!covered.ok()) {
      if (!options.policy.audit.fail_open) {
        logger->error("session {}: not started, audit capture unavailable: {}", *session,
                      covered.error().ToString());
        SendError(fd, covered.error().Wrap("audit is fail-closed"), proto::ErrorStage::kService);
        return;
      }
      logger->warn("session {}: its processes and denials are NOT recorded (audit.fail_open): {}",
                   *session, covered.error().ToString());
    }
  }
  // seccomp refusals become audit records only while the capture reads them: otherwise the
  // kernel would print each one to the kernel log (LaunchSpec::log_seccomp_denials).
  spec->log_seccomp_denials = context.capture != nullptr && context.capture->running();
  // Fail closed: no run starts that the audit store does not know about (session_audit.h).
  SessionCaller audit_caller;
  audit_caller.uid = caller.uid;
  audit_caller.user = UserName(caller.uid);
  const audit::Event session_event =
      SessionStartEvent(options.policy, *session, audit_caller, *allowed, request, audit::NowNs());
  if (Status recorded = RecordSessionStart(options.recorder, options.policy, session_event);
      !recorded.ok()) {
    SendError(fd, recorded.error(), proto::ErrorStage::kService);
    return;
  }
  auto record_end = [&](const audit::ExitStatus& exit) {
    RecordSessionEnd(options.recorder, session_event, exit);
  };

  runner::linux_os::LaunchFailureInfo failure;
  runner::linux_os::LaunchOptions launch;
  launch.stdin_fd = stdio[0];
  launch.stdout_fd = stdio[1];
  launch.stderr_fd = stdio[2];
  launch.controlling_tty = request.tty.has_value();
  launch.cgroup = options.cgroup;
  launch.runtime_dir = options.runtime_dir;
  launch.failure_info = &failure;
  auto tree = runner::linux_os::ProcessTree::Launch(*spec, launch);
  // The tree holds its own copies now: ours must go, or a client reading the tree's stdout
  // pipe would never see its end.
  passed.clear();
  dev_null.Reset();
  if (!tree.ok()) {
    Error error = tree.error();
    const proto::ErrorStage stage = StageOfLaunchFailure(failure, &error);
    logger->warn("session {}: {} could not start {}: {}", *session, Describe(caller),
                 request.argv[0], error.ToString());
    SendError(fd, error, stage);
    record_end(audit::ExitStatus{});
    return;
  }
  // Right after the launch: records of the tree that arrived before are attributed now.
  if (context.capture != nullptr) {
    context.capture->AddSession(*session, tree->pid(), allowed->account.uid);
  }
  logger->info("session {}: {} started '{}' as {} in {} (pid {}, {} args)", *session,
               Describe(caller), request.argv[0], allowed->account.name, allowed->workspace,
               tree->pid(), request.argv.size());
  if (!pio::WriteMessage(fd, proto::StartedMessage{*session, tree->pid()}).ok()) {
    (void)tree->Kill();
  }

  const bool has_deadline = request.timeout_ms > 0;
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(request.timeout_ms);
  bool client_gone = false;
  std::string kill_reason;
  for (;;) {
    int wait_ms = -1;
    if (has_deadline) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) break;  // Wait() sees the expired deadline and kills the tree
      wait_ms = static_cast<int>(std::min<long long>(left, 1 << 30));
    }

    pollfd p[2] = {{tree->pidfd(), POLLIN, 0}, {fd, POLLIN, 0}};
    const int rc = ::poll(p, 2, wait_ms);
    if (rc < 0) {
      if (errno == EINTR) continue;
      kill_reason = "poll failed";
      (void)tree->Kill();
      break;
    }
    if (rc == 0) continue;
    if (p[0].revents != 0) break;  // the first process ended
    if (p[1].revents != 0) {
      auto msg = pio::ReadMessage(fd, std::chrono::seconds(5), 0);
      if (!msg.ok() || !msg->has_value()) {
        client_gone = true;
        kill_reason = msg.ok() ? "the client closed the connection"
                               : "the client connection failed: " + msg.error().ToString();
      } else if (const auto* sig = std::get_if<proto::SignalMessage>(&(*msg)->message)) {
        kill_reason = "the client sent signal " + std::to_string(sig->signal);
      } else {
        kill_reason = "unexpected " + proto::MessageTypeName(proto::TypeOf((*msg)->message));
        SendError(
            fd,
            Error(ErrorCode::kProtocol, "expected Signal during a run, got " +
                                            proto::MessageTypeName(proto::TypeOf((*msg)->message))),
            proto::ErrorStage::kProtocol);
        client_gone = true;
      }
      if (Status st = tree->Kill(); !st.ok()) {
        logger->error("session {}: killing the tree failed: {}", *session, st.error().ToString());
      }
      break;
    }
  }
  auto status = tree->Wait();
  // The tree is gone: its temp folder goes before the client hears the end of the run.
  temp_guard.Remove();
  // Every record of the tree logged so far is attributed before the session ends (the tree's
  // orphans were reaped by the main thread, see reaper.h; nothing else waits here); the session
  // end (Record, a synchronous commit) then also commits the run's queued events before the
  // client hears the exit.
  if (context.capture != nullptr) {
    if (Status ended = context.capture->EndSession(*session); !ended.ok()) {
      logger->warn("session {}: audit capture: {}", *session, ended.error().ToString());
    }
    context.capture->ReportUnattributed();
  }
  if (!status.ok()) {
    record_end(audit::ExitStatus{});
    logger->error("session {}: {}", *session, status.error().ToString());
    if (!client_gone) SendError(fd, status.error(), proto::ErrorStage::kService);
    return;
  }
  audit::ExitStatus exit;
  if (status->signal != 0) {
    // The signal itself, not 128+N (docs/audit-events.md, "exit").
    exit.signal = status->signal;
  } else {
    exit.code = status->code;
  }
  exit.timed_out = status->timed_out;
  exit.killed = status->killed;
  record_end(exit);
  logger->info("session {}: ended code {} signal {}{}{}{}", *session, status->code, status->signal,
               status->timed_out ? " (timed out)" : "",
               status->killed ? " (killed: " + kill_reason + ")" : "",
               status->oom_killed ? " (memory limit)" : "");
  if (!client_gone) {
    (void)pio::WriteMessage(
        fd, proto::ExitMessage{status->code, status->signal, status->timed_out, status->killed});
  }
}

}  // namespace

Expected<std::unique_ptr<Server>> Server::Start(ServerOptions options) {
  if (::geteuid() != 0) {
    return Error(ErrorCode::kNotElevated,
                 "stockaded must run as root (it switches to the sandbox identities and owns "
                 "their cgroups)");
  }
  if (options.socket_path.empty() || options.socket_path.size() >= sizeof(sockaddr_un::sun_path)) {
    return Error(ErrorCode::kPathInvalid,
                 "socket path '" + options.socket_path + "' is empty or longer than 107 bytes");
  }
  if (options.state_dir.empty() || options.state_dir[0] != '/') {
    return Error(ErrorCode::kPathInvalid,
                 "state folder '" + options.state_dir + "' is not an absolute path");
  }
  if (options.audit_capture && options.recorder == nullptr) {
    return Error(ErrorCode::kInvalidArgument, "the audit capture needs an audit store");
  }
  STOCKADE_RETURN_IF_ERROR(ClearStaleSocket(options.socket_path));
  std::unique_ptr<Server> server(new Server(std::move(options)));
  const ServerOptions& o = server->options_;
  if (o.reap_orphans) {
    // Before any tree starts: where a process's orphans go depends on the attribute its
    // ancestors had when it was forked.
    STOCKADE_RETURN_IF_ERROR(BecomeSubreaper(&server->subreaper_was_));
    server->subreaper_set_ = true;
  }
  if (o.audit_capture) {
    ServiceCaptureOptions copts = o.capture;
    if (copts.state_dir.empty()) copts.state_dir = o.state_dir;
    if (copts.runtime_dir.empty()) copts.runtime_dir = o.runtime_dir;
    server->capture_ = std::make_unique<ServiceCapture>(o.policy, o.recorder, std::move(copts));
    // A capture that cannot start now is retried at the next run; until then runs are refused
    // (fail closed) or run unrecorded (audit.fail_open). Start() logged why.
    if (!server->capture_->Start().ok() && o.policy.audit.fail_open) {
      log::Logger()->warn("audit.fail_open: runs start without kernel audit capture");
    }
  }

  server->listen_fd_.Reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!server->listen_fd_.valid()) return ErrnoError(ErrorCode::kOs, "socket(AF_UNIX)", errno);
  const sockaddr_un addr = SocketAddress(o.socket_path);
  if (::bind(server->listen_fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) !=
      0) {
    return ErrnoError(ErrorCode::kIo, "bind " + o.socket_path, errno);
  }
  // Every local user may connect: each request is authorised by SO_PEERCRED, not by the mode.
  if (::chmod(o.socket_path.c_str(), 0666) != 0) {
    return ErrnoError(ErrorCode::kIo, "chmod 0666 " + o.socket_path, errno);
  }
  if (::listen(server->listen_fd_.get(), 128) != 0) {
    return ErrnoError(ErrorCode::kOs, "listen on " + o.socket_path, errno);
  }
  server->wake_fd_.Reset(::eventfd(0, EFD_CLOEXEC));
  if (!server->wake_fd_.valid()) return ErrnoError(ErrorCode::kOs, "eventfd", errno);
  try {
    server->accept_thread_ = std::thread([s = server.get()] { s->AcceptLoop(); });
  } catch (const std::exception& e) {
    return Error(ErrorCode::kOs, std::string("starting the accept thread: ") + e.what());
  }
  log::Logger()->info("stockaded {} listening on {} (state {}, policy {}, identities {}-*)",
                      kVersion, o.socket_path, o.state_dir, o.policy.source,
                      o.policy.identity_prefix);
  return server;
}

Server::~Server() { Stop(); }

std::size_t Server::ReapAdopted() {
  if (!options_.reap_orphans) return 0;
  const std::size_t n = ReapZombiesOfThisThread(-1);
  orphans_reaped_ += n;
  return n;
}

void Server::Maintain() {
  ReapAdopted();
  if (capture_ && !stopping_ && !capture_->running()) (void)capture_->Start();
}

std::size_t Server::ActiveConnections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return active_;
}

void Server::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  stopping_ = true;
  const std::uint64_t one = 1;
  if (wake_fd_.valid()) (void)!::write(wake_fd_.get(), &one, sizeof(one));
  if (accept_thread_.joinable()) accept_thread_.join();
  std::unique_lock<std::mutex> lock(mu_);
  // Wakes every connection thread: each kills its tree (a closed client) and ends.
  for (int fd : open_connections_) ::shutdown(fd, SHUT_RDWR);
  idle_.wait(lock, [this] { return active_ == 0; });
  lock.unlock();
  if (listen_fd_.valid()) {
    ::unlink(options_.socket_path.c_str());
    listen_fd_.Reset();
  }
  // Every tree is gone: the capture stops and the kernel audit configuration is put back (and
  // read back: Stop names any difference).
  if (capture_) {
    if (Status stopped = capture_->Stop(); !stopped.ok()) {
      log::Logger()->error("audit capture: {}", stopped.error().ToString());
    }
  }
  if (subreaper_set_) {
    orphans_reaped_ += ReapZombiesOfThisThread(-1);
    RestoreSubreaper(subreaper_was_);
    subreaper_set_ = false;
  }
  // Every tree is gone: the parent cgroup the launcher made for them goes too.
  auto layout = runner::linux_os::DetectCgroupLayout();
  const Status removed =
      layout.ok() ? runner::linux_os::RemoveCgroupParent(*layout, options_.cgroup) : OkStatus();
  if (!removed.ok()) log::Logger()->warn("{}", removed.error().ToString());
  log::Logger()->info("stockaded stopped");
}

void Server::AcceptLoop() {
  std::uint64_t number = 0;
  while (!stopping_) {
    pollfd p[2] = {{listen_fd_.get(), POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log::Logger()->error("poll on the listening socket failed: {}", std::strerror(errno));
      return;
    }
    if (p[1].revents != 0 || stopping_) return;
    UniqueFd conn(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn.valid()) {
      if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN) {
        log::Logger()->warn("accept failed: {}", std::strerror(errno));
        // EMFILE and friends: do not spin.
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (active_ >= options_.max_connections) {
        SendError(
            conn.get(),
            Error(ErrorCode::kServiceUnavailable,
                  "the service is busy (" + std::to_string(active_) + " connections); try again"),
            protocol::ErrorStage::kService);
        continue;
      }
      ++active_;
      open_connections_.insert(conn.get());
    }
    const std::uint64_t id = ++number;
    try {
      std::thread([this, c = std::move(conn), id]() mutable { Serve(std::move(c), id); }).detach();
    } catch (const std::exception& e) {
      log::Logger()->error("could not start a connection thread: {}", e.what());
      std::lock_guard<std::mutex> lock(mu_);
      --active_;
      idle_.notify_all();
    }
  }
}

void Server::Serve(UniqueFd connection, std::uint64_t number) {
  const int fd = connection.get();
  try {
    auto caller = IdentifyPeer(fd, options_.cgroup.parent_name);
    if (!caller.ok()) {
      SendError(fd, caller.error(), protocol::ErrorStage::kService);
    } else {
      for (;;) {
        auto got = pio::ReadMessage(fd, options_.request_timeout, protocol::kMaxPassedFds);
        if (!got.ok()) {
          log::Logger()->warn("connection {} from {}: {}", number, Describe(*caller),
                              got.error().ToString());
          SendError(fd, got.error(), protocol::ErrorStage::kProtocol);
          break;
        }
        if (!got->has_value()) break;  // the client left
        protocol::Message& message = (*got)->message;
        if (std::holds_alternative<protocol::PingMessage>(message)) {
          if (!(*got)->fds.empty()) {
            SendError(fd, Error(ErrorCode::kProtocol, "Ping: descriptors passed with a Ping"),
                      protocol::ErrorStage::kProtocol);
            break;
          }
          protocol::PongMessage pong{protocol::kProtocolVersion, kVersion, ::getpid()};
          if (!pio::WriteMessage(fd, pong).ok()) break;
          continue;
        }
        if (auto* run = std::get_if<protocol::RunRequest>(&message)) {
          RunSession(RunContext{options_, capture_.get()}, fd, *caller, *run,
                     std::move((*got)->fds));
          break;
        }
        SendError(
            fd,
            Error(ErrorCode::kProtocol, "expected RunRequest or Ping first, got " +
                                            protocol::MessageTypeName(protocol::TypeOf(message))),
            protocol::ErrorStage::kProtocol);
        break;
      }
    }
  } catch (const std::exception& e) {
    // Nothing below throws on purpose; a bad_alloc must not take the whole service down.
    log::Logger()->error("connection {}: {}", number, e.what());
  }
  std::lock_guard<std::mutex> lock(mu_);
  open_connections_.erase(fd);
  connection.Reset();
  --active_;
  idle_.notify_all();
}

}  // namespace stockade::runner::service::linux_os
