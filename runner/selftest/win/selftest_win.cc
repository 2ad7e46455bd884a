// The Windows half of `stockade selftest`: the same plan as on Linux (selftest_linux.cc), with
// Windows targets: a canary folder under %TEMP%, the workspace's scratch folder and protected
// names, a canary in a deny-read folder of the user's profile, a victim process, Winsock
// listeners on this host's addresses, pid files for the processes a probe leaves behind. Each
// probe runs through `stockade run ... -- stockade-probe.exe NAME ARGS` as a subprocess.
//
// Under Wine nothing of the token, ACL, firewall or job limits is enforced (docs/
// windows-verification.md): the probes then report ESCAPED, and the selftest shows it. Wine
// cannot even report a token's restricting SIDs, so `stockade run --unprovisioned` refuses to
// start there (fail closed, token.h). The selftest alone, and under Wine alone, then runs each
// probe through the same unprovisioned code in this process (RunUnprovisioned: policy, spec
// builder, launcher, job) with TokenCheck::kWineSelftestBestEffort, and labels every result and
// the report as obtained with a token that could not be verified.

// Order matters: winsock2.h before windows.h, and windows.h before the headers that
// use its types.
// clang-format off
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <tlhelp32.h>
// clang-format on

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <thread>

#include "core/paths/expand.h"
#include "core/paths/locations.h"
#include "core/policy/policy.h"
#include "core/policy/policy_loader.h"
#include "provision/win/handles.h"
#include "provision/win/win_util.h"
#include "runner/client/client.h"
#include "runner/client/win/environment.h"
#include "runner/client/win/local_run.h"
#include "runner/selftest/selftest.h"
#include "runner/win/command_line.h"
#include "runner/win/wine.h"

namespace stockade::runner::selftest {

namespace {

namespace fs = std::filesystem;
using provision::win::Utf8;
using provision::win::Wide;

constexpr char kCanaryText[] = "stockade-selftest canary: must stay exactly like this\r\n";

std::string RandomMarker() {
  std::random_device rd;
  static const char kHex[] = "0123456789abcdef";
  std::string out = "stself";
  for (int i = 0; i < 10; ++i) out += kHex[rd() % 16];
  return out;
}

// UTF-8 text of a path (C++20's u8string is char8_t).
std::string U8(const fs::path& path) {
  const std::u8string text = path.u8string();
  return std::string(text.begin(), text.end());
}

bool Exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(fs::u8path(path), ec);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(fs::u8path(path), std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool WriteAllText(const std::string& path, const std::string& text) {
  std::ofstream out(fs::u8path(path), std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
}

void RemoveTree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(fs::u8path(path), ec);
}

bool ProcessAlive(DWORD pid) {
  HANDLE h = ::OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
  if (h == nullptr) return false;
  DWORD code = 0;
  const bool alive = ::GetExitCodeProcess(h, &code) && code == STILL_ACTIVE;
  ::CloseHandle(h);
  return alive;
}

void KillPid(DWORD pid) {
  HANDLE h = ::OpenProcess(PROCESS_TERMINATE, FALSE, pid);
  if (h == nullptr) return;
  ::TerminateProcess(h, 1);
  ::CloseHandle(h);
}

DWORD PidByName(const wchar_t* exe) {
  HANDLE snap = ::CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
  if (snap == INVALID_HANDLE_VALUE) return 0;
  PROCESSENTRY32W entry{};
  entry.dwSize = sizeof(entry);
  DWORD found = 0;
  for (BOOL ok = ::Process32FirstW(snap, &entry); ok && found == 0;
       ok = ::Process32NextW(snap, &entry)) {
    if (_wcsicmp(entry.szExeFile, exe) == 0) found = entry.th32ProcessID;
  }
  ::CloseHandle(snap);
  return found;
}

struct Captured {
  int status = -1;
  std::string output;
};

// Runs `argv` with stdout and stderr captured; kills it after `timeout_ms`.
Expected<Captured> RunCaptured(const std::vector<std::string>& argv, const std::string& cwd,
                               DWORD timeout_ms) {
  auto cmd = runner::win_os::BuildCommandLine(argv);
  if (!cmd) return cmd.error();
  SECURITY_ATTRIBUTES sa{sizeof(sa), nullptr, TRUE};
  HANDLE read_end = nullptr;
  HANDLE write_end = nullptr;
  if (!::CreatePipe(&read_end, &write_end, &sa, 0)) {
    return provision::win::LastWin32Error("selftest: CreatePipe");
  }
  ::SetHandleInformation(read_end, HANDLE_FLAG_INHERIT, 0);
  STARTUPINFOW si{};
  si.cb = sizeof(si);
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = nullptr;
  si.hStdOutput = write_end;
  si.hStdError = write_end;
  PROCESS_INFORMATION pi{};
  std::wstring line = *cmd;
  const std::wstring wcwd = Wide(cwd);
  if (!::CreateProcessW(nullptr, line.data(), nullptr, nullptr, TRUE, CREATE_NO_WINDOW, nullptr,
                        wcwd.c_str(), &si, &pi)) {
    Error e = provision::win::LastWin32Error("selftest: start " + argv[0]);
    ::CloseHandle(read_end);
    ::CloseHandle(write_end);
    return e;
  }
  ::CloseHandle(write_end);
  ::CloseHandle(pi.hThread);
  Captured result;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    char buf[4096];
    DWORD got = 0;
    while (::ReadFile(read_end, buf, sizeof(buf), &got, nullptr) && got > 0) {
      result.output.append(buf, got);
    }
    done = true;
  });
  if (::WaitForSingleObject(pi.hProcess, timeout_ms) == WAIT_TIMEOUT) {
    ::TerminateProcess(pi.hProcess, 124);
    result.output += "\r\n[selftest: killed after timeout]\r\n";
  }
  reader.join();
  ::CloseHandle(read_end);
  DWORD code = 1;
  ::GetExitCodeProcess(pi.hProcess, &code);
  ::CloseHandle(pi.hProcess);
  result.status = static_cast<int>(code);
  return result;
}

// The label every result gets when the token could not be verified (only ever under Wine).
std::string UnverifiedLabel() {
  return "token not verified on this platform (" + runner::win_os::WineVersion() + ")";
}

// Reads a pipe into a string on a thread of its own until the pipe breaks or Stop() is called:
// it polls (PeekNamedPipe) rather than blocking in ReadFile, so that a process that escaped the
// tree while holding a copy of the write end cannot hang the selftest.
class PipeDrain {
 public:
  explicit PipeDrain(HANDLE read_end) : read_end_(read_end) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~PipeDrain() { Stop(); }
  PipeDrain(const PipeDrain&) = delete;
  PipeDrain& operator=(const PipeDrain&) = delete;
  // Waits up to 5 s for the end of the data, then stops; returns what was read.
  std::string Stop() {
    if (thread_.joinable()) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (!broken_ && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      stop_ = true;
      thread_.join();
    }
    return text_;
  }

 private:
  void Loop() {
    char buf[4096];
    for (;;) {
      DWORD available = 0;
      if (!::PeekNamedPipe(read_end_, nullptr, 0, nullptr, &available, nullptr)) {
        broken_ = true;  // every write end is closed: all was read
        return;
      }
      if (available == 0) {
        if (stop_) return;
        ::Sleep(10);
        continue;
      }
      DWORD got = 0;
      if (!::ReadFile(read_end_, buf, std::min<DWORD>(available, sizeof(buf)), &got, nullptr)) {
        broken_ = true;
        return;
      }
      text_.append(buf, got);
    }
  }
  HANDLE read_end_;
  std::string text_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> broken_{false};
  std::thread thread_;
};

// Under Wine only: runs `argv` (stockade-probe and its arguments) the way `stockade run
// --unprovisioned` would (the same RunUnprovisioned), in this process, with the token check
// relaxed to what Wine can answer; *unverified gets what of the token could not be verified.
Expected<Captured> RunUnprovisionedInProcess(const SelftestOptions& options,
                                             const std::string& workspace,
                                             const std::vector<std::string>& argv,
                                             std::vector<std::string>* unverified) {
  auto env = client::win_os::RequestEnvironment({});
  if (!env) return env.error();
  SECURITY_ATTRIBUTES sa{sizeof(sa), nullptr, FALSE};
  HANDLE read_raw = nullptr;
  HANDLE write_raw = nullptr;
  if (!::CreatePipe(&read_raw, &write_raw, &sa, 0)) {
    return provision::win::LastWin32Error("selftest: CreatePipe");
  }
  provision::win::UniqueHandle read_end(read_raw);
  provision::win::UniqueHandle write_end(write_raw);
  PipeDrain drain(read_end.get());

  client::win_os::LocalRun run;
  run.identity = options.identity;
  run.workspace = workspace;
  run.cwd = workspace;
  run.argv = argv;
  run.env = *env;
  run.timeout = options.probe_timeout;
  run.policy_path = options.policy_path;
  run.stdout_handle = write_end.get();
  run.stderr_handle = write_end.get();
  run.token_check = runner::win_os::TokenCheck::kWineSelftestBestEffort;
  int failure_status = client::kStatusSandbox;
  auto outcome = client::win_os::RunUnprovisioned(run, &failure_status, unverified);
  write_end.reset();  // the tree is gone: ours was the last write end
  Captured result;
  result.output = drain.Stop();
  if (!outcome) {
    result.status = failure_status;
    result.output += "stockade: " + outcome.error().ToString() + "\r\n";
  } else {
    result.status = client::ExitStatusFor(*outcome);
  }
  return result;
}

// TCP (IPv4 and IPv6) and UDP echo listeners on every address, served by one thread.
class Listeners {
 public:
  Listeners() {
    WSADATA data;
    wsa_ = ::WSAStartup(MAKEWORD(2, 2), &data) == 0;
    tcp4_ = Bind(AF_INET, SOCK_STREAM, &tcp4_port_);
    tcp6_ = Bind(AF_INET6, SOCK_STREAM, &tcp6_port_);
    udp_ = Bind(AF_INET, SOCK_DGRAM, &udp_port_);
    thread_ = std::thread([this] { Serve(); });
  }
  ~Listeners() {
    stop_ = true;
    thread_.join();
    for (SOCKET s : {tcp4_, tcp6_, udp_}) {
      if (s != INVALID_SOCKET) ::closesocket(s);
    }
    if (wsa_) ::WSACleanup();
  }
  bool ok() const { return tcp4_ != INVALID_SOCKET; }
  int tcp4_port() const { return tcp4_port_; }
  int tcp6_port() const { return tcp6_ != INVALID_SOCKET ? tcp6_port_ : 0; }
  int udp_port() const { return udp_ != INVALID_SOCKET ? udp_port_ : 0; }
  int contacts() const { return contacts_; }

 private:
  SOCKET Bind(int family, int type, int* port) {
    SOCKET s = ::socket(family, type, 0);
    if (s == INVALID_SOCKET) return s;
    sockaddr_storage addr{};
    int len = 0;
    if (family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&addr);
      a->sin_family = AF_INET;
      a->sin_addr.s_addr = htonl(INADDR_ANY);
      len = sizeof(*a);
    } else {
      auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
      a->sin6_family = AF_INET6;
      a->sin6_addr = in6addr_any;
      len = sizeof(*a);
    }
    if (::bind(s, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        (type == SOCK_STREAM && ::listen(s, 16) != 0)) {
      ::closesocket(s);
      return INVALID_SOCKET;
    }
    ::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len);
    *port = family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port)
                              : ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    return s;
  }
  void Serve() {
    while (!stop_) {
      fd_set set;
      FD_ZERO(&set);
      for (SOCKET s : {tcp4_, tcp6_, udp_}) {
        if (s != INVALID_SOCKET) FD_SET(s, &set);
      }
      timeval tv{0, 200000};
      if (::select(0, &set, nullptr, nullptr, &tv) <= 0) continue;
      for (SOCKET s : {tcp4_, tcp6_}) {
        if (s == INVALID_SOCKET || !FD_ISSET(s, &set)) continue;
        SOCKET c = ::accept(s, nullptr, nullptr);
        if (c == INVALID_SOCKET) continue;
        const char reply[] = "stockade-selftest-ok\n";
        ::send(c, reply, sizeof(reply) - 1, 0);
        ::closesocket(c);
        ++contacts_;
      }
      if (udp_ != INVALID_SOCKET && FD_ISSET(udp_, &set)) {
        char buf[1500];
        sockaddr_storage peer{};
        int len = sizeof(peer);
        const int n =
            ::recvfrom(udp_, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&peer), &len);
        if (n > 0) {
          ::sendto(udp_, buf, n, 0, reinterpret_cast<sockaddr*>(&peer), len);
          ++contacts_;
        }
      }
    }
  }
  bool wsa_ = false;
  SOCKET tcp4_ = INVALID_SOCKET;
  SOCKET tcp6_ = INVALID_SOCKET;
  SOCKET udp_ = INVALID_SOCKET;
  int tcp4_port_ = 0;
  int tcp6_port_ = 0;
  int udp_port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> contacts_{0};
  std::thread thread_;
};

// This host's first non-loopback address of `family` ("" when none).
std::string HostAddress(int family) {
  char name[256] = {};
  if (::gethostname(name, sizeof(name)) != 0) return "";
  addrinfo hints{};
  hints.ai_family = family;
  addrinfo* list = nullptr;
  if (::getaddrinfo(name, nullptr, &hints, &list) != 0) return "";
  std::string found;
  for (addrinfo* i = list; i != nullptr && found.empty(); i = i->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    if (i->ai_family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(i->ai_addr);
      if ((ntohl(a->sin_addr.s_addr) >> 24) == 127) continue;
      ::inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
    } else if (i->ai_family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(i->ai_addr);
      if (IN6_IS_ADDR_LOOPBACK(&a->sin6_addr) || IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr)) continue;
      ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
    }
    found = text;
  }
  ::freeaddrinfo(list);
  return found;
}

struct ProbePlan {
  std::vector<std::string> args;
  std::vector<std::string> must_not_exist;
  std::string pidfile;
  std::string skip;
  // A folder the probe renames away and back: if the rename back failed, the selftest puts it
  // back from outside (never deletes it: it is the user's .git).
  std::string moved_from, moved_to;
};

class WinSelftest {
 public:
  explicit WinSelftest(const SelftestOptions& options) : options_(options) {}
  ~WinSelftest() { Cleanup(); }
  Status Prepare();
  Expected<SelftestReport> Run(const ProgressFn& progress);

 private:
  ProbePlan PlanFor(const ProbeInfo& info, Expectation expectation);
  void CheckOutside(const ProbeInfo& info, const ProbePlan& plan, Observation* obs);
  void StartVictim();
  void Cleanup();

  SelftestOptions options_;
  Policy policy_;
  bool online_ = false;
  std::string marker_, stockade_, probe_, workspace_, state_dir_, home_;
  std::string outside_root_, outside_, canary_, scratch_, deny_canary_, cc_, git_, repo_;
  std::string ipv4_, ipv6_;
  std::vector<std::string> created_;
  PROCESS_INFORMATION victim_{};
  DWORD service_pid_ = 0;
  std::unique_ptr<Listeners> listeners_;
};

std::string FindInPath(const std::string& exe) {
  wchar_t buf[MAX_PATH];
  const DWORD n = ::SearchPathW(nullptr, Wide(exe).c_str(), nullptr, MAX_PATH, buf, nullptr);
  return n > 0 && n < MAX_PATH ? Utf8(std::wstring(buf, n)) : "";
}

Status WinSelftest::Prepare() {
  if (options_.identity != "offline" && options_.identity != "online") {
    return Error(ErrorCode::kInvalidArgument, "--identity must be offline or online");
  }
  online_ = options_.identity == "online";
  marker_ = RandomMarker();
  stockade_ = options_.stockade_path;
  probe_ = options_.probe_path.empty()
               ? U8(fs::u8path(stockade_).parent_path() / "stockade-probe.exe")
               : options_.probe_path;
  if (!Exists(probe_)) {
    return Error(ErrorCode::kNotFound, "stockade-probe not found beside stockade: " + probe_);
  }
  auto policy = LoadEffectivePolicy(options_.policy_path);
  if (!policy) return policy.error().Wrap("selftest: load the policy");
  policy_ = *policy;
  state_dir_ = !options_.state_dir.empty() ? options_.state_dir : paths::DefaultStateDir();
  if (auto home = paths::CurrentUserHome()) home_ = *home;
  std::error_code ec;
  fs::path ws = fs::canonical(
      fs::u8path(options_.workspace.empty() ? std::string(".") : options_.workspace), ec);
  if (ec) return Error(ErrorCode::kNotFound, "selftest: the workspace: " + ec.message());
  workspace_ = U8(ws);

  auto tmp = paths::TempDir();
  outside_root_ =
      (tmp ? *tmp : std::string("C:\\Windows\\Temp")) + "\\stockade-selftest-" + marker_;
  outside_ = outside_root_ + "\\outside";
  canary_ = outside_ + "\\canary.txt";
  fs::create_directories(fs::u8path(outside_), ec);
  if (ec || !WriteAllText(canary_, kCanaryText)) {
    return Error(ErrorCode::kIo, "selftest: create the canary " + canary_);
  }
  scratch_ = workspace_ + "\\.stockade-selftest-" + marker_;
  fs::create_directories(fs::u8path(scratch_ + "\\cc"), ec);
  if (ec) return Error(ErrorCode::kIo, "selftest: create " + scratch_ + ": " + ec.message());
  for (const char* name : {".git", ".codex", ".agents"}) {
    const std::string path = workspace_ + "\\" + name;
    if (!Exists(path)) {
      fs::create_directory(fs::u8path(path), ec);
      created_.push_back(path);
    }
  }
  if (!home_.empty()) {
    paths::ExpansionContext ctx;
    ctx.home = home_;
    ctx.workspace = workspace_;
    ctx.temp = outside_root_;
    for (const std::string& pattern : policy_.filesystem.deny_read) {
      auto path = paths::Expand(pattern, ctx);
      if (!path) continue;
      if (!Exists(*path)) {
        if (!fs::create_directory(fs::u8path(*path), ec)) continue;
        created_.push_back(*path);
      }
      deny_canary_ = *path + "\\stockade-selftest-" + marker_;
      if (WriteAllText(deny_canary_, "stockade-selftest deny-read canary\r\n")) break;
      deny_canary_.clear();
    }
  }
  StartVictim();
  service_pid_ = PidByName(L"stockaded.exe");
  if (service_pid_ == 0) service_pid_ = PidByName(L"services.exe");
  for (const char* name : {"gcc.exe", "cc.exe", "clang.exe"}) {
    cc_ = FindInPath(name);
    if (!cc_.empty()) break;
  }
  git_ = FindInPath("git.exe");
  if (!git_.empty()) {
    repo_ = scratch_ + "\\repo";
    fs::create_directory(fs::u8path(repo_), ec);
    auto init = RunCaptured({git_, "init", "-q", repo_}, repo_, 30000);
    if (!init || init->status != 0) repo_.clear();
  }
  listeners_ = std::make_unique<Listeners>();
  ipv4_ = HostAddress(AF_INET);
  ipv6_ = HostAddress(AF_INET6);
  if (ipv6_.empty()) ipv6_ = "::1";
  return OkStatus();
}

void WinSelftest::StartVictim() {
  std::wstring cmd = L"\"" + Wide(probe_) + L"\" victim";
  STARTUPINFOW si{};
  si.cb = sizeof(si);
  victim_ = PROCESS_INFORMATION{};
  ::CreateProcessW(nullptr, cmd.data(), nullptr, nullptr, FALSE, CREATE_NO_WINDOW, nullptr, nullptr,
                   &si, &victim_);
}

void WinSelftest::Cleanup() {
  listeners_.reset();
  if (victim_.hProcess != nullptr) {
    ::TerminateProcess(victim_.hProcess, 0);
    ::CloseHandle(victim_.hProcess);
    ::CloseHandle(victim_.hThread);
    victim_ = PROCESS_INFORMATION{};
  }
  if (!deny_canary_.empty()) RemoveTree(deny_canary_);
  for (const std::string& p : created_) RemoveTree(p);
  created_.clear();
  if (!scratch_.empty()) RemoveTree(scratch_);
  if (!outside_root_.empty()) RemoveTree(outside_root_);
  scratch_.clear();
  outside_root_.clear();
}

ProbePlan WinSelftest::PlanFor(const ProbeInfo& info, Expectation expectation) {
  (void)expectation;
  ProbePlan plan;
  const std::string name = info.name;
  auto arg = [&](const std::string& k, const std::string& v) { plan.args.push_back(k + "=" + v); };
  const std::string tag = "stockade-selftest-" + marker_;
  if (name == "write-outside") {
    arg("path", outside_ + "\\new-" + marker_);
    plan.must_not_exist.push_back(outside_ + "\\new-" + marker_);
  } else if (name == "overwrite-canary" || name == "chmod-outside") {
    arg("path", canary_);
  } else if (name == "write-git" || name == "write-codex" || name == "write-agents") {
    const std::string p = workspace_ + "\\." + name.substr(6) + "\\" + tag;
    arg("path", p);
    plan.must_not_exist.push_back(p);
  } else if (name == "rename-protected") {
    arg("path", workspace_ + "\\.git");
    plan.moved_from = workspace_ + "\\.git.stockade-selftest-moved";
    plan.moved_to = workspace_ + "\\.git";
  } else if (name == "symlink-out" || name == "hardlink-out") {
    arg("link", scratch_ + "\\" + name.substr(0, 4) + "-" + marker_);
    arg("target", canary_);
  } else if (name == "junction-out") {
    arg("link", scratch_ + "\\junction-" + marker_);
    arg("target", outside_);
  } else if (name == "read-deny") {
    if (deny_canary_.empty()) plan.skip = "no deny-read folder exists or can be made";
    arg("path", deny_canary_);
  } else if (name == "read-secrets") {
    if (!Exists(state_dir_)) plan.skip = "the state folder " + state_dir_ + " does not exist";
    arg("dir", state_dir_);
    if (Exists(state_dir_ + "\\journal.db")) arg("file", state_dir_ + "\\journal.db");
  } else if (name == "write-journal" || name == "write-audit") {
    const std::string dir = name == "write-journal" ? state_dir_ : state_dir_ + "\\audit";
    const std::string file = dir + (name == "write-journal" ? "\\journal.db" : "\\audit.db");
    if (Exists(file)) {
      arg("path", file);
    } else if (Exists(dir)) {
      arg("dir", dir);
      plan.must_not_exist.push_back(dir + "\\" + tag);
    } else {
      plan.skip = "neither " + file + " nor its folder exists (nothing provisioned here)";
    }
  } else if (name == "modify-policy") {
    if (!Exists(policy_.source)) plan.skip = "the policy in force is the embedded default";
    arg("path", policy_.source);
  } else if (name == "write-tmp") {
    char win[MAX_PATH];
    const UINT n = ::GetWindowsDirectoryA(win, MAX_PATH);
    const std::string p = std::string(win, n) + "\\Temp\\" + tag;
    arg("path", p);
    plan.must_not_exist.push_back(p);
  } else if (name == "write-home") {
    if (home_.empty()) plan.skip = "no profile folder";
    arg("path", home_ + "\\" + tag);
    plan.must_not_exist.push_back(home_ + "\\" + tag);
  } else if (name == "tcp-out" || name == "udp-out" || name == "dns") {
    if (ipv4_.empty()) plan.skip = "this host has no non-loopback IPv4 address";
    if (!listeners_->ok()) plan.skip = "the selftest's listeners could not be opened";
    arg("host", ipv4_);
    arg("port",
        std::to_string(name == "tcp-out" ? listeners_->tcp4_port() : listeners_->udp_port()));
  } else if (name == "ipv6-out") {
    if (listeners_->tcp6_port() == 0) plan.skip = "no IPv6 listener could be opened";
    arg("host", ipv6_);
    arg("port", std::to_string(listeners_->tcp6_port()));
  } else if (name == "loopback-denied") {
    arg("host", "127.0.0.1");
    arg("port", std::to_string(listeners_->tcp4_port()));
  } else if (name == "loopback-allowed") {
    if (policy_.offline.loopback_ports.empty()) {
      plan.skip = "the policy gives the offline identity no loopback port";
    } else {
      plan.skip = "not exercised on Windows yet (needs a listener on the policy's port)";
    }
  } else if (name == "daemon" || name == "breakaway") {
    plan.pidfile = scratch_ + "\\" + name + ".pid";
    arg("pidfile", plan.pidfile);
  } else if (name == "ptrace-outside" || name == "signal-outside") {
    arg("pid", std::to_string(victim_.dwProcessId));
    arg("what", "a process of the invoking user");
  } else if (name == "kill-service") {
    if (service_pid_ == 0) plan.skip = "neither stockaded.exe nor services.exe is running";
    arg("pid", std::to_string(service_pid_));
    arg("what", "the service");
  } else if (name == "forkbomb") {
    const long long limit = policy_.limits.max_processes;
    arg("count", std::to_string(limit + 8));
    arg("limit", std::to_string(limit));
    if (limit == 0 || limit > 256) {
      plan.skip = "the policy's process limit (" + std::to_string(limit) +
                  ") is too high to exceed quickly here";
    }
  } else if (name == "memory") {
    const unsigned long long limit = policy_.limits.memory_mb;
    MEMORYSTATUSEX ms{};
    ms.dwLength = sizeof(ms);
    ::GlobalMemoryStatusEx(&ms);
    const unsigned long long avail = ms.ullAvailPhys >> 20;
    arg("mb", std::to_string(limit + 64));
    arg("limit", std::to_string(limit));
    if (limit == 0 || limit + 64 > avail / 2) {
      plan.skip = "the memory limit (" + std::to_string(limit) +
                  " MiB) is too close to the free memory to exceed safely";
    }
  } else if (name == "service-socket") {
    const std::string pipe =
        options_.socket_path.empty() ? std::string("\\\\.\\pipe\\stockade") : options_.socket_path;
    if (!::WaitNamedPipeW(Wide(pipe).c_str(), 100) && ::GetLastError() == ERROR_FILE_NOT_FOUND) {
      plan.skip = "no service pipe " + pipe;
    }
    arg("pipe", pipe);
  } else if (name == "workspace-write") {
    arg("dir", scratch_);
  } else if (name == "compile") {
    if (cc_.empty()) plan.skip = "no C compiler (gcc, cc, clang) in PATH";
    arg("dir", scratch_ + "\\cc");
    arg("cc", cc_);
  } else if (name == "git-status") {
    if (git_.empty() || repo_.empty()) plan.skip = "git is not installed";
    arg("repo", repo_);
    arg("git", git_);
  }
  arg("marker", marker_);
  return plan;
}

void WinSelftest::CheckOutside(const ProbeInfo& info, const ProbePlan& plan, Observation* obs) {
  if (!plan.pidfile.empty()) {
    const std::string text = ReadAll(plan.pidfile);
    const DWORD pid = static_cast<DWORD>(std::strtoul(text.c_str(), nullptr, 10));
    if (pid != 0 && ProcessAlive(pid)) {
      obs->outside.push_back("pid " + std::to_string(pid) + " survived the run");
      KillPid(pid);
    } else if (pid != 0) {
      obs->notes.push_back("pid " + std::to_string(pid) + " is gone after the run");
    }
  }
  if (ReadAll(canary_) != kCanaryText) {
    obs->outside.push_back("the canary " + canary_ + " was changed");
    WriteAllText(canary_, kCanaryText);
  }
  for (const std::string& p : plan.must_not_exist) {
    if (Exists(p)) {
      obs->outside.push_back(p + " exists after the run");
      RemoveTree(p);
    }
  }
  if (!plan.moved_from.empty() && Exists(plan.moved_from)) {
    obs->outside.push_back(plan.moved_to + " was renamed to " + plan.moved_from);
    if (!Exists(plan.moved_to)) {
      ::MoveFileExW(Wide(plan.moved_from).c_str(), Wide(plan.moved_to).c_str(), 0);
    }
  }
  if (!ProcessAlive(victim_.dwProcessId)) {
    obs->outside.push_back("the victim process was killed");
    StartVictim();
  }
  (void)info;
}

Expected<SelftestReport> WinSelftest::Run(const ProgressFn& progress) {
  SelftestReport report;
  report.platform = "windows";
  report.identity = options_.identity;
  report.unprovisioned = options_.unprovisioned;
  report.workspace = workspace_;
  std::vector<const ProbeInfo*> probes = ProbesFor(Platform::kWindows);
  std::stable_partition(probes.begin(), probes.end(), [](const ProbeInfo* p) {
    return std::string_view(p->name) == "workspace-write";
  });
  bool first = true;
  // Under Wine the unprovisioned probes run in this process (see the top of this file); once a
  // token could not be verified, every later result is labelled too.
  const bool wine_in_process = options_.unprovisioned && runner::win_os::RunningUnderWine();
  bool token_verified = true;
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
      std::vector<std::string> argv = {stockade_};
      if (!options_.policy_path.empty())
        argv.insert(argv.end(), {"--policy", options_.policy_path});
      if (!options_.state_dir.empty()) argv.insert(argv.end(), {"--state-dir", options_.state_dir});
      argv.insert(argv.end(), {"run", "--identity", options_.identity, "--workspace", workspace_,
                               "--timeout", std::to_string(options_.probe_timeout.count())});
      if (options_.unprovisioned) argv.push_back("--unprovisioned");
      if (!options_.socket_path.empty())
        argv.insert(argv.end(), {"--socket", options_.socket_path});
      std::vector<std::string> probe_argv = {probe_, info->name};
      probe_argv.insert(probe_argv.end(), plan.args.begin(), plan.args.end());
      argv.push_back("--");
      argv.insert(argv.end(), probe_argv.begin(), probe_argv.end());
      std::vector<std::string> unverified;
      auto ran =
          wine_in_process
              ? RunUnprovisionedInProcess(options_, workspace_, probe_argv, &unverified)
              : RunCaptured(argv, workspace_,
                            static_cast<DWORD>(options_.probe_timeout.count() * 1000 + 30000));
      if (!unverified.empty()) {
        token_verified = false;
        if (report.token_unverified.empty()) {
          report.token_unverified = runner::win_os::WineVersion() + ": ";
          for (std::size_t i = 0; i < unverified.size(); ++i) {
            report.token_unverified += (i == 0 ? "" : "; ") + unverified[i];
          }
        }
      }
      if (!ran) {
        obs.report_error = ran.error().ToString();
      } else {
        obs.run_status = ran->status;
        obs.run_output = ran->output;
        auto parsed = ParseProbeOutput(ran->output, info->name);
        if (parsed) {
          obs.report = *parsed;
        } else {
          obs.report_error = parsed.error().ToString();
        }
      }
      if (first && !obs.report) {
        const int s = obs.run_status;
        if (s == 2 || s == 8 || s == 122 || s == 125 || s == 126 || s == 127 || s < 0) {
          return Error(s == 8 ? ErrorCode::kServiceUnavailable : ErrorCode::kOs,
                       "selftest: `stockade run` cannot run the probes (exit status " +
                           std::to_string(s) + "): " + obs.run_output + obs.report_error);
        }
      }
      first = false;
      CheckOutside(*info, plan, &obs);
    }
    // The unprovisioned mode's documented limits presume a restricted token: with one that
    // could not be verified, every escape is an escape.
    ProbeResult result = Judge(*info, expectation, options_.unprovisioned && token_verified, obs);
    if (!token_verified) result.label = UnverifiedLabel();
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (progress) progress(result);
    report.results.push_back(std::move(result));
  }
  if (!token_verified) {
    // Results judged before the first unverified token (skips, in practice) get the label too:
    // nothing in this report was obtained with a verified token.
    for (ProbeResult& r : report.results) {
      r.label = UnverifiedLabel();
      if (r.verdict == Verdict::kLimit) r.verdict = Verdict::kEscaped;
    }
  }
  return report;
}

}  // namespace

std::string ThisExecutablePath() {
  wchar_t buf[MAX_PATH * 4];
  const DWORD n = ::GetModuleFileNameW(nullptr, buf, static_cast<DWORD>(std::size(buf)));
  return n > 0 && n < std::size(buf) ? Utf8(std::wstring(buf, n)) : std::string();
}

Expected<SelftestReport> RunSelftest(const SelftestOptions& options, const ProgressFn& progress) {
  WinSelftest selftest(options);
  STOCKADE_RETURN_IF_ERROR(selftest.Prepare());
  return selftest.Run(progress);
}

}  // namespace stockade::runner::selftest
