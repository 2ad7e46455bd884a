#include "provision/linux/service_step.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "core/log/logging.h"
#include "provision/linux/process.h"
#include "provision/linux/step_params.h"
#include "runner/protocol/linux/connection.h"

namespace stockade::provision::linux_os {

namespace {

constexpr int kStartTimeoutMs = 10000;
constexpr int kStopTimeoutMs = 10000;
constexpr int kKillTimeoutMs = 3000;
constexpr char kDaemonPath[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";

bool IsAbsolute(const std::string& p) { return !p.empty() && p[0] == '/'; }

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 64 || name[0] == '.') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// The whole file, or nullopt when it does not exist. kIo for other failures.
Expected<std::optional<std::string>> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<std::string>();
    return ErrnoError(ErrorCode::kIo, "reading " + path, errno);
  }
  std::ostringstream out;
  out << in.rdbuf();
  return std::optional<std::string>(out.str());
}

std::vector<std::string> ReadCmdline(pid_t pid) {
  std::vector<std::string> argv;
  auto text = ReadWholeFile("/proc/" + std::to_string(pid) + "/cmdline");
  if (!text.ok() || !text->has_value()) return argv;
  std::string current;
  for (char c : **text) {
    if (c == '\0') {
      argv.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) argv.push_back(current);
  return argv;
}

// The fields of /proc/<pid>/stat after the command name: [0] is the state.
std::vector<std::string> StatFields(pid_t pid) {
  std::vector<std::string> fields;
  auto text = ReadWholeFile("/proc/" + std::to_string(pid) + "/stat");
  if (!text.ok() || !text->has_value()) return fields;
  const std::string& s = **text;
  const auto close = s.rfind(')');  // the command name may contain spaces and parentheses
  if (close == std::string::npos) return fields;
  std::istringstream in(s.substr(close + 1));
  std::string field;
  while (in >> field) fields.push_back(field);
  return fields;
}

// Alive and not a zombie (a daemon whose parent is an init that does not reap stays a zombie).
bool IsAlive(pid_t pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  auto fields = StatFields(pid);
  if (fields.empty()) return false;
  return fields[0] != "Z" && fields[0] != "X";
}

// When the process started, in seconds since the epoch (field 22 of stat: clock ticks since boot).
std::optional<double> StartTime(pid_t pid) {
  auto fields = StatFields(pid);
  // Field 22 overall is index 19 after the name (fields 1 and 2 are pid and comm).
  if (fields.size() < 20) return std::nullopt;
  auto stat = ReadWholeFile("/proc/stat");
  if (!stat.ok() || !stat->has_value()) return std::nullopt;
  std::istringstream in(**stat);
  std::string key;
  long long btime = -1;
  while (in >> key) {
    if (key == "btime") {
      in >> btime;
      break;
    }
  }
  if (btime < 0) return std::nullopt;
  const long ticks = ::sysconf(_SC_CLK_TCK);
  try {
    return static_cast<double>(btime) +
           static_cast<double>(std::stoull(fields[19])) / static_cast<double>(ticks);
  } catch (...) {
    return std::nullopt;
  }
}

std::string ExeOf(pid_t pid) {
  char buf[4096];
  const std::string link = "/proc/" + std::to_string(pid) + "/exe";
  const ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  if (n < 0) return std::string();
  return std::string(buf, static_cast<std::size_t>(n));
}

std::string Join(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) {
    if (!out.empty()) out += ' ';
    out += a;
  }
  return out;
}

// Every live process and its command line.
std::vector<std::pair<pid_t, std::vector<std::string>>> AllProcesses() {
  std::vector<std::pair<pid_t, std::vector<std::string>>> out;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return out;
  while (dirent* entry = ::readdir(dir)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || pid <= 0) continue;
    const auto p = static_cast<pid_t>(pid);
    if (!IsAlive(p)) continue;
    out.emplace_back(p, ReadCmdline(p));
  }
  ::closedir(dir);
  return out;
}

// The last `max` bytes of a file, for error messages about a daemon that died at start.
std::string Tail(const std::string& path, std::size_t max = 600) {
  auto text = ReadWholeFile(path);
  if (!text.ok() || !text->has_value()) return std::string();
  std::string s = **text;
  if (s.size() > max) s = "..." + s.substr(s.size() - max);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

Expected<runner::protocol::PongMessage> PingSocket(const std::string& socket, int timeout_ms) {
  auto connection = runner::protocol::linux_os::Connection::Connect(socket);
  if (!connection.ok()) return connection.error();
  return connection->Ping(std::chrono::milliseconds(timeout_ms));
}

std::optional<pid_t> ReadPidFile(const std::string& path) {
  auto text = ReadWholeFile(path);
  if (!text.ok() || !text->has_value()) return std::nullopt;
  try {
    const long long pid = std::stoll(**text);
    if (pid <= 0 || pid > 0x7fffffff) return std::nullopt;
    return static_cast<pid_t>(pid);
  } catch (...) {
    return std::nullopt;
  }
}

Status WriteFileAtomically(const std::string& path, const std::string& content, mode_t mode) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoError(ErrorCode::kIo, "creating " + tmp, errno);
  const char* data = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return ErrnoError(ErrorCode::kIo, "writing " + tmp, err);
    }
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fchmod(fd, mode) != 0 || ::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return ErrnoError(ErrorCode::kIo, "syncing " + tmp, err);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoError(ErrorCode::kIo, "renaming " + tmp + " to " + path, err);
  }
  return OkStatus();
}

Status RemoveFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoError(ErrorCode::kIo, "removing " + path, errno);
  }
  return OkStatus();
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::string Systemctl() {
  for (const char* p : {"/usr/bin/systemctl", "/bin/systemctl"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "/usr/bin/systemctl";
}

Expected<ProgramResult> RunSystemctl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{Systemctl()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv, std::chrono::seconds(90));
}

// systemctl's one-word answer ("active", "enabled", ...), whatever its exit status.
std::string SystemctlWord(const std::vector<std::string>& args) {
  auto result = RunSystemctl(args);
  if (!result.ok()) return "unknown";
  std::string out = result->out;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

Status SystemctlOrError(const std::vector<std::string>& args) {
  auto result = RunSystemctl(args);
  if (!result.ok()) return result.error();
  if (!result->succeeded()) {
    return Error(ErrorCode::kOs, "systemctl " + Join(args) + ": " + result->Summary());
  }
  return OkStatus();
}

// One ExecStart word: quoted when needed; '%' and '$' are systemd specifiers and expansions.
std::string SystemdWord(const std::string& arg) {
  std::string escaped;
  bool quote = arg.empty();
  for (char c : arg) {
    if (c == ' ' || c == '\t' || c == '"' || c == '\'' || c == '\\' || c == ';') quote = true;
    if (c == '"' || c == '\\') escaped += '\\';
    if (c == '%') escaped += '%';
    if (c == '$') escaped += '$';
    escaped += c;
  }
  return quote ? "\"" + escaped + "\"" : escaped;
}

}  // namespace

bool SystemdIsPid1() {
  struct stat st {};
  return ::lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<pid_t> FindProcessesByCommandLine(const std::vector<std::string>& argv) {
  std::vector<pid_t> out;
  for (const auto& [pid, cmdline] : AllProcesses()) {
    if (cmdline == argv) out.push_back(pid);
  }
  return out;
}

std::vector<std::string> ServiceResidue(const std::string& name, const std::string& state_dir) {
  std::vector<std::string> out;
  const std::string unit = std::string(kSystemdUnitDir) + "/" + name + ".service";
  if (Exists(unit)) out.push_back("unit file " + unit);
  const std::string pid_file = state_dir + "/" + name + ".pid";
  if (Exists(pid_file)) out.push_back("pidfile " + pid_file);
  for (const auto& [pid, cmdline] : AllProcesses()) {
    if (cmdline.size() < 2 || cmdline[1] != "serve") continue;
    for (std::size_t i = 2; i + 1 < cmdline.size(); ++i) {
      if (cmdline[i] == "--state-dir" && cmdline[i + 1] == state_dir) {
        out.push_back("process " + std::to_string(pid) + ": " + Join(cmdline));
        break;
      }
    }
  }
  return out;
}

Expected<std::unique_ptr<Step>> ServiceStep::Create(const StepSpec& spec) {
  auto binary = ParamString(spec, "binary");
  if (!binary.ok()) return binary.error();
  auto state_dir = ParamString(spec, "state_dir");
  if (!state_dir.ok()) return state_dir.error();
  auto policy = ParamStringOr(spec, "policy", "");
  if (!policy.ok()) return policy.error();
  auto name = ParamStringOr(spec, "name", kDefaultServiceName);
  if (!name.ok()) return name.error();
  auto socket = ParamStringOr(spec, "socket", "");
  if (!socket.ok()) return socket.error();
  auto supervisor = ParamStringOr(spec, "supervisor", "auto");
  if (!supervisor.ok()) return supervisor.error();
  if (!IsAbsolute(*binary) || !IsAbsolute(*state_dir) ||
      (!policy->empty() && !IsAbsolute(*policy)) || (!socket->empty() && !IsAbsolute(*socket))) {
    return Error(ErrorCode::kInvalidArgument,
                 StepLabel(spec) + ": binary, state_dir, policy and socket must be absolute paths");
  }
  if (!ValidName(*name)) {
    return Error(ErrorCode::kInvalidArgument,
                 StepLabel(spec) + ": params.name '" + *name + "' is not a valid unit name");
  }
  if (*supervisor != "auto" && *supervisor != "systemd" && *supervisor != "direct") {
    return Error(ErrorCode::kInvalidArgument,
                 StepLabel(spec) + ": params.supervisor must be auto, systemd or direct");
  }
  std::unique_ptr<ServiceStep> step(new ServiceStep(spec));
  step->name_ = *name;
  step->binary_ = *binary;
  step->state_dir_ = *state_dir;
  while (step->state_dir_.size() > 1 && step->state_dir_.back() == '/') step->state_dir_.pop_back();
  step->policy_ = *policy;
  step->supervisor_ = *supervisor;
  step->socket_ = socket->empty() ? step->state_dir_ + "/stockaded.sock" : *socket;
  step->argv_ = {step->binary_, "serve", "--foreground", "--state-dir", step->state_dir_};
  if (!step->policy_.empty()) {
    step->argv_.push_back("--policy");
    step->argv_.push_back(step->policy_);
  }
  if (!socket->empty()) {
    step->argv_.push_back("--socket");
    step->argv_.push_back(*socket);
  }
  return std::unique_ptr<Step>(std::move(step));
}

std::string ServiceStep::pid_file() const { return state_dir_ + "/" + name_ + ".pid"; }
std::string ServiceStep::log_file() const { return state_dir_ + "/logs/" + name_ + ".console.log"; }
std::string ServiceStep::unit_path() const {
  return std::string(kSystemdUnitDir) + "/" + name_ + ".service";
}

bool ServiceStep::UseSystemd() const {
  if (supervisor_ == "systemd") return true;
  if (supervisor_ == "direct") return false;
  return SystemdIsPid1();
}

std::string ServiceStep::UnitText() const {
  std::string exec;
  for (const std::string& a : argv_) {
    if (!exec.empty()) exec += ' ';
    exec += SystemdWord(a);
  }
  return "# Written by stockade-provision (journaled); `stockade-provision uninstall` removes it.\n"
         "[Unit]\n"
         "Description=Stockade sandbox service\n"
         "After=network.target\n"
         "\n"
         "[Service]\n"
         "Type=simple\n"
         "ExecStart=" +
         exec +
         "\n"
         "Environment=" +
         kDaemonPath +
         "\n"
         "Restart=on-failure\n"
         "RestartSec=2\n"
         "\n"
         "[Install]\n"
         "WantedBy=multi-user.target\n";
}

std::string ServiceStep::Describe() const {
  return std::string(UseSystemd()
                         ? "install, enable and start the systemd unit " + name_ + ".service: "
                         : "start the service " + name_ +
                               " (no systemd: detached, "
                               "pidfile " +
                               pid_file() + "): ") +
         Join(argv_);
}

Expected<nlohmann::json> ServiceStep::CaptureBefore() {
  nlohmann::json before;
  if (UseSystemd()) {
    before["mode"] = "systemd";
    auto unit = ReadWholeFile(unit_path());
    if (!unit.ok()) return unit.error().Wrap(StepLabel(spec()));
    before["unit"] = unit->has_value() ? nlohmann::json(**unit) : nlohmann::json(nullptr);
    const std::string unit_name = name_ + ".service";
    before["enabled"] = unit->has_value() && SystemctlWord({"is-enabled", unit_name}) == "enabled";
    before["running"] = unit->has_value() && SystemctlWord({"is-active", unit_name}) == "active";
  } else {
    before["mode"] = "direct";
    before["running"] = !FindProcessesByCommandLine(argv_).empty();
  }
  return before;
}

Expected<bool> ServiceStep::IsApplied() { return Verify().ok(); }

Expected<bool> ServiceStep::TargetPresent() {
  if (UseSystemd()) return Exists(unit_path());
  if (!FindProcessesByCommandLine(argv_).empty()) return true;
  return PingSocket(socket_, 2000).ok();
}

Status ServiceStep::Apply() {
  if (UseSystemd()) return ApplySystemd();
  // A daemon of ours that is stale (another binary, an older policy) is replaced.
  if (!FindProcessesByCommandLine(argv_).empty()) {
    if (VerifyDirect().ok()) return OkStatus();
    STOCKADE_RETURN_IF_ERROR(StopDirect());
  }
  if (auto pong = PingSocket(socket_, 2000); pong.ok()) {
    return Error(ErrorCode::kAlreadyExists,
                 StepLabel(spec()) + ": another service (pid " + std::to_string(pong->pid) +
                     ") already answers on " + socket_ + "; not starting a second one");
  }
  return StartDirect();
}

Status ServiceStep::StartDirect() {
  const std::string logs = state_dir_ + "/logs";
  if (::mkdir(logs.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoError(ErrorCode::kIo, StepLabel(spec()) + ": creating " + logs, errno);
  }
  const std::string log = log_file();
  const int log_fd =
      ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (log_fd < 0) return ErrnoError(ErrorCode::kIo, StepLabel(spec()) + ": opening " + log, errno);
  const int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) {
    const int err = errno;
    ::close(log_fd);
    return ErrnoError(ErrorCode::kIo, "opening /dev/null", err);
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    const int err = errno;
    ::close(log_fd);
    ::close(null_fd);
    return ErrnoError(ErrorCode::kOs, "pipe2", err);
  }
  // Everything the children need is prepared before fork: no allocation after it.
  std::vector<char*> args;
  for (const std::string& a : argv_) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  char path_env[sizeof kDaemonPath];
  std::memcpy(path_env, kDaemonPath, sizeof kDaemonPath);
  char* envp[] = {path_env, nullptr};
  const long max_fd = ::sysconf(_SC_OPEN_MAX);

  const pid_t child = ::fork();
  if (child < 0) {
    const int err = errno;
    ::close(log_fd);
    ::close(null_fd);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return ErrnoError(ErrorCode::kOs, "fork", err);
  }
  if (child == 0) {
    // The intermediate child: a new session, then the daemon is its child, orphaned at once so
    // that it never becomes the provisioner's zombie and has no controlling terminal.
    ::setsid();
    const pid_t daemon = ::fork();
    if (daemon != 0) {
      const pid_t report = daemon;  // -1 on failure: the parent reports it
      (void)!::write(pipe_fds[1], &report, sizeof report);
      ::_exit(daemon < 0 ? 1 : 0);
    }
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    if (::chdir("/") != 0) ::_exit(126);
    ::umask(077);  // the service's logs and side files stay private (docs/runner-service.md)
    sigset_t all;
    sigemptyset(&all);
    ::sigprocmask(SIG_SETMASK, &all, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
      // Every descriptor but 0-2 closes at exec (the provision lock, the journal, dpkg's pipes);
      // the report pipe stays usable until then to say why exec failed.
#ifdef SYS_close_range
    if (::syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */) != 0)
#endif
    {
      for (long fd = 3; fd < max_fd; ++fd) ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
    }
    ::execve(args[0], args.data(), envp);
    const int err = errno;
    (void)!::write(pipe_fds[1], &err, sizeof err);
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  ::close(log_fd);
  ::close(null_fd);
  pid_t daemon = -1;
  int err = 0;
  ssize_t got = ::read(pipe_fds[0], &daemon, sizeof daemon);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  ssize_t exec_err = 0;
  if (got == static_cast<ssize_t>(sizeof daemon) && daemon > 0) {
    exec_err = ::read(pipe_fds[0], &err, sizeof err);  // EOF (0): exec succeeded
  }
  ::close(pipe_fds[0]);
  if (got != static_cast<ssize_t>(sizeof daemon) || daemon <= 0) {
    return Error(ErrorCode::kOs, StepLabel(spec()) + ": could not fork the daemon");
  }
  if (exec_err == static_cast<ssize_t>(sizeof err)) {
    return ErrnoError(ErrorCode::kOs, StepLabel(spec()) + ": cannot execute " + binary_, err);
  }
  STOCKADE_RETURN_IF_ERROR(WriteFileAtomically(pid_file(), std::to_string(daemon) + "\n", 0600));
  log::Logger()->info("service {}: started pid {}: {}", name_, daemon, Join(argv_));
  return WaitForPong(daemon, kStartTimeoutMs, daemon);
}

Status ServiceStep::WaitForPong(pid_t pid, int timeout_ms, pid_t watch) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string last = "no answer yet";
  for (;;) {
    if (watch > 0 && !IsAlive(watch)) {
      return Error(ErrorCode::kServiceUnavailable,
                   StepLabel(spec()) + ": the daemon (pid " + std::to_string(watch) +
                       ") exited at start; " + log_file() + " ends with: " + Tail(log_file()));
    }
    auto pong = PingSocket(socket_, 2000);
    if (pong.ok()) {
      if (pid <= 0 || pong->pid == pid) return OkStatus();
      last = "pid " + std::to_string(pong->pid) + " answered, expected " + std::to_string(pid);
    } else {
      last = pong.error().ToString();
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Error(ErrorCode::kTimeout, StepLabel(spec()) + ": no Pong on " + socket_ + " within " +
                                            std::to_string(timeout_ms) + " ms (" + last + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Status ServiceStep::StopDirect() {
  std::vector<pid_t> pids = FindProcessesByCommandLine(argv_);
  if (auto pid = ReadPidFile(pid_file()); pid && IsAlive(*pid) && ReadCmdline(*pid) == argv_) {
    if (std::find(pids.begin(), pids.end(), *pid) == pids.end()) pids.push_back(*pid);
  }
  auto wait_gone = [&](int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      bool any = false;
      for (pid_t p : pids) any = any || IsAlive(p);
      if (!any) return true;
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  };
  for (pid_t p : pids) ::kill(p, SIGTERM);
  if (!wait_gone(kStopTimeoutMs)) {
    for (pid_t p : pids) {
      if (IsAlive(p)) {
        log::Logger()->warn("service {}: pid {} ignored SIGTERM for 10 s: SIGKILL", name_, p);
        ::kill(p, SIGKILL);
      }
    }
    if (!wait_gone(kKillTimeoutMs)) {
      return Error(ErrorCode::kVerificationFailed,
                   StepLabel(spec()) + ": the daemon did not exit after SIGKILL");
    }
  }
  if (!pids.empty()) log::Logger()->info("service {}: stopped {} process(es)", name_, pids.size());
  return RemoveFile(pid_file());
}

Status ServiceStep::Verify() { return UseSystemd() ? VerifySystemd() : VerifyDirect(); }

Status ServiceStep::VerifyDirect() {
  const std::string label = StepLabel(spec()) + ": ";
  auto pid = ReadPidFile(pid_file());
  if (!pid) {
    return Error(ErrorCode::kVerificationFailed,
                 label + "no readable pidfile " + pid_file() + " (the service is not running)");
  }
  if (!IsAlive(*pid)) {
    return Error(ErrorCode::kVerificationFailed,
                 label + "pid " + std::to_string(*pid) + " from " + pid_file() + " is not running");
  }
  const std::vector<std::string> cmdline = ReadCmdline(*pid);
  if (cmdline != argv_) {
    return Error(ErrorCode::kVerificationFailed, label + "pid " + std::to_string(*pid) + " runs '" +
                                                     Join(cmdline) + "', expected '" + Join(argv_) +
                                                     "'");
  }
  const std::string exe = ExeOf(*pid);
  if (exe != binary_) {
    return Error(ErrorCode::kVerificationFailed,
                 label + "pid " + std::to_string(*pid) + " executes '" + exe + "', expected '" +
                     binary_ + "' (a replaced binary must be restarted)");
  }
  if (!policy_.empty()) {
    struct stat st {};
    auto started = StartTime(*pid);
    if (::stat(policy_.c_str(), &st) == 0 && started &&
        static_cast<double>(st.st_mtim.tv_sec) > *started + 1.0) {
      return Error(ErrorCode::kVerificationFailed,
                   label + "the policy " + policy_ +
                       " changed after the service started: it runs with the old policy");
    }
  }
  auto pong = PingSocket(socket_, 5000);
  if (!pong.ok()) return pong.error().Wrap(label + "Ping on " + socket_);
  if (pong->pid != *pid) {
    return Error(ErrorCode::kVerificationFailed, label + "the service answering on " + socket_ +
                                                     " is pid " + std::to_string(pong->pid) +
                                                     ", not pid " + std::to_string(*pid));
  }
  return OkStatus();
}

Status ServiceStep::ApplySystemd() {
  const std::string unit_name = name_ + ".service";
  STOCKADE_RETURN_IF_ERROR(WriteFileAtomically(unit_path(), UnitText(), 0644));
  STOCKADE_RETURN_IF_ERROR(SystemctlOrError({"daemon-reload"}));
  STOCKADE_RETURN_IF_ERROR(SystemctlOrError({"enable", unit_name}));
  // restart, not start: a new binary or policy must be picked up.
  STOCKADE_RETURN_IF_ERROR(SystemctlOrError({"restart", unit_name}));
  return WaitForPong(0, kStartTimeoutMs, 0);
}

Status ServiceStep::VerifySystemd() {
  const std::string label = StepLabel(spec()) + ": ";
  const std::string unit_name = name_ + ".service";
  auto unit = ReadWholeFile(unit_path());
  if (!unit.ok()) return unit.error();
  if (!unit->has_value()) {
    return Error(ErrorCode::kVerificationFailed, label + unit_path() + " does not exist");
  }
  if (**unit != UnitText()) {
    return Error(ErrorCode::kVerificationFailed, label + unit_path() + " was changed");
  }
  if (const std::string enabled = SystemctlWord({"is-enabled", unit_name}); enabled != "enabled") {
    return Error(ErrorCode::kVerificationFailed, label + unit_name + " is " + enabled);
  }
  if (const std::string active = SystemctlWord({"is-active", unit_name}); active != "active") {
    return Error(ErrorCode::kVerificationFailed, label + unit_name + " is " + active);
  }
  const std::string main_pid = SystemctlWord({"show", "-p", "MainPID", "--value", unit_name});
  auto pong = PingSocket(socket_, 5000);
  if (!pong.ok()) return pong.error().Wrap(label + "Ping on " + socket_);
  if (std::to_string(pong->pid) != main_pid) {
    return Error(ErrorCode::kVerificationFailed, label + "pid " + std::to_string(pong->pid) +
                                                     " answers on " + socket_ +
                                                     ", but the unit's MainPID is " + main_pid);
  }
  return OkStatus();
}

Status ServiceStep::Undo(const nlohmann::json& before) {
  if (!before.is_object() || !before.contains("mode") || !before["mode"].is_string() ||
      !before.contains("running") || !before["running"].is_boolean()) {
    return CorruptBefore(spec(), "lacks 'mode' or 'running'");
  }
  if (before["mode"] == "systemd") return UndoSystemd(before);
  STOCKADE_RETURN_IF_ERROR(StopDirect());
  // Rolling back a re-apply: the older version's daemon was running, so one runs again.
  if (before["running"].get<bool>()) return StartDirect();
  return OkStatus();
}

Status ServiceStep::UndoSystemd(const nlohmann::json& before) {
  const std::string unit_name = name_ + ".service";
  const bool had_unit = before.contains("unit") && before["unit"].is_string();
  if (Exists(unit_path())) {
    auto disabled = RunSystemctl({"disable", "--now", unit_name});
    if (!disabled.ok()) return disabled.error();
  }
  if (had_unit) {
    STOCKADE_RETURN_IF_ERROR(
        WriteFileAtomically(unit_path(), before["unit"].get<std::string>(), 0644));
  } else {
    STOCKADE_RETURN_IF_ERROR(RemoveFile(unit_path()));
  }
  STOCKADE_RETURN_IF_ERROR(SystemctlOrError({"daemon-reload"}));
  if (had_unit && before.value("enabled", false)) {
    STOCKADE_RETURN_IF_ERROR(SystemctlOrError({"enable", unit_name}));
  }
  if (had_unit && before["running"].get<bool>()) {
    STOCKADE_RETURN_IF_ERROR(SystemctlOrError({"start", unit_name}));
  }
  return OkStatus();
}

Status ServiceStep::VerifyUndone(const nlohmann::json& before) {
  if (!before.is_object() || !before.contains("mode") || !before.contains("running") ||
      !before["running"].is_boolean()) {
    return CorruptBefore(spec(), "lacks 'mode' or 'running'");
  }
  const std::string label = StepLabel(spec()) + ": ";
  const bool running = before["running"].get<bool>();
  if (before["mode"] == "systemd") {
    auto unit = ReadWholeFile(unit_path());
    if (!unit.ok()) return unit.error();
    const bool had_unit = before.contains("unit") && before["unit"].is_string();
    if (had_unit != unit->has_value() ||
        (had_unit && **unit != before["unit"].get<std::string>())) {
      return Error(ErrorCode::kVerificationFailed,
                   label + unit_path() + " is not as it was before Stockade wrote it");
    }
    const std::string active = SystemctlWord({"is-active", name_ + ".service"});
    if ((active == "active") != running) {
      return Error(ErrorCode::kVerificationFailed, label + name_ + ".service is " + active);
    }
    if (!running) {
      if (auto pong = PingSocket(socket_, 2000); pong.ok()) {
        return Error(ErrorCode::kVerificationFailed,
                     label + "pid " + std::to_string(pong->pid) + " still answers on " + socket_);
      }
    }
    return OkStatus();
  }
  if (running) return VerifyDirect();
  if (auto left = FindProcessesByCommandLine(argv_); !left.empty()) {
    return Error(ErrorCode::kVerificationFailed,
                 label + "pid " + std::to_string(left.front()) + " still runs " + Join(argv_));
  }
  if (Exists(pid_file())) {
    return Error(ErrorCode::kVerificationFailed, label + pid_file() + " still exists");
  }
  if (auto pong = PingSocket(socket_, 2000); pong.ok()) {
    return Error(ErrorCode::kVerificationFailed,
                 label + "pid " + std::to_string(pong->pid) + " still answers on " + socket_);
  }
  return OkStatus();
}

}  // namespace stockade::provision::linux_os
