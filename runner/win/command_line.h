// Turning the portable spec's argv and environment into what CreateProcess*W takes: one command
// line that the C runtime's (and CommandLineToArgvW's) parser splits back into exactly the same
// argv, a sorted UTF-16 environment block, and the program's full path found in the spec's own
// PATH (never the launcher's, never the current folder).
#ifndef STOCKADE_RUNNER_WIN_COMMAND_LINE_H_
#define STOCKADE_RUNNER_WIN_COMMAND_LINE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace stockade::runner::win_os {

// One argument quoted for the MSVC runtime's rules: unchanged when it has no space, tab, newline
// or quote and is not empty; otherwise in quotes, with each quote escaped and the backslashes
// before a quote (or before the closing quote) doubled.
std::wstring QuoteArgument(std::wstring_view arg);

// The command line for `argv` (UTF-8): the quoted arguments joined by single spaces.
// Errors: kInvalidArgument when argv is empty or longer than CreateProcess accepts (32766
// characters).
Expected<std::wstring> BuildCommandLine(const std::vector<std::string>& argv);

// The environment block for CREATE_UNICODE_ENVIRONMENT from "NAME=VALUE" entries (UTF-8):
// names compared case-insensitively (the last entry of a name wins), sorted by upper-cased name as
// Windows expects, each entry NUL-terminated, the block ending with an extra NUL (an empty
// environment is two NULs). Nothing is added: the block holds the spec's entries only.
// Errors: kInvalidArgument naming an entry without '=' or with an empty name.
Expected<std::wstring> BuildEnvironmentBlock(const std::vector<std::string>& env);

// The value of `name` (case-insensitive) in "NAME=VALUE" entries; nullopt when absent.
std::optional<std::string> EnvironmentValue(const std::vector<std::string>& env,
                                            std::string_view name);

// The program to start for argv[0], as a full path:
//  - a path (it contains '\\', '/' or ':'): taken as is, with PATHEXT's extensions tried when it
//    has none and does not exist as given;
//  - a bare name: searched in the folders of PATH from `env`, in order, trying the name itself
//    when it has an extension and then each PATHEXT extension (PATHEXT from `env`, default
//    ".COM;.EXE;.BAT;.CMD"). The current folder and the launcher's own folder are never searched
//    (CreateProcess would search them first; a workspace could plant a "git.exe").
// Batch files are refused: CreateProcess runs them through cmd.exe, whose own quoting rules
// differ from the ones above (arguments could be re-interpreted as commands).
// Errors: kNotFound naming the program and the folders searched; kUnsupported for .bat/.cmd;
// kInvalidArgument for a folder or an empty name.
Expected<std::wstring> FindProgram(const std::string& program, const std::vector<std::string>& env);

}  // namespace stockade::runner::win_os

#endif  // STOCKADE_RUNNER_WIN_COMMAND_LINE_H_
