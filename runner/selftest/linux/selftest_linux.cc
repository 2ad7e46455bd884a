// The Linux half of `stockade selftest`: prepares the targets, runs every probe through
// `stockade run` as a subprocess, and checks from outside what each one left behind.
//
// Targets (all removed at the end, whatever happened):
//  - <tmp>/stockade-selftest-<marker>/outside/ (mode 0777) holding canary.txt (0666): only the
//    sandbox stands between the tree and them, not file permissions;
//  - <workspace>/.stockade-selftest-<marker>/ (0775, inherits the workspace grant's default ACL):
//    the probes' scratch folder, with a git repository for git-status;
//  - the policy's protected names under the workspace (.git, .codex, .agents), created when
//    missing so that there is something to protect, removed again after;
//  - a canary file in the first deny-read folder of the policy that exists (or can be made) in
//    the invoking user's home;
//  - a victim process of the invoking user (stockade-probe victim) that logs signals;
//  - TCP/UDP listeners on this host's addresses (runner/selftest/linux/listeners.h);
//  - as root only: a setuid-root copy of stockade-probe; otherwise an existing setuid program.
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "core/paths/expand.h"
#include "core/paths/locations.h"
#include "core/policy/policy.h"
#include "core/policy/policy_loader.h"
#include "runner/protocol/endpoint.h"
#include "runner/protocol/messages.h"
#include "runner/selftest/linux/host_util.h"
#include "runner/selftest/linux/listeners.h"
#include "runner/selftest/selftest.h"

namespace stockade::runner::selftest {

namespace {

using linux_host::Exists;
using linux_host::ListDir;
using linux_host::ReadAll;
using linux_host::RemoveTree;
using linux_host::WriteAll;

// Folders the selftest makes in the workspace: group bits rwx so that the mask of an inherited
// default ACL (the workspace grant) keeps the identities' rwx; "other" r-x, so that nothing but
// the grant lets the identities write there.
constexpr mode_t kWorkspaceDirMode = 0775;

constexpr char kCanaryText[] = "stockade-selftest canary: must stay exactly like this\n";

std::string RandomMarker() {
  std::random_device rd;
  static const char kHex[] = "0123456789abcdef";
  std::string out = "stself";
  for (int i = 0; i < 10; ++i) out += kHex[rd() % 16];
  return out;
}

std::string Dirname(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

Expected<std::string> RealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) {
    return ErrnoError(ErrorCode::kNotFound, "resolve " + path, errno);
  }
  return std::string(buf);
}

Status MakeDir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return ErrnoError(ErrorCode::kIo, "mkdir " + path, errno);
  }
  // The umask must not decide (a default ACL's mask follows the mode's group bits).
  ::chmod(path.c_str(), mode);
  return OkStatus();
}

// What the orchestrator gives one probe and checks after it.
struct ProbePlan {
  std::vector<std::string> args;            // key=value
  std::vector<std::string> must_not_exist;  // paths the probe must not have created
  std::string skip;
};

// The service's pid, asked with a Ping (the Pong carries it); 0 when not reachable.
long long ServicePid(const std::string& socket_path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    ::close(fd);
    return 0;
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  long long pid = 0;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    // SO_PEERCRED of a connected Unix socket is the listener's process: the service.
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) pid = cred.pid;
    auto frame = protocol::EncodeMessage(protocol::PingMessage{});
    if (frame) ::send(fd, frame->data(), frame->size(), MSG_NOSIGNAL);
    std::uint8_t header[protocol::kHeaderBytes];
    timeval tv{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (::recv(fd, header, sizeof(header), MSG_WAITALL) == static_cast<ssize_t>(sizeof(header))) {
      auto h = protocol::DecodeHeader(header, sizeof(header));
      if (h && h->type == protocol::MessageType::kPong) {
        std::string payload(h->payload_bytes, '\0');
        if (::recv(fd, payload.data(), payload.size(), MSG_WAITALL) ==
            static_cast<ssize_t>(payload.size())) {
          auto m = protocol::DecodePayload(h->type, payload);
          if (m) {
            if (const auto* pong = std::get_if<protocol::PongMessage>(&*m)) pid = pong->pid;
          }
        }
      }
    }
  }
  ::close(fd);
  return pid;
}

class LinuxSelftest {
 public:
  explicit LinuxSelftest(const SelftestOptions& options) : options_(options) {}
  ~LinuxSelftest() { Cleanup(); }

  Status Prepare();
  Expected<SelftestReport> Run(const ProgressFn& progress);

 private:
  ProbePlan PlanFor(const ProbeInfo& info, Expectation expectation);
  Observation Execute(const ProbeInfo& info, const ProbePlan& plan);
  void CheckOutside(const ProbeInfo& info, const ProbePlan& plan, Observation* obs);
  Status StartVictim();
  void Cleanup();

  SelftestOptions options_;
  Policy policy_;
  bool online_ = false;
  std::string marker_;
  std::string stockade_;
  std::string probe_;
  std::string workspace_;
  std::string state_dir_;
  std::string socket_;
  std::string home_;
  std::string outside_root_;  // <tmp>/stockade-selftest-<marker>
  std::string outside_;       // .../outside (0777)
  std::string canary_;        // .../outside/canary.txt (0666)
  std::string scratch_;       // <workspace>/.stockade-selftest-<marker>
  std::vector<std::string> created_protected_;
  std::string deny_canary_;
  std::string deny_dir_created_;
  std::string victim_log_;
  pid_t victim_ = -1;
  long long service_pid_ = 0;
  std::string setuid_program_;
  std::string setuid_mode_;
  std::string cc_;
  std::string git_;
  std::string repo_;
  std::string ipv4_;
  std::string ipv6_;
  std::uint16_t allowed_port_ = 0;
  std::unique_ptr<linux_host::Listeners> listeners_;
  std::string network_skip_;
};

Status LinuxSelftest::Prepare() {
  online_ = options_.identity == "online";
  if (options_.identity != "offline" && options_.identity != "online") {
    return Error(ErrorCode::kInvalidArgument,
                 "--identity must be offline or online, not '" + options_.identity + "'");
  }
  marker_ = RandomMarker();
  stockade_ = options_.stockade_path;
  probe_ =
      options_.probe_path.empty() ? Dirname(stockade_) + "/stockade-probe" : options_.probe_path;
  if (::access(probe_.c_str(), X_OK) != 0) {
    return ErrnoError(ErrorCode::kNotFound, "stockade-probe not found beside stockade: " + probe_,
                      errno);
  }
  auto policy = LoadEffectivePolicy(options_.policy_path);
  if (!policy) return policy.error().Wrap("selftest: load the policy");
  policy_ = *policy;
  state_dir_ = !options_.state_dir.empty() ? options_.state_dir : paths::DefaultStateDir();
  socket_ = protocol::ServiceSocketPath(options_.socket_path, state_dir_);
  auto home = paths::CurrentUserHome();
  if (home) home_ = *home;
  auto ws = RealPath(options_.workspace.empty() ? "." : options_.workspace);
  if (!ws) return ws.error().Wrap("selftest: the workspace");
  workspace_ = *ws;

  // Outside the roots: a world-writable folder and canary, so that only the sandbox protects
  // them.
  auto tmp = paths::TempDir();
  outside_root_ = (tmp ? *tmp : std::string("/tmp")) + "/stockade-selftest-" + marker_;
  outside_ = outside_root_ + "/outside";
  canary_ = outside_ + "/canary.txt";
  STOCKADE_RETURN_IF_ERROR(MakeDir(outside_root_, 0755));
  STOCKADE_RETURN_IF_ERROR(MakeDir(outside_, 0777));
  STOCKADE_RETURN_IF_ERROR(WriteAll(canary_, kCanaryText, 0666));
  victim_log_ = outside_root_ + "/victim.log";
  STOCKADE_RETURN_IF_ERROR(WriteAll(victim_log_, "", 0644));

  // Inside the workspace: the probes' scratch folder.
  scratch_ = workspace_ + "/.stockade-selftest-" + marker_;
  STOCKADE_RETURN_IF_ERROR(MakeDir(scratch_, kWorkspaceDirMode));
  STOCKADE_RETURN_IF_ERROR(MakeDir(scratch_ + "/cc", kWorkspaceDirMode));
  for (const std::string& name : policy_.filesystem.protected_paths) {
    if (name.empty() || name.front() == '/' || name.find('/') != std::string::npos) continue;
    const std::string path = workspace_ + "/" + name;
    if (!Exists(path)) {
      STOCKADE_RETURN_IF_ERROR(MakeDir(path, kWorkspaceDirMode));
      created_protected_.push_back(path);
    }
  }
  for (const char* name : {".git", ".codex", ".agents"}) {
    const std::string path = workspace_ + "/" + name;
    if (!Exists(path)) {
      STOCKADE_RETURN_IF_ERROR(MakeDir(path, kWorkspaceDirMode));
      created_protected_.push_back(path);
    }
  }

  // A canary in a deny-read folder of the invoking user.
  if (!home_.empty()) {
    paths::ExpansionContext ctx;
    ctx.home = home_;
    ctx.workspace = workspace_;
    ctx.temp = outside_root_;
    for (const std::string& pattern : policy_.filesystem.deny_read) {
      auto path = paths::Expand(pattern, ctx);
      if (!path) continue;
      struct stat st {};
      bool usable = ::stat(path->c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
                    ::access(path->c_str(), W_OK) == 0;
      if (!usable && ::stat(path->c_str(), &st) != 0 && Exists(Dirname(*path)) &&
          ::mkdir(path->c_str(), 0755) == 0) {
        deny_dir_created_ = *path;
        usable = true;
      }
      if (!usable) continue;
      deny_canary_ = *path + "/stockade-selftest-" + marker_;
      if (!WriteAll(deny_canary_, "stockade-selftest deny-read canary\n", 0644)) {
        deny_canary_.clear();
        continue;
      }
      break;
    }
  }

  STOCKADE_RETURN_IF_ERROR(StartVictim());
  if (!options_.unprovisioned || Exists(socket_)) service_pid_ = ServicePid(socket_);

  // A setuid-root program: our own copy when we are root, else one the system has.
  if (::geteuid() == 0) {
    setuid_program_ = outside_root_ + "/setuid-probe";
    auto bytes = ReadAll(probe_);
    if (bytes && WriteAll(setuid_program_, *bytes, 0755) &&
        ::chown(setuid_program_.c_str(), 0, 0) == 0 &&
        ::chmod(setuid_program_.c_str(), 04755) == 0) {
      setuid_mode_ = "report";
    } else {
      setuid_program_.clear();
    }
  }
  if (setuid_program_.empty()) {
    for (const char* candidate : {"/usr/bin/passwd", "/usr/bin/su", "/bin/su", "/usr/bin/chsh"}) {
      struct stat st {};
      if (::stat(candidate, &st) == 0 && (st.st_mode & S_ISUID) != 0 && st.st_uid == 0) {
        setuid_program_ = candidate;
        setuid_mode_ = "observe";
        break;
      }
    }
  }

  // Tools for the allowed actions.
  for (const char* name : {"cc", "gcc", "clang"}) {
    cc_ = linux_host::FindInPath(name);
    if (!cc_.empty()) break;
  }
  git_ = linux_host::FindInPath("git");
  if (!git_.empty()) {
    repo_ = scratch_ + "/repo";
    STOCKADE_RETURN_IF_ERROR(MakeDir(repo_, kWorkspaceDirMode));
    auto init = linux_host::RunCaptured({git_, "init", "-q", repo_}, repo_, 30000);
    if (!init || init->status != 0) {
      repo_.clear();
    } else {
      // Something for git status to list; without it the check below would be empty.
      if (!WriteAll(repo_ + "/untracked.txt", "stockade-selftest\n", 0664)) repo_.clear();
    }
  }

  // Network targets.
  ipv4_ = linux_host::HostIPv4();
  ipv6_ = linux_host::HostIPv6();
  if (ipv6_.empty()) ipv6_ = "::1";
  std::vector<std::uint16_t> avoid = policy_.offline.loopback_ports;
  avoid.insert(avoid.end(), policy_.online.loopback_ports.begin(),
               policy_.online.loopback_ports.end());
  allowed_port_ = policy_.offline.loopback_ports.empty() ? 0 : policy_.offline.loopback_ports[0];
  auto listeners = linux_host::Listeners::Start(avoid, allowed_port_);
  if (!listeners) {
    network_skip_ = "could not open the selftest's listeners: " + listeners.error().ToString();
  } else {
    listeners_ = std::move(*listeners);
    if (!ipv4_.empty()) {
      const std::string err = linux_host::ConnectFromOutside(ipv4_, listeners_->tcp4_port());
      if (!err.empty()) network_skip_ = "the listener is not reachable even from outside: " + err;
    }
    // Drain the positive control's own connection (served asynchronously) before any probe,
    // so that it is not blamed on the first one.
    for (int i = 0; i < 200 && !ipv4_.empty(); ++i) {
      if (!listeners_->TakeContacts().empty()) break;
      ::usleep(10000);
    }
  }
  return OkStatus();
}

Status LinuxSelftest::StartVictim() {
  auto pid = linux_host::StartBackground({probe_, "victim", "log=" + victim_log_});
  if (!pid) return pid.error().Wrap("selftest: start the victim process");
  victim_ = *pid;
  // Until it has installed its handlers a signal would kill it for the wrong reason.
  for (int i = 0; i < 200 && !linux_host::Alive(victim_); ++i) ::usleep(5000);
  ::usleep(50000);
  return OkStatus();
}

void LinuxSelftest::Cleanup() {
  listeners_.reset();
  if (victim_ > 0) {
    ::kill(victim_, SIGKILL);
    ::waitpid(victim_, nullptr, 0);
    victim_ = -1;
  }
  // Anything of this run still alive (escapes) is killed, as far as this user can.
  std::vector<pid_t> pids;
  if (!marker_.empty()) linux_host::ProcessesWith(marker_, {}, &pids);
  for (pid_t p : pids) ::kill(p, SIGKILL);
  if (!deny_canary_.empty()) ::unlink(deny_canary_.c_str());
  if (!deny_dir_created_.empty()) ::rmdir(deny_dir_created_.c_str());
  for (const std::string& p : created_protected_) RemoveTree(p);
  created_protected_.clear();
  if (!scratch_.empty()) RemoveTree(scratch_);
  if (!outside_root_.empty()) RemoveTree(outside_root_);
  scratch_.clear();
  outside_root_.clear();
}

ProbePlan LinuxSelftest::PlanFor(const ProbeInfo& info, Expectation expectation) {
  ProbePlan plan;
  const std::string name = info.name;
  auto arg = [&](const std::string& key, const std::string& value) {
    plan.args.push_back(key + "=" + value);
  };
  const std::string tag = "stockade-selftest-" + marker_;
  if (name == "write-outside") {
    arg("path", outside_ + "/new-" + marker_);
    plan.must_not_exist.push_back(outside_ + "/new-" + marker_);
  } else if (name == "overwrite-canary" || name == "chmod-outside" || name == "proc-root") {
    arg("path", canary_);
  } else if (name == "write-git" || name == "write-codex" || name == "write-agents") {
    const std::string dir = workspace_ + "/." + name.substr(6);
    arg("path", dir + "/" + tag);
    plan.must_not_exist.push_back(dir + "/" + tag);
  } else if (name == "rename-protected") {
    arg("path", workspace_ + "/.git");
    plan.must_not_exist.push_back(workspace_ + "/.git.stockade-selftest-moved");
  } else if (name == "symlink-out" || name == "hardlink-out") {
    arg("link", scratch_ + "/" + name.substr(0, name.find('-')) + "-" + marker_);
    arg("target", canary_);
  } else if (name == "read-deny") {
    if (deny_canary_.empty()) {
      plan.skip = "no deny-read folder of the policy exists or can be made in " +
                  (home_.empty() ? std::string("the user's home") : home_);
    }
    arg("path", deny_canary_);
  } else if (name == "read-secrets") {
    if (!Exists(state_dir_)) plan.skip = "the state folder " + state_dir_ + " does not exist";
    arg("dir", state_dir_);
    if (Exists(state_dir_ + "/journal.db")) arg("file", state_dir_ + "/journal.db");
  } else if (name == "write-journal" || name == "write-audit") {
    const std::string dir = name == "write-journal" ? state_dir_ : state_dir_ + "/audit";
    const std::string file = dir + (name == "write-journal" ? "/journal.db" : "/audit.db");
    if (Exists(file)) {
      arg("path", file);
    } else if (Exists(dir)) {
      arg("dir", dir);
      plan.must_not_exist.push_back(dir + "/" + tag);
    } else {
      plan.skip = "neither " + file + " nor its folder exists (nothing provisioned here)";
    }
  } else if (name == "modify-policy") {
    if (policy_.source.empty() || policy_.source.front() != '/') {
      plan.skip = "the policy in force is the embedded default: there is no file to modify";
    }
    arg("path", policy_.source);
  } else if (name == "write-tmp") {
    auto tmp = paths::TempDir();
    const std::string path = (tmp ? *tmp : std::string("/tmp")) + "/" + tag + "-tmp";
    arg("path", path);
    plan.must_not_exist.push_back(path);
  } else if (name == "write-shm") {
    arg("path", "/dev/shm/" + tag);
    plan.must_not_exist.push_back("/dev/shm/" + tag);
  } else if (name == "write-home") {
    if (home_.empty() || !Exists(home_)) plan.skip = "the invoking user has no home folder";
    arg("path", home_ + "/" + tag);
    plan.must_not_exist.push_back(home_ + "/" + tag);
  } else if (name == "tcp-out" || name == "raw-icmp" || name == "icmp-ping" || name == "dns" ||
             name == "udp-out") {
    if (ipv4_.empty()) plan.skip = "this host has no non-loopback IPv4 address";
    if (!network_skip_.empty()) plan.skip = network_skip_;
    arg("host", ipv4_);
    if (name == "tcp-out") arg("port", std::to_string(listeners_ ? listeners_->tcp4_port() : 0));
    if (name == "udp-out" || name == "dns") {
      arg("port", std::to_string(listeners_ ? listeners_->udp_port() : 0));
    }
    if (name == "icmp-ping" && expectation == Expectation::kWorks) {
      // Ping sockets exist only for the groups in this range ("1 0" = none, Debian's default).
      std::ifstream in("/proc/sys/net/ipv4/ping_group_range");
      long lo = 1, hi = 0;
      in >> lo >> hi;
      if (lo > hi) {
        plan.skip = "ping sockets are disabled on this machine (net.ipv4.ping_group_range = " +
                    std::to_string(lo) + " " + std::to_string(hi) + ")";
      }
    }
  } else if (name == "ipv6-out") {
    if (!network_skip_.empty()) plan.skip = network_skip_;
    if (listeners_ && listeners_->tcp6_port() == 0) plan.skip = "no IPv6 listener could be bound";
    arg("host", ipv6_);
    arg("port", std::to_string(listeners_ ? listeners_->tcp6_port() : 0));
  } else if (name == "loopback-denied") {
    if (!network_skip_.empty()) plan.skip = network_skip_;
    arg("host", "127.0.0.1");
    arg("port", std::to_string(listeners_ ? listeners_->tcp4_port() : 0));
  } else if (name == "loopback-allowed") {
    if (allowed_port_ == 0) {
      plan.skip = "the policy gives the offline identity no loopback port";
    } else if (listeners_ && !listeners_->allowed_port_ours() &&
               !linux_host::ConnectFromOutside("127.0.0.1", allowed_port_).empty()) {
      plan.skip = "port " + std::to_string(allowed_port_) +
                  " is taken by something that does not accept connections";
    }
    arg("host", "127.0.0.1");
    arg("port", std::to_string(allowed_port_));
  } else if (name == "daemon" || name == "nohup") {
    arg("pidfile", scratch_ + "/" + name + ".pid");
  } else if (name == "ptrace-outside" || name == "signal-outside") {
    arg("pid", std::to_string(victim_));
  } else if (name == "kill-service") {
    arg("pid", std::to_string(service_pid_ > 0 ? service_pid_ : 1));
    arg("what", service_pid_ > 0 ? "the Stockade service" : "init");
  } else if (name == "setuid") {
    if (setuid_program_.empty()) plan.skip = "no setuid-root program found";
    arg("program", setuid_program_);
    arg("mode", setuid_mode_);
  } else if (name == "mount") {
    arg("path", scratch_);
  } else if (name == "forkbomb") {
    const long long limit = policy_.limits.max_processes;
    arg("count", std::to_string(std::min<long long>(limit + 32, 8192)));
    arg("limit", std::to_string(limit));
    if (limit == 0 || limit + 32 > 8192) {
      plan.skip =
          "the policy's process limit (" + std::to_string(limit) + ") is too high to exceed safely";
    }
  } else if (name == "memory") {
    const unsigned long long limit = policy_.limits.memory_mb;
    const unsigned long long want = limit + 64;
    unsigned long long available_mb = 0;
    std::ifstream in("/proc/meminfo");
    std::string key;
    unsigned long long kb = 0;
    std::string unit;
    while (in >> key >> kb >> unit) {
      if (key == "MemAvailable:") available_mb = kb / 1024;
    }
    arg("mb", std::to_string(want));
    arg("limit", std::to_string(limit));
    if (limit == 0 || want > available_mb / 2) {
      plan.skip = "the policy's memory limit (" + std::to_string(limit) +
                  " MiB) is too close to the free memory (" + std::to_string(available_mb) +
                  " MiB) to exceed safely";
    }
  } else if (name == "service-socket") {
    if (!Exists(socket_)) plan.skip = "no service socket at " + socket_;
    arg("socket", socket_);
  } else if (name == "workspace-write") {
    arg("dir", scratch_);
  } else if (name == "compile") {
    if (cc_.empty()) plan.skip = "no C compiler (cc, gcc, clang) in PATH";
    arg("dir", scratch_ + "/cc");
    arg("cc", cc_);
  } else if (name == "git-status") {
    if (git_.empty()) plan.skip = "git is not installed";
    if (!git_.empty() && repo_.empty()) plan.skip = "git init failed outside the sandbox";
    arg("repo", repo_);
    arg("git", git_);
    arg("expect", "untracked.txt");
  }
  arg("marker", marker_);
  return plan;
}

Observation LinuxSelftest::Execute(const ProbeInfo& info, const ProbePlan& plan) {
  Observation obs;
  std::vector<std::string> argv = {stockade_};
  if (!options_.policy_path.empty()) argv.insert(argv.end(), {"--policy", options_.policy_path});
  if (!options_.state_dir.empty()) argv.insert(argv.end(), {"--state-dir", options_.state_dir});
  argv.insert(argv.end(), {"run", "--identity", options_.identity, "--workspace", workspace_,
                           "--timeout", std::to_string(options_.probe_timeout.count())});
  if (options_.unprovisioned) argv.push_back("--unprovisioned");
  if (!options_.socket_path.empty()) argv.insert(argv.end(), {"--socket", options_.socket_path});
  argv.insert(argv.end(), {"--", probe_, info.name});
  argv.insert(argv.end(), plan.args.begin(), plan.args.end());
  auto ran = linux_host::RunCaptured(
      argv, workspace_, static_cast<int>(options_.probe_timeout.count() * 1000 + 30000));
  if (!ran) {
    obs.run_status = -1;
    obs.report_error = ran.error().ToString();
    return obs;
  }
  obs.run_status = ran->status;
  obs.run_output = ran->output;
  auto report = ParseProbeOutput(ran->output, info.name);
  if (report) {
    obs.report = *report;
  } else {
    obs.report_error = report.error().ToString();
  }
  return obs;
}

void LinuxSelftest::CheckOutside(const ProbeInfo& info, const ProbePlan& plan, Observation* obs) {
  const std::string name = info.name;
  // Survivors: every process of the run carries the marker in its command line.
  std::vector<pid_t> pids;
  std::vector<std::string> survivors = linux_host::ProcessesWith(marker_, {victim_}, &pids);
  if (!survivors.empty()) {
    for (const std::string& s : survivors) obs->outside.push_back("survived the run: " + s);
    for (pid_t p : pids) ::kill(p, SIGKILL);
  } else if (JudgedOutside(info)) {
    obs->notes.push_back("no process of the run is alive after it (checked from outside)");
  }
  // The canary, its mode and the folder around it.
  auto text = ReadAll(canary_);
  struct stat st {};
  ::stat(canary_.c_str(), &st);
  if (!text || *text != kCanaryText) {
    obs->outside.push_back("the canary " + canary_ + " was changed");
    if (!WriteAll(canary_, kCanaryText, 0666)) {
      obs->outside.push_back("and it could not be restored");
    }
  } else if ((st.st_mode & 07777) != 0666) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "%04o", st.st_mode & 07777);
    obs->outside.push_back("the canary's mode changed to " + std::string(buf));
    ::chmod(canary_.c_str(), 0666);
  } else if (name == "overwrite-canary" || name == "symlink-out" || name == "hardlink-out" ||
             name == "chmod-outside" || name == "proc-root") {
    obs->notes.push_back("canary unchanged");
  }
  if (ListDir(outside_) != std::vector<std::string>{"canary.txt"}) {
    obs->outside.push_back("new entries in " + outside_);
    for (const std::string& e : ListDir(outside_)) {
      if (e != "canary.txt") RemoveTree(outside_ + "/" + e);
    }
  }
  for (const std::string& path : plan.must_not_exist) {
    if (Exists(path)) {
      obs->outside.push_back(path + " exists after the run");
      RemoveTree(path);
    }
  }
  if (name == "rename-protected" && !Exists(workspace_ + "/.git")) {
    obs->outside.push_back(workspace_ + "/.git is gone");
  }
  // The victim: alive, and no signal delivered.
  auto log = ReadAll(victim_log_);
  if (log && !log->empty()) {
    std::string got = *log;
    std::replace(got.begin(), got.end(), '\n', ' ');
    obs->outside.push_back("the victim (pid " + std::to_string(victim_) + ") received: " + got);
    if (!WriteAll(victim_log_, "", 0644)) obs->outside.push_back("(victim log not reset)");
  }
  if (!linux_host::Alive(victim_)) {
    obs->outside.push_back("the victim (pid " + std::to_string(victim_) + ") was killed");
    ::waitpid(victim_, nullptr, WNOHANG);
    if (Status restarted = StartVictim(); !restarted) {
      obs->outside.push_back("and it could not be restarted: " + restarted.error().ToString());
    }
  } else if (name == "ptrace-outside" || name == "signal-outside") {
    obs->notes.push_back("victim alive and unsignalled");
  }
  // Network: a contact on a listener the expectation says is unreachable.
  if (listeners_) {
    std::vector<std::string> contacts = listeners_->TakeContacts();
    const bool network_probe = info.network != NetworkRole::kNone;
    if (!contacts.empty() && network_probe &&
        ExpectationFor(info, online_) == Expectation::kBlocked) {
      for (const std::string& c : contacts) obs->outside.push_back("listener saw a " + c);
    } else if (!contacts.empty() && !network_probe) {
      for (const std::string& c : contacts) obs->outside.push_back("listener saw a " + c);
    } else if (!contacts.empty()) {
      obs->notes.push_back("listener saw: " + contacts.front());
    }
  }
}

Expected<SelftestReport> LinuxSelftest::Run(const ProgressFn& progress) {
  SelftestReport report;
  report.platform = "linux";
  report.identity = options_.identity;
  report.unprovisioned = options_.unprovisioned;
  report.workspace = workspace_;
  std::vector<const ProbeInfo*> probes = ProbesFor(Platform::kLinux);
  // workspace-write first: if `stockade run` itself cannot run anything, stop with its error.
  std::stable_partition(probes.begin(), probes.end(), [](const ProbeInfo* p) {
    return std::string_view(p->name) == "workspace-write";
  });
  bool first = true;
  for (const ProbeInfo* info : probes) {
    if (!options_.only.empty() &&
        std::find(options_.only.begin(), options_.only.end(), info->name) == options_.only.end()) {
      continue;
    }
    const Expectation expectation = ExpectationFor(*info, online_);
    const auto start = std::chrono::steady_clock::now();
    ProbePlan plan = PlanFor(*info, expectation);
    Observation obs;
    if (!plan.skip.empty()) {
      obs.skip_reason = plan.skip;
    } else {
      obs = Execute(*info, plan);
      if (first && !obs.report) {
        // stockade run's own failures (docs/exit-codes.md) mean no probe can run.
        const int s = obs.run_status;
        if (s == 2 || s == 8 || s == 122 || s == 125 || s == 126 || s == 127 || s < 0) {
          const ErrorCode code = s == 8     ? ErrorCode::kServiceUnavailable
                                 : s == 122 ? ErrorCode::kNotGranted
                                            : ErrorCode::kOs;
          std::string out = obs.run_output;
          while (!out.empty() && out.back() == '\n') out.pop_back();
          return Error(code, "selftest: `stockade run` cannot run the probes (exit status " +
                                 std::to_string(s) + "): " + out);
        }
      }
      first = false;
      CheckOutside(*info, plan, &obs);
    }
    ProbeResult result = Judge(*info, expectation, options_.unprovisioned, obs);
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (progress) progress(result);
    report.results.push_back(std::move(result));
  }
  return report;
}

}  // namespace

std::string ThisExecutablePath() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

Expected<SelftestReport> RunSelftest(const SelftestOptions& options, const ProgressFn& progress) {
  LinuxSelftest selftest(options);
  STOCKADE_RETURN_IF_ERROR(selftest.Prepare());
  return selftest.Run(progress);
}

}  // namespace stockade::runner::selftest
