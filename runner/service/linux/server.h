// `stockaded serve` on Linux: the Unix-socket broker. Accepts connections on a socket every local
// user can reach (mode 0666), authenticates each caller by SO_PEERCRED, authorises its
// RunRequest (runner/service/broker.h), builds the LaunchSpec from the policy
// (runner/service/spec_builder.h) and launches the tree with the descriptors the client passed
// (runner/linux/launcher.h). One thread per connection; many runs at once. The tree is killed as
// a whole when the client sends Signal, closes the connection (or dies), or the timeout expires.
// With audit_capture, every exec, exit and denial of each tree is recorded (ServiceCapture);
// with reap_orphans, the service is the trees' child subreaper (runner/service/linux/reaper.h).
// docs/runner-service.md has the life of a request; docs/protocol.md the messages.
#ifndef STOCKADE_RUNNER_SERVICE_LINUX_SERVER_H_
#define STOCKADE_RUNNER_SERVICE_LINUX_SERVER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "audit/recorder.h"
#include "core/error.h"
#include "core/policy/policy.h"
#include "runner/linux/cgroup.h"
#include "runner/linux/unique_fd.h"
#include "runner/service/linux/audit_capture.h"

namespace stockade::runner::service::linux_os {

struct ServerOptions {
  std::string state_dir;    // absolute; holds the journal (grants); denied to every tree
  std::string socket_path;  // absolute; a stale socket there is replaced, a live one refused
  Policy policy;
  // Root of the per-session temp folders ("{temp}" = <temp_root>/<session id>, owned by the
  // identity, removed after the run). "" = "<state_dir>-sessions". Not inside state_dir: that is
  // deny-read for the tree. Not in a world-writable place either (/var/tmp): another user could
  // create it first and deny the service.
  std::string temp_root;
  // How long a connection may take to send its first complete message.
  std::chrono::milliseconds request_timeout{10000};
  // Connections served at once; more are answered with an E_SERVICE_UNAVAILABLE "busy" error
  // and closed (a local user cannot exhaust the service's threads).
  std::size_t max_connections = 256;
  runner::linux_os::CgroupOptions cgroup;
  std::string runtime_dir;  // the launcher's ("" = /run/stockade)
  // Where session events go (start before the launch, end after it). A start event that cannot
  // be recorded refuses the run (fail closed) unless policy.audit.fail_open. Null: nothing is
  // recorded (tests of the service alone; `stockaded serve` always passes its store).
  audit::Recorder* recorder = nullptr;
  // Kernel audit capture of every exec, exit and denial of the trees (ServiceCapture; needs
  // `recorder`). A run starts only while the capture runs and follows its identity, unless
  // policy.audit.fail_open (then it runs unrecorded, with a warning). Off: session events only.
  bool audit_capture = false;
  // The capture's settings; its state_dir and runtime_dir default to the ones above.
  ServiceCaptureOptions capture;
  // Child subreaper: the trees' orphans become the service's children and are reaped (see
  // runner/service/linux/reaper.h). The process-wide attribute is put back at Stop().
  bool reap_orphans = false;
};

class Server {
 public:
  // Binds and listens, then serves on a background thread until Stop().
  // Errors: kNotElevated when not root; kAlreadyExists when a service already answers on the
  // socket; kIo / kOs naming the socket or folder that could not be created.
  static Expected<std::unique_ptr<Server>> Start(ServerOptions options);

  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Stops accepting, kills every running tree (their clients get no Exit), waits for every
  // connection thread, removes the socket. Idempotent.
  void Stop();

  const std::string& socket_path() const { return options_.socket_path; }
  // Connections being served now.
  std::size_t ActiveConnections() const;
  // With reap_orphans: reaps the zombies that are children of the calling thread. The kernel
  // hands a tree's orphans to the service's first live thread (its main thread), so that thread
  // calls this when SIGCHLD arrives (`stockaded serve`: and every second); it must be a thread
  // that launches no tree, so no tree root's status is ever taken from its launcher. Returns how
  // many it reaped.
  std::size_t ReapAdopted();
  // Housekeeping for the thread that called Start (`stockaded serve`: on SIGCHLD and every
  // second): ReapAdopted(), and a new attempt to start an audit capture that could not start
  // (another capture held the machine's lock, the identities did not exist yet), at most once
  // per retry interval. Runs are refused until it runs (fail closed) or unrecorded (fail_open).
  void Maintain();
  // Orphans of the trees reaped so far.
  std::uint64_t orphans_reaped() const { return orphans_reaped_; }
  // The audit capture (null without audit_capture).
  ServiceCapture* capture() { return capture_.get(); }

 private:
  explicit Server(ServerOptions options) : options_(std::move(options)) {}
  void AcceptLoop();
  void Serve(runner::linux_os::UniqueFd connection, std::uint64_t number);

  ServerOptions options_;
  std::unique_ptr<ServiceCapture> capture_;
  bool subreaper_was_ = false;
  bool subreaper_set_ = false;
  std::atomic<std::uint64_t> orphans_reaped_{0};
  runner::linux_os::UniqueFd listen_fd_;
  runner::linux_os::UniqueFd wake_fd_;  // eventfd: Stop() wakes the accept loop
  std::thread accept_thread_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::condition_variable idle_;
  std::set<int> open_connections_;  // guarded by mu_: shut down by Stop()
  std::size_t active_ = 0;          // guarded by mu_
  bool stopped_ = false;            // guarded by mu_
};

}  // namespace stockade::runner::service::linux_os

#endif  // STOCKADE_RUNNER_SERVICE_LINUX_SERVER_H_
