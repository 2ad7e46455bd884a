#include "runner/win/command_line.h"

#include <windows.h>

#include <algorithm>

#include "provision/win/win_util.h"

namespace stockade::runner::win_os {

namespace pw = stockade::provision::win;

namespace {

// CreateProcessW's limit on lpCommandLine, terminating NUL included.
constexpr std::size_t kMaxCommandLine = 32767;

bool NeedsQuotes(std::wstring_view arg) {
  return arg.empty() || arg.find_first_of(L" \t\n\v\"") != std::wstring_view::npos;
}

// Ordinal, case-insensitive comparison of two names (what the environment block's order uses).
int CompareNames(std::wstring_view a, std::wstring_view b) {
  const int r = CompareStringOrdinal(a.data(), static_cast<int>(a.size()), b.data(),
                                     static_cast<int>(b.size()), TRUE);
  return r - CSTR_EQUAL;  // <0, 0, >0
}

bool IsFile(const std::wstring& path) {
  const DWORD attributes = GetFileAttributesW(path.c_str());
  return attributes != INVALID_FILE_ATTRIBUTES && (attributes & FILE_ATTRIBUTE_DIRECTORY) == 0;
}

std::vector<std::wstring> Split(std::wstring_view text, wchar_t separator) {
  std::vector<std::wstring> parts;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find(separator, start), text.size());
    if (end > start) parts.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

bool HasExtension(std::wstring_view name) {
  const std::size_t slash = name.find_last_of(L"\\/:");
  const std::size_t dot = name.find_last_of(L'.');
  return dot != std::wstring_view::npos && (slash == std::wstring_view::npos || dot > slash);
}

bool EndsWithIgnoreCase(std::wstring_view text, std::wstring_view suffix) {
  return text.size() >= suffix.size() &&
         CompareNames(text.substr(text.size() - suffix.size()), suffix) == 0;
}

// The first existing candidate among `base` and `base` + each extension.
std::optional<std::wstring> Probe(const std::wstring& base, const std::vector<std::wstring>& exts) {
  if (HasExtension(base) && IsFile(base)) return base;
  for (const auto& ext : exts) {
    std::wstring candidate = base + ext;
    if (IsFile(candidate)) return candidate;
  }
  return std::nullopt;
}

Expected<std::wstring> RefuseBatch(std::wstring path) {
  if (EndsWithIgnoreCase(path, L".bat") || EndsWithIgnoreCase(path, L".cmd")) {
    return Error(ErrorCode::kUnsupported,
                 "program '" + pw::Utf8(path) +
                     "' is a batch file: run it as `cmd.exe /d /c <file>` explicitly (cmd.exe "
                     "re-parses a batch file's arguments with its own rules)");
  }
  return path;
}

}  // namespace

std::wstring QuoteArgument(std::wstring_view arg) {
  if (!NeedsQuotes(arg)) return std::wstring(arg);
  std::wstring out = L"\"";
  std::size_t backslashes = 0;
  for (const wchar_t c : arg) {
    if (c == L'\\') {
      ++backslashes;
      continue;
    }
    if (c == L'"') {
      // Backslashes before a quote are escapes: double them, then escape the quote itself.
      out.append(backslashes * 2 + 1, L'\\');
    } else {
      out.append(backslashes, L'\\');
    }
    backslashes = 0;
    out.push_back(c);
  }
  // Backslashes before the closing quote would escape it: double them.
  out.append(backslashes * 2, L'\\');
  out.push_back(L'"');
  return out;
}

Expected<std::wstring> BuildCommandLine(const std::vector<std::string>& argv) {
  if (argv.empty()) return Error(ErrorCode::kInvalidArgument, "command line: argv is empty");
  std::wstring line;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    if (i > 0) line.push_back(L' ');
    line += QuoteArgument(pw::Wide(argv[i]));
  }
  if (line.size() >= kMaxCommandLine) {
    return Error(ErrorCode::kInvalidArgument,
                 "command line: " + std::to_string(line.size()) +
                     " characters once quoted, Windows accepts at most " +
                     std::to_string(kMaxCommandLine - 1));
  }
  return line;
}

Expected<std::wstring> BuildEnvironmentBlock(const std::vector<std::string>& env) {
  struct Entry {
    std::wstring name;
    std::wstring text;  // NAME=VALUE
  };
  std::vector<Entry> entries;
  for (const auto& item : env) {
    const std::size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || item.find('\0') != std::string::npos) {
      return Error(ErrorCode::kInvalidArgument,
                   "environment entry is not NAME=VALUE: '" + item + "'");
    }
    Entry entry{pw::Wide(item.substr(0, eq)), pw::Wide(item)};
    auto same = std::find_if(entries.begin(), entries.end(),
                             [&](const Entry& e) { return CompareNames(e.name, entry.name) == 0; });
    if (same != entries.end()) {
      *same = std::move(entry);  // the last one wins, as with a shell's repeated assignment
    } else {
      entries.push_back(std::move(entry));
    }
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return CompareNames(a.name, b.name) < 0; });
  std::wstring block;
  for (const auto& e : entries) {
    block += e.text;
    block.push_back(L'\0');
  }
  if (entries.empty()) block.push_back(L'\0');
  block.push_back(L'\0');
  return block;
}

std::optional<std::string> EnvironmentValue(const std::vector<std::string>& env,
                                            std::string_view name) {
  std::optional<std::string> found;
  for (const auto& item : env) {
    const std::size_t eq = item.find('=');
    if (eq == std::string::npos) continue;
    if (pw::EqualsIgnoreCase(std::string_view(item).substr(0, eq), name)) {
      found = item.substr(eq + 1);  // keep looking: the last one wins, as in the block
    }
  }
  return found;
}

Expected<std::wstring> FindProgram(const std::string& program,
                                   const std::vector<std::string>& env) {
  if (program.empty()) return Error(ErrorCode::kInvalidArgument, "program name is empty");
  const std::wstring wide = pw::Wide(program);
  std::vector<std::wstring> exts =
      Split(pw::Wide(EnvironmentValue(env, "PATHEXT").value_or(".COM;.EXE;.BAT;.CMD")), L';');
  if (exts.empty()) exts = {L".COM", L".EXE"};

  if (wide.find_first_of(L"\\/:") != std::wstring::npos) {
    const DWORD attributes = GetFileAttributesW(wide.c_str());
    if (attributes != INVALID_FILE_ATTRIBUTES && (attributes & FILE_ATTRIBUTE_DIRECTORY) != 0) {
      return Error(ErrorCode::kInvalidArgument, "program '" + program + "' is a folder");
    }
    if (IsFile(wide)) return RefuseBatch(wide);
    if (auto found = Probe(wide, exts)) return RefuseBatch(*found);
    return Error(ErrorCode::kNotFound, "program '" + program + "' does not exist");
  }

  const std::string path = EnvironmentValue(env, "PATH").value_or("");
  for (const auto& folder : Split(pw::Wide(path), L';')) {
    std::wstring base = folder;
    if (base.back() != L'\\' && base.back() != L'/') base.push_back(L'\\');
    base += wide;
    if (auto found = Probe(base, exts)) return RefuseBatch(*found);
  }
  return Error(ErrorCode::kNotFound, "program '" + program +
                                         "' not found in the PATH given to "
                                         "the sandbox ('" +
                                         path + "')");
}

}  // namespace stockade::runner::win_os
