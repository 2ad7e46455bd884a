#include "runner/service/serve.h"

#include <signal.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>

#include "audit/store.h"
#include "core/log/logging.h"
#include "core/paths/locations.h"
#include "core/policy/policy_loader.h"
#include "runner/protocol/endpoint.h"
#include "runner/service/linux/server.h"

namespace stockade::runner::service {

namespace {

// Warns when ordinary users cannot reach the socket: every folder above it needs "x" for others
// (a state folder of mode 0700 hides the socket from everybody but root).
void WarnIfUnreachable(const std::string& socket_path) {
  std::filesystem::path dir = std::filesystem::path(socket_path).parent_path();
  for (; !dir.empty(); dir = dir.parent_path()) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && (st.st_mode & S_IXOTH) == 0) {
      log::Logger()->warn(
          "{} (mode {:o}) is not searchable by other users: only root can reach the socket {}; "
          "give it mode 0711 or use --socket",
          dir.string(), st.st_mode & 07777, socket_path);
      return;
    }
    if (dir == dir.root_path()) return;
  }
}

}  // namespace

Status Serve(const ServeOptions& options) {
  std::string state_dir = options.state_dir.empty() ? paths::DefaultStateDir() : options.state_dir;
  std::error_code ec;
  state_dir = std::filesystem::absolute(state_dir, ec).lexically_normal().string();
  while (state_dir.size() > 1 && state_dir.back() == '/') state_dir.pop_back();

  log::LogOptions log_options;
  log_options.program = "stockaded";
  log_options.state_dir = state_dir;
  log_options.stderr_level =
      options.verbose > 0 ? log::StderrLevelForVerbosity(options.verbose) : log::Level::kInfo;
  STOCKADE_RETURN_IF_ERROR(log::InitLogging(log_options));

  auto policy = LoadEffectivePolicy(options.policy_path);
  if (!policy.ok()) return policy.error();

  linux_os::ServerOptions server_options;
  // The trees' orphans come to the service and are reaped (the machine's PID 1 may not reap).
  server_options.reap_orphans = true;
  server_options.state_dir = state_dir;
  server_options.socket_path = protocol::ServiceSocketPath(options.socket_path, state_dir);
  server_options.policy = std::move(*policy);

  // The audit store: only the service writes it. Without it no run starts (fail closed),
  // unless the policy says audit.fail_open.
  audit::StoreOptions store_options;
  store_options.path = audit::DefaultStorePath(state_dir);
  store_options.retention_days = static_cast<int>(server_options.policy.audit.retention_days);
  store_options.sync_every_batch = server_options.policy.audit.fsync;
  auto store = audit::Store::Open(store_options);
  if (store.ok()) {
    server_options.recorder = store->get();
    // Every exec, exit and denial of the trees, from the kernel (audit/linux/capture.h); a run
    // starts only while it is captured, unless audit.fail_open.
    server_options.audit_capture = true;
  } else if (server_options.policy.audit.fail_open) {
    log::Logger()->warn(
        "the audit store {} cannot be opened; runs are NOT recorded "
        "(audit.fail_open): {}",
        store_options.path, store.error().ToString());
  } else {
    return store.error().Wrap("opening the audit store (audit is fail-closed)");
  }

  // Signals are taken synchronously by this thread; every thread the server starts inherits the
  // mask, so none of them is interrupted by them (SIGPIPE: writes use MSG_NOSIGNAL anyway).
  // SIGCHLD too: an orphan of a tree that ends wakes this thread, which reaps it (the trees'
  // own roots are children of the connection threads and are never seen here).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD}) sigaddset(&stop_signals, sig);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto server = linux_os::Server::Start(server_options);
  if (!server.ok()) return server.error();
  WarnIfUnreachable(server_options.socket_path);
  for (;;) {
    // The kernel reparents the trees' orphans to this (the main) thread: they are reaped when
    // SIGCHLD says one ended, and every second in case signals coalesced
    // (runner/service/linux/reaper.h). A capture that could not start is retried here too.
    const timespec tick{1, 0};
    const int sig = sigtimedwait(&stop_signals, nullptr, &tick);
    (*server)->Maintain();
    if (sig < 0 || sig == SIGPIPE || sig == SIGCHLD) continue;
    log::Logger()->info("signal {} ({}): stopping", sig, strsignal(sig));
    break;
  }
  (*server)->Stop();
  if (store.ok()) {
    if (Status closed = (*store)->Close(); !closed.ok()) {
      log::Logger()->error("closing the audit store: {}", closed.error().ToString());
    }
  }
  log::ShutdownLogging();
  return OkStatus();
}

}  // namespace stockade::runner::service
