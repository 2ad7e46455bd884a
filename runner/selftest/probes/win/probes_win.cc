// The Windows probes: the same attacks as on Linux, through the Win32 API (files, links,
// junctions, ACL rights, Winsock, processes and the job, tokens, the service's named pipe), and
// the allowed actions. Like on Linux, real targets (the journal, the audit store, the policy,
// other processes) are only opened with the right that would allow harm, never harmed.

// Order matters: winsock2.h before windows.h, and windows.h before the headers that
// use its types.
// clang-format off
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <winioctl.h>
// clang-format on

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "provision/win/win_util.h"
#include "runner/protocol/messages.h"
#include "runner/selftest/catalog.h"
#include "runner/selftest/probes/probes.h"

namespace stockade::runner::selftest {

namespace {

using provision::win::Utf8;
using provision::win::Wide;

std::string ErrText(const std::string& call, DWORD err) {
  return call + ": error " + std::to_string(err) + " (" + provision::win::Win32Message(err) + ")";
}

std::string WsaText(const std::string& call, int err) {
  return call + ": WSA error " + std::to_string(err) + " (" +
         provision::win::Win32Message(static_cast<DWORD>(err)) + ")";
}

class Handle {
 public:
  explicit Handle(HANDLE h = INVALID_HANDLE_VALUE) : h_(h) {}
  ~Handle() {
    if (ok()) ::CloseHandle(h_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  HANDLE get() const { return h_; }
  bool ok() const { return h_ != INVALID_HANDLE_VALUE && h_ != nullptr; }

 private:
  HANDLE h_;
};

constexpr char kPayload[] = "stockade-selftest: written from inside the sandbox\r\n";

// Creates `path` (CREATE_NEW) and writes to it; "" on success.
std::string CreateAndWrite(const std::string& path) {
  Handle h(::CreateFileW(Wide(path).c_str(), GENERIC_WRITE, 0, nullptr, CREATE_NEW,
                         FILE_ATTRIBUTE_NORMAL, nullptr));
  if (!h.ok()) return ErrText("CreateFileW(" + path + ", CREATE_NEW)", ::GetLastError());
  DWORD written = 0;
  if (!::WriteFile(h.get(), kPayload, sizeof(kPayload) - 1, &written, nullptr)) {
    return ErrText("WriteFile(" + path + ")", ::GetLastError());
  }
  return "";
}

ProbeReport NewFile(std::string_view probe, const std::string& path) {
  if (path.empty()) return Failed(probe, "missing argument path=");
  const std::string err = CreateAndWrite(path);
  if (err.empty()) {
    ::DeleteFileW(Wide(path).c_str());
    return Escaped(probe, "created and wrote " + path + " (removed again)");
  }
  return Blocked(probe, err);
}

// Opens `path` asking for `access`; proving the right is enough, nothing is changed.
ProbeReport OpenWith(std::string_view probe, const std::string& path, DWORD access,
                     const char* access_name) {
  if (path.empty()) return Failed(probe, "missing argument path=");
  Handle h(::CreateFileW(Wide(path).c_str(), access, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                         OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, nullptr));
  if (!h.ok()) {
    return Blocked(probe,
                   ErrText("CreateFileW(" + path + ", " + access_name + ")", ::GetLastError()));
  }
  return Escaped(probe, "opened " + path + " with " + access_name + " (nothing changed)");
}

ProbeReport OverwriteCanary(std::string_view probe, const std::string& path) {
  Handle h(::CreateFileW(Wide(path).c_str(), GENERIC_WRITE, 0, nullptr, TRUNCATE_EXISTING,
                         FILE_ATTRIBUTE_NORMAL, nullptr));
  if (!h.ok()) {
    return Blocked(probe,
                   ErrText("CreateFileW(" + path + ", TRUNCATE_EXISTING)", ::GetLastError()));
  }
  DWORD written = 0;
  ::WriteFile(h.get(), kPayload, sizeof(kPayload) - 1, &written, nullptr);
  return Escaped(probe, "truncated and rewrote " + path);
}

ProbeReport ReadFileProbe(std::string_view probe, const std::string& path) {
  if (path.empty()) return Failed(probe, "missing argument path=");
  Handle h(::CreateFileW(Wide(path).c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE,
                         nullptr, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr));
  if (!h.ok()) {
    return Blocked(probe, ErrText("CreateFileW(" + path + ", GENERIC_READ)", ::GetLastError()));
  }
  char buf[128];
  DWORD got = 0;
  if (!::ReadFile(h.get(), buf, sizeof(buf), &got, nullptr)) {
    return Blocked(probe, ErrText("ReadFile(" + path + ")", ::GetLastError()));
  }
  return Escaped(probe, "read " + std::to_string(got) + " bytes of " + path);
}

ProbeReport ReadSecrets(std::string_view probe, const ProbeArgs& args) {
  const std::string dir = args.Get("dir");
  if (dir.empty()) return Failed(probe, "missing argument dir=");
  WIN32_FIND_DATAW data;
  HANDLE find = ::FindFirstFileW(Wide(dir + "\\*").c_str(), &data);
  std::string evidence;
  bool escaped = false;
  if (find == INVALID_HANDLE_VALUE) {
    evidence = ErrText("FindFirstFileW(" + dir + ")", ::GetLastError());
  } else {
    int count = 0;
    std::string names;
    do {
      const std::string name = Utf8(data.cFileName);
      if (name == "." || name == "..") continue;
      if (count++ < 6) names += (names.empty() ? "" : ",") + name;
    } while (::FindNextFileW(find, &data));
    ::FindClose(find);
    // Listing the folder at all is the escape (an empty state folder is still readable).
    escaped = true;
    evidence = "listed " + dir + ": " + std::to_string(count) + " entries (" + names + ")";
  }
  const std::string file = args.Get("file");
  if (!file.empty()) {
    ProbeReport r = ReadFileProbe(probe, file);
    escaped = escaped || r.outcome == ProbeOutcome::kEscaped;
    evidence += "; " + r.evidence;
  }
  return escaped ? Escaped(probe, evidence) : Blocked(probe, evidence);
}

ProbeReport RenameProtected(std::string_view probe, const std::string& path) {
  if (path.empty()) return Failed(probe, "missing argument path=");
  const std::string moved = path + ".stockade-selftest-moved";
  if (!::MoveFileExW(Wide(path).c_str(), Wide(moved).c_str(), 0)) {
    return Blocked(probe, ErrText("MoveFileExW(" + path + ")", ::GetLastError()));
  }
  const bool back = ::MoveFileExW(Wide(moved).c_str(), Wide(path).c_str(), 0) != 0;
  return Escaped(probe, "renamed " + path + (back ? " (and back)" : " (could NOT rename back)"));
}

ProbeReport LinkOut(std::string_view probe, const ProbeArgs& args, bool hard) {
  const std::string link = args.Get("link");
  const std::string target = args.Get("target");
  if (link.empty() || target.empty()) return Failed(probe, "missing argument link= or target=");
  BOOL made = hard ? ::CreateHardLinkW(Wide(link).c_str(), Wide(target).c_str(), nullptr)
                   : ::CreateSymbolicLinkW(Wide(link).c_str(), Wide(target).c_str(),
                                           SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE);
  if (!made) {
    return Blocked(probe, ErrText(std::string(hard ? "CreateHardLinkW" : "CreateSymbolicLinkW") +
                                      "(" + link + " -> " + target + ")",
                                  ::GetLastError()));
  }
  std::string evidence =
      std::string(hard ? "hard link" : "symlink") + " " + link + " -> " + target + " created";
  Handle h(::CreateFileW(Wide(link).c_str(), GENERIC_WRITE, 0, nullptr, TRUNCATE_EXISTING,
                         FILE_ATTRIBUTE_NORMAL, nullptr));
  const DWORD err = ::GetLastError();
  bool wrote = false;
  if (h.ok()) {
    DWORD written = 0;
    wrote = ::WriteFile(h.get(), kPayload, sizeof(kPayload) - 1, &written, nullptr) != 0;
  }
  ::DeleteFileW(Wide(link).c_str());
  if (wrote) return Escaped(probe, evidence + "; wrote through it");
  if (hard) return Escaped(probe, evidence + "; " + ErrText("open through it", err));
  return Blocked(probe, evidence + "; " + ErrText("CreateFileW through it", err));
}

// A junction (mount point reparse point) in the workspace that points to a folder outside.
ProbeReport JunctionOut(std::string_view probe, const ProbeArgs& args) {
  const std::string link = args.Get("link");
  const std::string target = args.Get("target");
  if (link.empty() || target.empty()) return Failed(probe, "missing argument link= or target=");
  if (!::CreateDirectoryW(Wide(link).c_str(), nullptr)) {
    return Blocked(probe, ErrText("CreateDirectoryW(" + link + ")", ::GetLastError()));
  }
  std::wstring substitute = L"\\??\\" + Wide(target);
  std::wstring print = Wide(target);
  const std::size_t path_bytes = (substitute.size() + 1 + print.size() + 1) * sizeof(wchar_t);
  std::vector<BYTE> buffer(8 + 8 + path_bytes, 0);
  auto put16 = [&](std::size_t at, std::size_t v) {
    buffer[at] = static_cast<BYTE>(v & 0xff);
    buffer[at + 1] = static_cast<BYTE>((v >> 8) & 0xff);
  };
  const DWORD tag = IO_REPARSE_TAG_MOUNT_POINT;
  std::memcpy(buffer.data(), &tag, 4);
  put16(4, 8 + path_bytes);                              // ReparseDataLength
  put16(8, 0);                                           // SubstituteNameOffset
  put16(10, substitute.size() * sizeof(wchar_t));        // SubstituteNameLength
  put16(12, (substitute.size() + 1) * sizeof(wchar_t));  // PrintNameOffset
  put16(14, print.size() * sizeof(wchar_t));             // PrintNameLength
  std::memcpy(buffer.data() + 16, substitute.c_str(), (substitute.size() + 1) * sizeof(wchar_t));
  std::memcpy(buffer.data() + 16 + (substitute.size() + 1) * sizeof(wchar_t), print.c_str(),
              (print.size() + 1) * sizeof(wchar_t));
  std::string evidence;
  {
    Handle dir(::CreateFileW(Wide(link).c_str(), GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                             FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, nullptr));
    if (!dir.ok()) {
      evidence = ErrText("open " + link + " for the reparse point", ::GetLastError());
    } else {
      DWORD returned = 0;
      if (!::DeviceIoControl(dir.get(), FSCTL_SET_REPARSE_POINT, buffer.data(),
                             static_cast<DWORD>(buffer.size()), nullptr, 0, &returned, nullptr)) {
        evidence = ErrText("FSCTL_SET_REPARSE_POINT(" + link + ")", ::GetLastError());
      }
    }
  }
  if (!evidence.empty()) {
    ::RemoveDirectoryW(Wide(link).c_str());
    return Blocked(probe, evidence);
  }
  const std::string through = link + "\\stockade-selftest-" + args.Get("marker");
  const std::string err = CreateAndWrite(through);
  if (err.empty()) ::DeleteFileW(Wide(through).c_str());
  ::RemoveDirectoryW(Wide(link).c_str());
  if (err.empty()) return Escaped(probe, "junction made; created " + through + " in " + target);
  return Blocked(probe, "junction " + link + " -> " + target + " made; " + err);
}

struct WinsockInit {
  WinsockInit() {
    WSADATA data;
    ok = ::WSAStartup(MAKEWORD(2, 2), &data) == 0;
  }
  ~WinsockInit() {
    if (ok) ::WSACleanup();
  }
  bool ok = false;
};

bool MakeAddress(const std::string& host, int port, sockaddr_storage* out, int* len) {
  std::memset(out, 0, sizeof(*out));
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<u_short>(port));
    *len = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<u_short>(port));
    *len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

ProbeReport TcpProbe(std::string_view probe, const std::string& host, int port) {
  WinsockInit wsa;
  if (!wsa.ok) return Failed(probe, "WSAStartup failed");
  sockaddr_storage addr;
  int len = 0;
  if (host.empty() || port <= 0 || !MakeAddress(host, port, &addr, &len)) {
    return Failed(probe, "missing or bad argument host= / port=");
  }
  SOCKET s = ::socket(addr.ss_family, SOCK_STREAM, IPPROTO_TCP);
  if (s == INVALID_SOCKET) return Blocked(probe, WsaText("socket", ::WSAGetLastError()));
  const std::string where = host + ":" + std::to_string(port);
  if (::connect(s, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    const int err = ::WSAGetLastError();
    ::closesocket(s);
    return Blocked(probe, WsaText("connect(" + where + ")", err));
  }
  const char hello[] = "stockade-selftest tcp\n";
  ::send(s, hello, sizeof(hello) - 1, 0);
  char buf[64] = {};
  DWORD timeout = 3000;
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<const char*>(&timeout),
               sizeof(timeout));
  const int got = ::recv(s, buf, sizeof(buf) - 1, 0);
  ::closesocket(s);
  return Allowed(probe, "connected to " + where + (got > 0 ? ", got a reply" : ", no reply"));
}

ProbeReport UdpProbe(std::string_view probe, const std::string& host, int port) {
  WinsockInit wsa;
  if (!wsa.ok) return Failed(probe, "WSAStartup failed");
  sockaddr_storage addr;
  int len = 0;
  if (host.empty() || port <= 0 || !MakeAddress(host, port, &addr, &len)) {
    return Failed(probe, "missing or bad argument host= / port=");
  }
  SOCKET s = ::socket(addr.ss_family, SOCK_DGRAM, IPPROTO_UDP);
  if (s == INVALID_SOCKET)
    return Blocked(probe, WsaText("socket(SOCK_DGRAM)", ::WSAGetLastError()));
  const char payload[] = "stockade-selftest udp";
  if (::sendto(s, payload, sizeof(payload) - 1, 0, reinterpret_cast<sockaddr*>(&addr), len) < 0) {
    const int err = ::WSAGetLastError();
    ::closesocket(s);
    return Blocked(probe, WsaText("sendto", err));
  }
  DWORD timeout = 3000;
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<const char*>(&timeout),
               sizeof(timeout));
  char buf[512];
  const int got = ::recv(s, buf, sizeof(buf), 0);
  ::closesocket(s);
  if (got <= 0) return Blocked(probe, "datagram sent, no answer in 3 s (dropped)");
  return Allowed(probe, "datagram to " + host + ":" + std::to_string(port) + " answered");
}

ProbeReport RawIcmp(std::string_view probe) {
  WinsockInit wsa;
  SOCKET s = ::socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
  if (s == INVALID_SOCKET) {
    return Blocked(probe, WsaText("socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)", ::WSAGetLastError()));
  }
  ::closesocket(s);
  return Escaped(probe, "opened a raw ICMP socket");
}

std::string ExePath() {
  wchar_t buf[MAX_PATH * 2];
  const DWORD n = ::GetModuleFileNameW(nullptr, buf, static_cast<DWORD>(std::size(buf)));
  return Utf8(std::wstring(buf, n));
}

// Starts "stockade-probe sleeper marker=..." with `flags`; returns the pid, 0 on failure
// (*err set).
DWORD StartSleeper(const std::string& marker, DWORD flags, DWORD* err) {
  std::wstring cmd = L"\"" + Wide(ExePath()) + L"\" sleeper marker=" + Wide(marker);
  STARTUPINFOW si{};
  si.cb = sizeof(si);
  PROCESS_INFORMATION pi{};
  if (!::CreateProcessW(nullptr, cmd.data(), nullptr, nullptr, FALSE, flags, nullptr, nullptr, &si,
                        &pi)) {
    *err = ::GetLastError();
    return 0;
  }
  ::CloseHandle(pi.hThread);
  ::CloseHandle(pi.hProcess);
  return pi.dwProcessId;
}

void WritePidFile(const std::string& path, DWORD pid) {
  Handle h(::CreateFileW(Wide(path).c_str(), GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS,
                         FILE_ATTRIBUTE_NORMAL, nullptr));
  if (!h.ok()) return;
  const std::string text = std::to_string(pid);
  DWORD written = 0;
  ::WriteFile(h.get(), text.data(), static_cast<DWORD>(text.size()), &written, nullptr);
}

ProbeReport Detached(std::string_view probe, const ProbeArgs& args, DWORD flags, const char* how) {
  const std::string pidfile = args.Get("pidfile");
  if (pidfile.empty()) return Failed(probe, "missing argument pidfile=");
  DWORD err = 0;
  const DWORD pid = StartSleeper(args.Get("marker"), flags, &err);
  if (pid == 0) return Blocked(probe, ErrText(std::string("CreateProcessW(") + how + ")", err));
  WritePidFile(pidfile, pid);
  return Allowed(probe, std::string("started pid ") + std::to_string(pid) + " with " + how +
                            "; the run must not leave it alive");
}

ProbeReport OpenProcessProbe(std::string_view probe, const ProbeArgs& args, DWORD access,
                             const char* access_name) {
  const DWORD pid = static_cast<DWORD>(args.GetInt("pid", 0));
  if (pid == 0) return Failed(probe, "missing argument pid=");
  Handle h(::OpenProcess(access, FALSE, pid));
  if (!h.ok()) {
    return Blocked(probe, ErrText("OpenProcess(" + std::to_string(pid) + ", " + access_name + ")",
                                  ::GetLastError()));
  }
  return Escaped(probe, "opened pid " + std::to_string(pid) + " (" + args.Get("what") + ") with " +
                            access_name + " (not used)");
}

ProbeReport DebugOutside(std::string_view probe, const ProbeArgs& args) {
  const DWORD pid = static_cast<DWORD>(args.GetInt("pid", 0));
  if (pid == 0) return Failed(probe, "missing argument pid=");
  if (!::DebugActiveProcess(pid)) {
    return Blocked(probe,
                   ErrText("DebugActiveProcess(" + std::to_string(pid) + ")", ::GetLastError()));
  }
  ::DebugActiveProcessStop(pid);
  return Escaped(probe, "attached a debugger to pid " + std::to_string(pid) + " (detached)");
}

ProbeReport ForkBomb(std::string_view probe, const ProbeArgs& args) {
  const long long count = args.GetInt("count", 0);
  if (count <= 0) return Failed(probe, "missing argument count=");
  std::vector<HANDLE> kids;
  DWORD err = 0;
  const std::wstring exe = Wide(ExePath());
  for (long long i = 0; i < count; ++i) {
    std::wstring cmd = L"\"" + exe + L"\" sleeper marker=" + Wide(args.Get("marker"));
    STARTUPINFOW si{};
    si.cb = sizeof(si);
    PROCESS_INFORMATION pi{};
    if (!::CreateProcessW(nullptr, cmd.data(), nullptr, nullptr, FALSE, CREATE_NO_WINDOW, nullptr,
                          nullptr, &si, &pi)) {
      err = ::GetLastError();
      break;
    }
    ::CloseHandle(pi.hThread);
    kids.push_back(pi.hProcess);
  }
  for (HANDLE k : kids) {
    ::TerminateProcess(k, 0);
    ::CloseHandle(k);
  }
  if (err != 0) {
    return Blocked(probe, "started " + std::to_string(kids.size()) + " processes, then " +
                              ErrText("CreateProcessW", err));
  }
  return Escaped(probe, "started all " + std::to_string(count) + " processes (limit " +
                            args.Get("limit") + ")");
}

ProbeReport Memory(std::string_view probe, const ProbeArgs& args) {
  const long long mb = args.GetInt("mb", 0);
  if (mb <= 0) return Failed(probe, "missing argument mb=");
  std::vector<void*> chunks;
  DWORD err = 0;
  for (long long i = 0; i < mb; ++i) {
    void* p = ::VirtualAlloc(nullptr, 1 << 20, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    if (p == nullptr) {
      err = ::GetLastError();
      break;
    }
    for (int off = 0; off < (1 << 20); off += 4096) static_cast<char*>(p)[off] = 1;
    chunks.push_back(p);
  }
  const std::size_t got = chunks.size();
  for (void* p : chunks) ::VirtualFree(p, 0, MEM_RELEASE);
  if (err != 0) {
    return Blocked(probe, "committed " + std::to_string(got) + " MiB, then " +
                              ErrText("VirtualAlloc", err) + " (limit " + args.Get("limit") +
                              " MiB)");
  }
  return Escaped(probe, "committed and touched " + std::to_string(mb) + " MiB (limit " +
                            args.Get("limit") + " MiB)");
}

ProbeReport Privilege(std::string_view probe) {
  HANDLE raw = nullptr;
  if (!::OpenProcessToken(::GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY, &raw)) {
    return Blocked(probe, ErrText("OpenProcessToken", ::GetLastError()));
  }
  Handle token(raw);
  TOKEN_PRIVILEGES tp{};
  tp.PrivilegeCount = 1;
  if (!::LookupPrivilegeValueW(nullptr, L"SeDebugPrivilege", &tp.Privileges[0].Luid)) {
    return Failed(probe, ErrText("LookupPrivilegeValueW", ::GetLastError()));
  }
  tp.Privileges[0].Attributes = SE_PRIVILEGE_ENABLED;
  ::AdjustTokenPrivileges(token.get(), FALSE, &tp, sizeof(tp), nullptr, nullptr);
  const DWORD err = ::GetLastError();
  if (err != ERROR_SUCCESS) return Blocked(probe, ErrText("AdjustTokenPrivileges(SeDebug)", err));
  return Escaped(probe, "SeDebugPrivilege enabled in its own token");
}

// Connects to the service's pipe and asks for the online identity in C:\ (never granted).
ProbeReport ServicePipe(std::string_view probe, const ProbeArgs& args) {
  const std::string name = args.Get("pipe");
  if (name.empty()) return Failed(probe, "missing argument pipe=");
  Handle pipe(::CreateFileW(Wide(name).c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr,
                            OPEN_EXISTING, 0, nullptr));
  if (!pipe.ok()) return Blocked(probe, ErrText("CreateFileW(" + name + ")", ::GetLastError()));
  protocol::RunRequest request;
  request.identity = "online";
  request.workspace = "C:\\";
  request.cwd = "C:\\";
  request.argv = {"cmd.exe", "/c", "whoami"};
  request.stdio = {protocol::StdioKind::kNull, protocol::StdioKind::kNull,
                   protocol::StdioKind::kNull};
  auto frame = protocol::EncodeMessage(request);
  if (!frame) return Failed(probe, frame.error().ToString());
  DWORD n = 0;
  if (!::WriteFile(pipe.get(), frame->data(), static_cast<DWORD>(frame->size()), &n, nullptr)) {
    return Blocked(probe, ErrText("WriteFile(pipe)", ::GetLastError()));
  }
  std::uint8_t header[protocol::kHeaderBytes];
  DWORD got = 0;
  if (!::ReadFile(pipe.get(), header, sizeof(header), &got, nullptr) || got != sizeof(header)) {
    return Blocked(probe, "the service closed the pipe without starting anything");
  }
  auto h = protocol::DecodeHeader(header, sizeof(header));
  if (!h) return Blocked(probe, h.error().ToString());
  if (h->type == protocol::MessageType::kError) {
    return Blocked(probe, "the service refused the RunRequest (online, C:\\)");
  }
  if (h->type == protocol::MessageType::kStarted) {
    return Escaped(probe, "the service STARTED a run as online in C:\\");
  }
  return Escaped(probe, "the service answered " + protocol::MessageTypeName(h->type));
}

// Runs a command line, output captured; returns the exit code (-1 when it could not start).
int RunCommand(const std::wstring& command_line, const std::string& cwd, std::string* output) {
  SECURITY_ATTRIBUTES sa{sizeof(sa), nullptr, TRUE};
  HANDLE read_end = nullptr;
  HANDLE write_end = nullptr;
  if (!::CreatePipe(&read_end, &write_end, &sa, 0)) return -1;
  ::SetHandleInformation(read_end, HANDLE_FLAG_INHERIT, 0);
  STARTUPINFOW si{};
  si.cb = sizeof(si);
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = nullptr;
  si.hStdOutput = write_end;
  si.hStdError = write_end;
  PROCESS_INFORMATION pi{};
  std::wstring cmd = command_line;
  const std::wstring wcwd = Wide(cwd);
  if (!::CreateProcessW(nullptr, cmd.data(), nullptr, nullptr, TRUE, CREATE_NO_WINDOW, nullptr,
                        cwd.empty() ? nullptr : wcwd.c_str(), &si, &pi)) {
    *output = ErrText("CreateProcessW", ::GetLastError());
    ::CloseHandle(read_end);
    ::CloseHandle(write_end);
    return -1;
  }
  ::CloseHandle(write_end);
  char buf[4096];
  DWORD got = 0;
  while (::ReadFile(read_end, buf, sizeof(buf), &got, nullptr) && got > 0) output->append(buf, got);
  ::CloseHandle(read_end);
  ::WaitForSingleObject(pi.hProcess, 120000);
  DWORD code = 1;
  ::GetExitCodeProcess(pi.hProcess, &code);
  ::CloseHandle(pi.hProcess);
  ::CloseHandle(pi.hThread);
  return static_cast<int>(code);
}

std::wstring Quote(const std::string& s) { return L"\"" + Wide(s) + L"\""; }

ProbeReport WorkspaceWrite(std::string_view probe, const ProbeArgs& args) {
  const std::string dir = args.Get("dir");
  if (dir.empty()) return Failed(probe, "missing argument dir=");
  const std::string a = dir + "\\ws-write.txt";
  const std::string b = dir + "\\ws-renamed.txt";
  ::DeleteFileW(Wide(a).c_str());
  std::string err = CreateAndWrite(a);
  if (!err.empty()) return Blocked(probe, err);
  if (!::MoveFileExW(Wide(a).c_str(), Wide(b).c_str(), MOVEFILE_REPLACE_EXISTING)) {
    return Blocked(probe, ErrText("MoveFileExW", ::GetLastError()));
  }
  if (!::DeleteFileW(Wide(b).c_str()))
    return Blocked(probe, ErrText("DeleteFileW", ::GetLastError()));
  return Allowed(probe, "created, wrote, renamed and deleted a file in " + dir);
}

ProbeReport Compile(std::string_view probe, const ProbeArgs& args) {
  const std::string dir = args.Get("dir");
  const std::string cc = args.Get("cc");
  if (dir.empty() || cc.empty()) return Failed(probe, "missing argument dir= or cc=");
  const std::string src = dir + "\\hello.c";
  const std::string exe = dir + "\\hello.exe";
  ::DeleteFileW(Wide(src).c_str());
  {
    Handle h(::CreateFileW(Wide(src).c_str(), GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS,
                           FILE_ATTRIBUTE_NORMAL, nullptr));
    if (!h.ok()) return Blocked(probe, ErrText("CreateFileW(" + src + ")", ::GetLastError()));
    const char text[] =
        "#include <stdio.h>\nint main(void) { puts(\"stockade-selftest-compiled\"); return 0; }\n";
    DWORD n = 0;
    ::WriteFile(h.get(), text, sizeof(text) - 1, &n, nullptr);
  }
  std::string out;
  const int built = RunCommand(Quote(cc) + L" -o " + Quote(exe) + L" " + Quote(src), dir, &out);
  if (built != 0) {
    return Blocked(probe, cc + " exited " + std::to_string(built) + ": " + out.substr(0, 300));
  }
  std::string ran;
  const int code = RunCommand(Quote(exe), dir, &ran);
  ::DeleteFileW(Wide(src).c_str());
  ::DeleteFileW(Wide(exe).c_str());
  if (code != 0 || ran.find("stockade-selftest-compiled") == std::string::npos) {
    return Blocked(probe, "the compiled program exited " + std::to_string(code));
  }
  return Allowed(probe, cc + " compiled hello.c and it ran");
}

ProbeReport GitStatus(std::string_view probe, const ProbeArgs& args) {
  const std::string repo = args.Get("repo");
  const std::string git = args.Get("git");
  if (repo.empty() || git.empty()) return Failed(probe, "missing argument repo= or git=");
  std::string out;
  const int code = RunCommand(
      Quote(git) + L" -c safe.directory=* -C " + Quote(repo) + L" status --porcelain --branch",
      repo, &out);
  if (code != 0) return Blocked(probe, "git status exited " + std::to_string(code) + ": " + out);
  return Allowed(probe, "git status: " + out.substr(0, 120));
}

}  // namespace

ProbeReport RunProbe(std::string_view name, const ProbeArgs& args) {
  const ProbeInfo* info = FindProbe(name);
  if (info == nullptr ||
      (static_cast<unsigned>(info->platforms) & static_cast<unsigned>(Platform::kWindows)) == 0) {
    return Failed(name, "no such probe on Windows");
  }
  const std::string path = args.Get("path");
  if (name == "write-outside" || name == "write-git" || name == "write-codex" ||
      name == "write-agents" || name == "write-tmp" || name == "write-home") {
    return NewFile(name, path);
  }
  if (name == "overwrite-canary") return OverwriteCanary(name, path);
  if (name == "rename-protected") return RenameProtected(name, path);
  if (name == "symlink-out") return LinkOut(name, args, false);
  if (name == "hardlink-out") return LinkOut(name, args, true);
  if (name == "junction-out") return JunctionOut(name, args);
  if (name == "chmod-outside") return OpenWith(name, path, WRITE_DAC, "WRITE_DAC");
  if (name == "read-deny") return ReadFileProbe(name, path);
  if (name == "read-secrets") return ReadSecrets(name, args);
  if (name == "write-journal" || name == "write-audit" || name == "modify-policy") {
    if (path.empty() && !args.Get("dir").empty()) {
      return NewFile(name, args.Get("dir") + "\\stockade-selftest-" + args.Get("marker"));
    }
    return OpenWith(name, path, FILE_WRITE_DATA, "FILE_WRITE_DATA");
  }
  const std::string host = args.Get("host");
  const int port = static_cast<int>(args.GetInt("port", 0));
  if (name == "tcp-out" || name == "ipv6-out" || name == "loopback-denied" ||
      name == "loopback-allowed") {
    return TcpProbe(name, host.empty() ? "127.0.0.1" : host, port);
  }
  if (name == "udp-out" || name == "dns") return UdpProbe(name, host, port);
  if (name == "raw-icmp") return RawIcmp(name);
  if (name == "daemon") return Detached(name, args, DETACHED_PROCESS, "DETACHED_PROCESS");
  if (name == "breakaway") {
    return Detached(name, args, CREATE_BREAKAWAY_FROM_JOB | DETACHED_PROCESS,
                    "CREATE_BREAKAWAY_FROM_JOB");
  }
  if (name == "ptrace-outside") return DebugOutside(name, args);
  if (name == "signal-outside" || name == "kill-service") {
    return OpenProcessProbe(name, args, PROCESS_TERMINATE, "PROCESS_TERMINATE");
  }
  if (name == "forkbomb") return ForkBomb(name, args);
  if (name == "memory") return Memory(name, args);
  if (name == "privilege") return Privilege(name);
  if (name == "service-socket") return ServicePipe(name, args);
  if (name == "workspace-write") return WorkspaceWrite(name, args);
  if (name == "compile") return Compile(name, args);
  if (name == "git-status") return GitStatus(name, args);
  return Failed(name, "probe listed in the catalog but not built on Windows");
}

bool IsHelper(std::string_view name) { return name == "victim" || name == "sleeper"; }

int RunHelper(std::string_view name, const ProbeArgs&) {
  if (name == "victim" || name == "sleeper") {
    // A process outside the tree (victim) or one the probe leaves behind (sleeper): it only
    // waits to be found, or killed.
    ::Sleep(INFINITE);
    return 0;
  }
  return 2;
}

}  // namespace stockade::runner::selftest
