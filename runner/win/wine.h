// Whether this process runs under Wine rather than on Windows.
//
// Wine implements neither write-restricted tokens nor ACL enforcement (PLATFORM-NOTES.md), so a
// few decisions depend on knowing where we run: the selftest may run its probes with a token it
// cannot verify there, and only there (launcher.h, LaunchOptions::wine_selftest_unverified_token),
// so that it can report what Wine does with each attack instead of refusing to start.
//
// The test is the one Wine itself documents: its ntdll.dll exports wine_get_version, which no
// Windows ntdll has. Environment variables (WINELOADER, ...) are not used: they are inherited by
// anything and trivially set on real Windows, whereas the export cannot be faked without
// replacing ntdll.
#ifndef STOCKADE_RUNNER_WIN_WINE_H_
#define STOCKADE_RUNNER_WIN_WINE_H_

#include <string>

namespace stockade::runner::win_os {

// True when ntdll.dll exports wine_get_version. Computed once per process.
bool RunningUnderWine();

// "Wine 8.0" (what wine_get_version returns), "" on Windows.
std::string WineVersion();

}  // namespace stockade::runner::win_os

#endif  // STOCKADE_RUNNER_WIN_WINE_H_
