#include "tests/runner/win/win_runner_test_support.h"

#include <tlhelp32.h>

#include <algorithm>
#include <thread>

#include "provision/win/win_util.h"

namespace stockade::runner::win_os::testing {

bool UnderWine() { return provision::win::RunningUnderWine(); }

std::wstring TestBinaryFolder() {
  wchar_t path[MAX_PATH * 2];
  const DWORD n = GetModuleFileNameW(nullptr, path, MAX_PATH * 2);
  std::wstring full(path, n);
  return full.substr(0, full.find_last_of(L"\\/"));
}

std::wstring ProbePath() { return TestBinaryFolder() + L"\\stockade_win_probe.exe"; }

Pipe MakePipe() {
  Pipe pipe;
  CreatePipe(pipe.read.put(), pipe.write.put(), nullptr, 1 << 16);
  return pipe;
}

namespace {

// Bytes readable now, or -1 at EOF / broken pipe.
long long Available(HANDLE pipe) {
  DWORD available = 0;
  if (!PeekNamedPipe(pipe, nullptr, 0, nullptr, &available, nullptr)) return -1;
  return available;
}

}  // namespace

std::vector<std::string> ReadLines(HANDLE pipe, std::size_t count,
                                   std::chrono::milliseconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  std::string buffer;
  std::vector<std::string> lines;
  while (lines.size() < count && std::chrono::steady_clock::now() < end) {
    const long long available = Available(pipe);
    if (available < 0) break;
    if (available == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    char chunk[4096];
    DWORD n = 0;
    if (!ReadFile(pipe, chunk, static_cast<DWORD>(std::min<long long>(available, sizeof chunk)), &n,
                  nullptr)) {
      break;
    }
    buffer.append(chunk, n);
    std::size_t newline;
    while ((newline = buffer.find('\n')) != std::string::npos) {
      std::string line = buffer.substr(0, newline);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines.push_back(line);
      buffer.erase(0, newline + 1);
    }
  }
  return lines;
}

std::string ReadAll(HANDLE pipe, std::chrono::milliseconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  std::string out;
  while (std::chrono::steady_clock::now() < end) {
    const long long available = Available(pipe);
    if (available < 0) break;
    if (available == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    char chunk[4096];
    DWORD n = 0;
    if (!ReadFile(pipe, chunk, sizeof chunk, &n, nullptr) || n == 0) break;
    out.append(chunk, n);
  }
  return out;
}

bool ProcessAlive(DWORD pid) {
  HANDLE h = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
  if (h == nullptr) return false;
  const bool alive = WaitForSingleObject(h, 0) == WAIT_TIMEOUT;
  CloseHandle(h);
  return alive;
}

std::vector<DWORD> SystemProcessIds() {
  std::vector<DWORD> ids;
  UniqueHandle snapshot(CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0));
  if (!snapshot) return ids;
  PROCESSENTRY32W entry{};
  entry.dwSize = sizeof entry;
  for (BOOL more = Process32FirstW(snapshot.get(), &entry); more;
       more = Process32NextW(snapshot.get(), &entry)) {
    ids.push_back(entry.th32ProcessID);
  }
  return ids;
}

std::vector<DWORD> Survivors(const std::vector<DWORD>& pids, std::chrono::milliseconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  std::vector<DWORD> alive;
  do {
    alive.clear();
    for (const DWORD pid : pids) {
      if (ProcessAlive(pid)) alive.push_back(pid);
    }
    if (alive.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < end);
  return alive;
}

std::vector<DWORD> NumbersAfter(const std::vector<std::string>& lines, const std::string& prefix) {
  std::vector<DWORD> numbers;
  for (const auto& line : lines) {
    if (line.rfind(prefix + " ", 0) == 0) {
      numbers.push_back(static_cast<DWORD>(std::stoul(line.substr(prefix.size() + 1))));
    }
  }
  return numbers;
}

}  // namespace stockade::runner::win_os::testing
