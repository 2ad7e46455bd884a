// The entry point shared by the executables. On Windows the command line arrives as UTF-16
// (wmain); it is converted to UTF-8 once here so every layer above works with UTF-8 strings.
#ifndef STOCKADE_CLI_COMMON_MAIN_ARGS_H_
#define STOCKADE_CLI_COMMON_MAIN_ARGS_H_

#include <string>
#include <vector>

namespace stockade::cli {

// The program's arguments as UTF-8, argv[0] included.
using Args = std::vector<std::string>;

// Contract: `real_main` receives UTF-8 arguments; its return value is the process exit code.
// Also switches the Windows console to UTF-8 output.
int RunMain(int (*real_main)(const Args&), int argc, char** argv);
// For the privileged executables (stockaded, stockade-provision): every file they create from
// now on is private to their account unless its mode is set explicitly (Linux: umask 077). Their
// state folder is searchable by everyone (0711) so that users reach the service's socket; this
// keeps the journal, the lock, the logs and SQLite's side files out of everyone else's reach.
// Windows: nothing to do (new files inherit the state folder's protected DACL).
void MakeCreatedFilesPrivate();

#ifdef _WIN32
int RunMainWide(int (*real_main)(const Args&), int argc, wchar_t** argv);
#endif

}  // namespace stockade::cli

#ifdef _WIN32
#define STOCKADE_MAIN(fn) \
  int wmain(int argc, wchar_t** argv) { return ::stockade::cli::RunMainWide(fn, argc, argv); }
#else
#define STOCKADE_MAIN(fn) \
  int main(int argc, char** argv) { return ::stockade::cli::RunMain(fn, argc, argv); }
#endif

#endif  // STOCKADE_CLI_COMMON_MAIN_ARGS_H_
