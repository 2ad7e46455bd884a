// Command lines, environment blocks and the program search of runner/win/command_line.h. The
// quoting is checked against Windows' own parser (CommandLineToArgvW, real under Wine) and, end
// to end, against the probe's argv through a real process.
#include "runner/win/command_line.h"

#include <gtest/gtest.h>
#include <windows.h>
// windows.h first: shellapi.h relies on its types.
#include <shellapi.h>

#include "provision/win/win_util.h"
#include "tests/runner/win/win_runner_test_support.h"

namespace stockade::runner::win_os {
namespace {

namespace pw = stockade::provision::win;

std::vector<std::string> SplitLikeWindows(const std::wstring& line) {
  int count = 0;
  wchar_t** parts = CommandLineToArgvW(line.c_str(), &count);
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i) out.push_back(pw::Utf8(parts[i]));
  LocalFree(parts);
  return out;
}

TEST(WinCommandLine, QuotingRoundTripsThroughTheWindowsParser) {
  const std::vector<std::string> argv = {
      "C:\\Program Files\\x\\prog.exe",
      "plain",
      "",
      "two words",
      "tab\there",
      "quote\"inside",
      "\"quoted\"",
      "trailing\\",
      "trailing space\\",
      "back\\\\\"slash",
      "C:\\path with space\\",
      "\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80",  // non-ASCII, a character outside the BMP
      "a&b|c<d>e^f",                         // shell metacharacters mean nothing to CreateProcess
  };
  auto line = BuildCommandLine(argv);
  ASSERT_TRUE(line.ok()) << line.error().ToString();
  EXPECT_EQ(SplitLikeWindows(*line), argv) << pw::Utf8(*line);
  EXPECT_EQ(QuoteArgument(L"simple"), L"simple");
  EXPECT_EQ(QuoteArgument(L""), L"\"\"");
  EXPECT_EQ(QuoteArgument(L"a\\b c\\"), L"\"a\\b c\\\\\"");
}

TEST(WinCommandLine, RefusesEmptyAndOverlongCommandLines) {
  EXPECT_EQ(BuildCommandLine({}).error().code(), ErrorCode::kInvalidArgument);
  auto too_long = BuildCommandLine({"prog", std::string(40000, 'a')});
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(too_long.error().context().find("32766"), std::string::npos);
}

TEST(WinCommandLine, EnvironmentBlockIsSortedDeduplicatedAndTerminated) {
  auto block = BuildEnvironmentBlock({"b=2", "Path=C:\\x", "A=1", "PATH=C:\\y", "_z=3"});
  ASSERT_TRUE(block.ok());
  // Sorted ignoring case, the later PATH wins over Path, double NUL at the end.
  const std::wstring want = std::wstring(L"A=1") + L'\0' + L"b=2" + L'\0' + L"PATH=C:\\y" + L'\0' +
                            L"_z=3" + L'\0' + L'\0';
  EXPECT_EQ(*block, want);
  auto empty = BuildEnvironmentBlock({});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, std::wstring(2, L'\0'));
  EXPECT_EQ(BuildEnvironmentBlock({"NOEQUALS"}).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(BuildEnvironmentBlock({"=C:=C:\\"}).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(EnvironmentValue({"path=a", "PATH=b"}, "Path"), std::optional<std::string>("b"));
  EXPECT_EQ(EnvironmentValue({"X=1"}, "Y"), std::nullopt);
}

TEST(WinCommandLine, FindsProgramsOnlyInTheGivenPath) {
  const std::string folder = pw::Utf8(testing::TestBinaryFolder());
  // Found by bare name with and without its extension, through the spec's PATH.
  auto found = FindProgram("stockade_win_probe", {"PATH=C:\\nowhere;" + folder});
  ASSERT_TRUE(found.ok()) << found.error().ToString();
  EXPECT_TRUE(pw::EqualsIgnoreCase(pw::Utf8(*found), folder + "\\stockade_win_probe.exe"))
      << pw::Utf8(*found);
  auto with_ext = FindProgram("stockade_win_probe.exe", {"PATH=" + folder});
  ASSERT_TRUE(with_ext.ok());

  // Not in PATH: the launcher's own folder and the current folder are not searched.
  wchar_t old_cwd[MAX_PATH];
  GetCurrentDirectoryW(MAX_PATH, old_cwd);
  SetCurrentDirectoryW(testing::TestBinaryFolder().c_str());
  auto missing = FindProgram("stockade_win_probe", {"PATH=C:\\nowhere"});
  SetCurrentDirectoryW(old_cwd);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.error().context().find("C:\\nowhere"), std::string::npos);

  // A full path is taken as is; a folder is refused.
  auto full = FindProgram(folder + "\\stockade_win_probe.exe", {});
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(FindProgram(folder, {}).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(FindProgram(folder + "\\no_such_program.exe", {}).error().code(), ErrorCode::kNotFound);
}

TEST(WinCommandLine, RefusesBatchFiles) {
  wchar_t temp[MAX_PATH + 1];
  const DWORD n = GetTempPathW(MAX_PATH + 1, temp);
  const std::wstring bat = std::wstring(temp, n) + L"stockade_runner_test.cmd";
  HANDLE f = CreateFileW(bat.c_str(), GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS, 0, nullptr);
  ASSERT_NE(f, INVALID_HANDLE_VALUE);
  CloseHandle(f);
  auto found = FindProgram(pw::Utf8(bat), {});
  DeleteFileW(bat.c_str());
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(found.error().context().find("cmd.exe"), std::string::npos);
}

}  // namespace
}  // namespace stockade::runner::win_os
