// stockade_win_probe: a small Windows program the runner's Windows tests start inside a job-object
// tree. Each mode does one thing and reports it as lines on stdout, so that a test asserts on what
// happened rather than on an exit code (Wine cuts exit codes to 8 bits on the way out).
//
//   exit N                  exit with code N (decimal, up to 4294967295)
//   sleep MS                sleep, then exit 0
//   tree DEPTH FANOUT       print "pid <id>", start FANOUT children running "tree DEPTH-1 FANOUT"
//                           (when DEPTH > 0), then sleep forever
//   spawn N                 start N children running "exit 0", wait for them, print "pid <id>" for
//                           itself and each child, exit 0
//   detach                  start "sleep 600000" with DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP,
//                           print "child <pid>", exit 0 at once (a daemon that outlives its parent)
//   breakaway               start "sleep 600000" with CREATE_BREAKAWAY_FROM_JOB; print
//                           "breakaway-pid <pid>" or "breakaway-error <win32 error>", then sleep
//                           forever
//   handle VALUE            try to write a byte through the handle value VALUE (decimal):
//                           "handle-ok" or "handle-error <win32 error>"
//   env                     print every environment entry, one per line, then "end"
//   cat                     copy stdin to stdout until end of file
//   alloc MB                commit MB mebibytes: "alloc-ok" or "alloc-error <win32 error>"
//   write PATH              create PATH and write a byte: "write-ok" or "write-error <error>"
//   console                 "console <cols> <rows>" (the window of its console: a pseudoconsole's
//                           size) or "console-error <win32 error>" when stdout is no console
#include <windows.h>

#include <cstdio>
#include <cstdlib>
#include <cwchar>
#include <string>

namespace {

void Line(const char* format, unsigned long value) {
  std::printf(format, value);
  std::printf("\n");
  std::fflush(stdout);
}

std::wstring SelfPath() {
  wchar_t path[MAX_PATH * 2];
  const DWORD n = GetModuleFileNameW(nullptr, path, MAX_PATH * 2);
  return std::wstring(path, n);
}

// Starts this program with `args`; returns the pid or 0 (and sets *error).
DWORD StartSelf(const std::wstring& args, DWORD flags, DWORD* error) {
  std::wstring line = L"\"" + SelfPath() + L"\" " + args;
  STARTUPINFOW si{};
  si.cb = sizeof si;
  PROCESS_INFORMATION pi{};
  if (!CreateProcessW(nullptr, line.data(), nullptr, nullptr, TRUE, flags, nullptr, nullptr, &si,
                      &pi)) {
    *error = GetLastError();
    return 0;
  }
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
  return pi.dwProcessId;
}

int Tree(int depth, int fanout) {
  Line("pid %lu", GetCurrentProcessId());
  if (depth > 0) {
    for (int i = 0; i < fanout; ++i) {
      DWORD error = 0;
      const std::wstring args =
          L"tree " + std::to_wstring(depth - 1) + L" " + std::to_wstring(fanout);
      if (StartSelf(args, 0, &error) == 0) Line("spawn-error %lu", error);
    }
  }
  Sleep(INFINITE);
  return 0;
}

}  // namespace

int wmain(int argc, wchar_t** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: stockade_win_probe MODE [ARGS]\n");
    return 2;
  }
  const std::wstring mode = argv[1];
  if (mode == L"exit" && argc == 3) {
    ExitProcess(static_cast<UINT>(std::wcstoul(argv[2], nullptr, 10)));
  }
  if (mode == L"sleep" && argc == 3) {
    Sleep(static_cast<DWORD>(std::wcstoul(argv[2], nullptr, 10)));
    return 0;
  }
  if (mode == L"tree" && argc == 4) {
    return Tree(_wtoi(argv[2]), _wtoi(argv[3]));
  }
  if (mode == L"spawn" && argc == 3) {
    Line("pid %lu", GetCurrentProcessId());
    const int n = _wtoi(argv[2]);
    for (int i = 0; i < n; ++i) {
      std::wstring line = L"\"" + SelfPath() + L"\" exit 0";
      STARTUPINFOW si{};
      si.cb = sizeof si;
      PROCESS_INFORMATION pi{};
      if (!CreateProcessW(nullptr, line.data(), nullptr, nullptr, TRUE, 0, nullptr, nullptr, &si,
                          &pi)) {
        Line("spawn-error %lu", GetLastError());
        continue;
      }
      WaitForSingleObject(pi.hProcess, INFINITE);
      Line("pid %lu", pi.dwProcessId);
      CloseHandle(pi.hThread);
      CloseHandle(pi.hProcess);
    }
    return 0;
  }
  if (mode == L"detach") {
    DWORD error = 0;
    const DWORD pid =
        StartSelf(L"sleep 600000", DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP, &error);
    if (pid == 0) {
      Line("spawn-error %lu", error);
      return 1;
    }
    Line("child %lu", pid);
    return 0;
  }
  if (mode == L"breakaway") {
    DWORD error = 0;
    const DWORD pid = StartSelf(L"sleep 600000", CREATE_BREAKAWAY_FROM_JOB, &error);
    if (pid == 0) {
      Line("breakaway-error %lu", error);
    } else {
      Line("breakaway-pid %lu", pid);
    }
    Sleep(INFINITE);
    return 0;
  }
  if (mode == L"handle" && argc == 3) {
    const auto value = static_cast<ULONG_PTR>(std::wcstoull(argv[2], nullptr, 10));
    HANDLE h = reinterpret_cast<HANDLE>(value);
    DWORD written = 0;
    if (WriteFile(h, "x", 1, &written, nullptr) && written == 1) {
      std::printf("handle-ok\n");
      std::fflush(stdout);
    } else {
      Line("handle-error %lu", GetLastError());
    }
    return 0;
  }
  if (mode == L"env") {
    wchar_t* block = GetEnvironmentStringsW();
    for (const wchar_t* p = block; *p != L'\0'; p += std::wcslen(p) + 1) {
      std::printf("%ls\n", p);
    }
    FreeEnvironmentStringsW(block);
    std::printf("end\n");
    std::fflush(stdout);
    return 0;
  }
  if (mode == L"cat") {
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
    HANDLE out = GetStdHandle(STD_OUTPUT_HANDLE);
    char buffer[4096];
    DWORD n = 0;
    while (ReadFile(in, buffer, sizeof buffer, &n, nullptr) && n > 0) {
      DWORD written = 0;
      if (!WriteFile(out, buffer, n, &written, nullptr)) return 1;
    }
    return 0;
  }
  if (mode == L"alloc" && argc == 3) {
    const SIZE_T bytes = static_cast<SIZE_T>(std::wcstoull(argv[2], nullptr, 10)) << 20;
    void* p = VirtualAlloc(nullptr, bytes, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    if (p == nullptr) {
      Line("alloc-error %lu", GetLastError());
    } else {
      std::printf("alloc-ok\n");
      std::fflush(stdout);
    }
    return 0;
  }
  if (mode == L"write" && argc == 3) {
    HANDLE f = CreateFileW(argv[2], GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS, 0, nullptr);
    DWORD written = 0;
    if (f == INVALID_HANDLE_VALUE || !WriteFile(f, "x", 1, &written, nullptr)) {
      Line("write-error %lu", GetLastError());
    } else {
      std::printf("write-ok\n");
      std::fflush(stdout);
    }
    if (f != INVALID_HANDLE_VALUE) CloseHandle(f);
    return 0;
  }
  if (mode == L"console") {
    CONSOLE_SCREEN_BUFFER_INFO info{};
    if (!GetConsoleScreenBufferInfo(GetStdHandle(STD_OUTPUT_HANDLE), &info)) {
      Line("console-error %lu", GetLastError());
      return 0;
    }
    std::printf("console %d %d\n", info.srWindow.Right - info.srWindow.Left + 1,
                info.srWindow.Bottom - info.srWindow.Top + 1);
    std::fflush(stdout);
    return 0;
  }
  std::fprintf(stderr, "stockade_win_probe: unknown mode\n");
  return 2;
}
