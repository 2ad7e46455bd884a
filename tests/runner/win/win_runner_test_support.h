// Helpers for the Windows runner tests: the probe program's path, anonymous pipes, reading the
// probe's report lines with a deadline, and asking the OS whether a process is still alive.
#ifndef STOCKADE_TESTS_RUNNER_WIN_WIN_RUNNER_TEST_SUPPORT_H_
#define STOCKADE_TESTS_RUNNER_WIN_WIN_RUNNER_TEST_SUPPORT_H_

#include <windows.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "provision/win/handles.h"

namespace stockade::runner::win_os::testing {

using provision::win::UniqueHandle;

// True under Wine (ntdll exports wine_get_version).
bool UnderWine();

// The probe (tests/runner/win/probe), built beside runner_tests.exe.
std::wstring ProbePath();
// The folder runner_tests.exe is in.
std::wstring TestBinaryFolder();

// An anonymous pipe whose ends are NOT inheritable: the launcher under test must make its own
// inheritable copies.
struct Pipe {
  UniqueHandle read;
  UniqueHandle write;
};
Pipe MakePipe();

// Reads from `pipe` until `count` complete lines arrived, EOF, or the deadline; returns the
// complete lines read (without "\r\n").
std::vector<std::string> ReadLines(HANDLE pipe, std::size_t count,
                                   std::chrono::milliseconds deadline);

// Everything until EOF or the deadline.
std::string ReadAll(HANDLE pipe, std::chrono::milliseconds deadline);

// True while a process with this id exists and has not exited (OpenProcess + wait 0).
bool ProcessAlive(DWORD pid);

// Every process id the system lists now (CreateToolhelp32Snapshot).
std::vector<DWORD> SystemProcessIds();

// Waits until none of `pids` is alive, at most `deadline`; returns the survivors.
std::vector<DWORD> Survivors(const std::vector<DWORD>& pids, std::chrono::milliseconds deadline);

// The numbers after "<prefix> " in `lines`.
std::vector<DWORD> NumbersAfter(const std::vector<std::string>& lines, const std::string& prefix);

}  // namespace stockade::runner::win_os::testing

#endif  // STOCKADE_TESTS_RUNNER_WIN_WIN_RUNNER_TEST_SUPPORT_H_
