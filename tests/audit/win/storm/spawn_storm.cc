// stockade_spawn_storm: the process tree the Windows capture test records
// (tests/audit/win/process_collector_test.cc). Every process checks what its children did and
// exits with a code derived from its own label, so the test can check each recorded command
// line, parent and exit code against the others.
//
//   node LABEL DEPTH FANOUT PARALLEL TAG
//       When DEPTH > 0, starts FANOUT children "node LABEL.i DEPTH-1 FANOUT PARALLEL TAG"
//       (i = 0..FANOUT-1), at most PARALLEL of them alive at once, and waits for each. Exits
//       with ExpectedExitCode(LABEL) when every child exited with its own expected code, else
//       with kChildFailed. TAG is passed through untouched (it holds a space and a quote, so
//       the command line's quoting is exercised).
//   exit CODE   exits at once with CODE (decimal, up to 4294967295).
#include <windows.h>

#include <cstdint>
#include <cstdio>
#include <cwchar>
#include <deque>
#include <string>
#include <utility>

namespace {

constexpr DWORD kChildFailed = 0xBAD;

// Keep in sync with process_collector_test.cc.
DWORD ExpectedExitCode(const std::wstring& label) {
  std::uint32_t h = 2166136261u;
  for (const wchar_t c : label) {
    h ^= static_cast<std::uint32_t>(c);
    h *= 16777619u;
  }
  return 1000 + h % 50000;
}

std::wstring SelfPath() {
  wchar_t path[MAX_PATH * 2];
  const DWORD n = GetModuleFileNameW(nullptr, path, MAX_PATH * 2);
  return std::wstring(path, n);
}

// Quotes one argument by the rules CommandLineToArgvW undoes.
std::wstring Quote(const std::wstring& arg) {
  std::wstring out = L"\"";
  std::size_t backslashes = 0;
  for (const wchar_t c : arg) {
    if (c == L'\\') {
      ++backslashes;
      continue;
    }
    if (c == L'"') {
      out.append(backslashes * 2 + 1, L'\\');
    } else {
      out.append(backslashes, L'\\');
    }
    backslashes = 0;
    out.push_back(c);
  }
  out.append(backslashes * 2, L'\\');
  out.push_back(L'"');
  return out;
}

int Node(const std::wstring& label, int depth, int fanout, int parallel, const std::wstring& tag) {
  bool ok = true;
  if (depth > 0) {
    std::deque<std::pair<HANDLE, std::wstring>> running;
    auto reap_one = [&]() {
      auto [process, child_label] = running.front();
      running.pop_front();
      WaitForSingleObject(process, INFINITE);
      DWORD code = 0;
      if (!GetExitCodeProcess(process, &code) || code != ExpectedExitCode(child_label)) ok = false;
      CloseHandle(process);
    };
    for (int i = 0; i < fanout; ++i) {
      if (static_cast<int>(running.size()) >= parallel) reap_one();
      const std::wstring child = label + L"." + std::to_wstring(i);
      std::wstring line = Quote(SelfPath()) + L" node " + Quote(child) + L" " +
                          std::to_wstring(depth - 1) + L" " + std::to_wstring(fanout) + L" " +
                          std::to_wstring(parallel) + L" " + Quote(tag);
      STARTUPINFOW si{};
      si.cb = sizeof si;
      PROCESS_INFORMATION pi{};
      if (!CreateProcessW(nullptr, line.data(), nullptr, nullptr, FALSE, 0, nullptr, nullptr, &si,
                          &pi)) {
        std::fprintf(stderr, "spawn %ls failed: %lu\n", child.c_str(), GetLastError());
        ok = false;
        continue;
      }
      CloseHandle(pi.hThread);
      running.emplace_back(pi.hProcess, child);
    }
    while (!running.empty()) reap_one();
  }
  return static_cast<int>(ok ? ExpectedExitCode(label) : kChildFailed);
}

}  // namespace

int wmain(int argc, wchar_t** argv) {
  if (argc == 3 && std::wstring(argv[1]) == L"exit") {
    ExitProcess(static_cast<UINT>(std::wcstoul(argv[2], nullptr, 10)));
  }
  if (argc == 7 && std::wstring(argv[1]) == L"node") {
    return Node(argv[2], _wtoi(argv[3]), _wtoi(argv[4]), _wtoi(argv[5]), argv[6]);
  }
  std::fprintf(stderr,
               "usage: stockade_spawn_storm node LABEL DEPTH FANOUT PARALLEL TAG | exit N\n");
  return 2;
}
