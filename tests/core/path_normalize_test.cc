// Normalize() and IsAbsolute() under both rule sets. Pure string code: the same tables run on
// the Linux build and, cross-compiled, under Wine.
#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "core/paths/path_rules.h"

namespace stockade::paths {
namespace {

struct NormalizeCase {
  const char* name;
  std::string input;
  PathStyle style;
  std::string expected;
};

void PrintTo(const NormalizeCase& c, std::ostream* os) { *os << c.name; }

class NormalizeTest : public testing::TestWithParam<NormalizeCase> {};

TEST_P(NormalizeTest, ProducesTheNormalForm) {
  const auto& c = GetParam();
  const auto result = Normalize(c.input, c.style);
  ASSERT_TRUE(result.ok()) << c.input << " -> " << result.error().ToString();
  EXPECT_EQ(*result, c.expected) << "input: " << c.input;
  // Normalising twice changes nothing.
  const auto again = Normalize(*result, c.style);
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_EQ(*again, *result);
}

constexpr PathStyle kPosix = PathStyle::kPosix;
constexpr PathStyle kWin = PathStyle::kWindows;

INSTANTIATE_TEST_SUITE_P(
    Posix, NormalizeTest,
    testing::Values(NormalizeCase{"Root", "/", kPosix, "/"},
                    NormalizeCase{"DoubleSlashRoot", "//", kPosix, "/"},
                    NormalizeCase{"Plain", "/srv/app", kPosix, "/srv/app"},
                    NormalizeCase{"RepeatedSlashes", "///a//b///", kPosix, "/a/b"},
                    NormalizeCase{"TrailingSlash", "/srv/app/", kPosix, "/srv/app"},
                    NormalizeCase{"DotsRemoved", "/a/./b/.", kPosix, "/a/b"},
                    NormalizeCase{"DotDotResolved", "/a/b/..", kPosix, "/a"},
                    NormalizeCase{"DotDotNeverAboveRoot", "/../..", kPosix, "/"},
                    NormalizeCase{"DotDotAtRootThenName", "/../a", kPosix, "/a"},
                    NormalizeCase{"DotDotClimbsThenDescends", "/a/../../b", kPosix, "/b"},
                    NormalizeCase{"DotDotBackToRoot", "/a/b/../../..", kPosix, "/"},
                    NormalizeCase{"BackslashIsAName", "/a\\b", kPosix, "/a\\b"},
                    NormalizeCase{"TrailingDotKept", "/secret.", kPosix, "/secret."},
                    NormalizeCase{"TrailingSpacesKept", "/a /b ", kPosix, "/a /b "},
                    NormalizeCase{"TripleDotIsAName", "/.hidden/...", kPosix, "/.hidden/..."},
                    NormalizeCase{"CaseKept", "/Srv/APP", kPosix, "/Srv/APP"},
                    NormalizeCase{"Utf8Kept", "/Äpfel/ärger", kPosix, "/Äpfel/ärger"},
                    NormalizeCase{"NonUtf8BytesAreNames", "/a/\xff\xfe", kPosix, "/a/\xff\xfe"},
                    NormalizeCase{"ColonIsAName", "/a:b", kPosix, "/a:b"}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Windows, NormalizeTest,
    testing::Values(
        NormalizeCase{"Plain", "C:\\a\\b", kWin, "C:\\a\\b"},
        NormalizeCase{"DriveUpperCased", "c:\\a\\b", kWin, "C:\\a\\b"},
        NormalizeCase{"ForwardSlashes", "C:/a/b", kWin, "C:\\a\\b"},
        NormalizeCase{"MixedAndDoubledSeparators", "C:\\a/b\\\\c//d", kWin, "C:\\a\\b\\c\\d"},
        NormalizeCase{"DriveRoot", "C:\\", kWin, "C:\\"},
        NormalizeCase{"DriveRootForwardSlash", "d:/", kWin, "D:\\"},
        NormalizeCase{"TrailingSeparator", "C:\\a\\", kWin, "C:\\a"},
        NormalizeCase{"DotsRemoved", "C:\\a\\.\\b\\.", kWin, "C:\\a\\b"},
        NormalizeCase{"DotDotResolved", "C:\\a\\..\\b", kWin, "C:\\b"},
        NormalizeCase{"DotDotNeverAboveDrive", "C:\\..\\..\\a", kWin, "C:\\a"},
        NormalizeCase{"DotDotBackToDriveRoot", "C:\\a\\b\\..\\..", kWin, "C:\\"},
        NormalizeCase{"TrailingDotStripped", "C:\\secret.", kWin, "C:\\secret"},
        NormalizeCase{"TrailingDotsAndSpacesStripped", "C:\\secret. . ", kWin, "C:\\secret"},
        NormalizeCase{"StrippedInEveryComponent", "C:\\dir.\\file ", kWin, "C:\\dir\\file"},
        NormalizeCase{"LeadingSpaceKept", "C:\\ lead", kWin, "C:\\ lead"},
        NormalizeCase{"LeadingDotKept", "C:\\ws\\.git", kWin, "C:\\ws\\.git"},
        NormalizeCase{"InnerDotsKept", "C:\\a..b", kWin, "C:\\a..b"},
        NormalizeCase{"ShortNameTildeKept", "C:\\PROGRA~1\\x", kWin, "C:\\PROGRA~1\\x"},
        NormalizeCase{"SpacesAndParens", "C:\\Program Files (x86)\\App", kWin,
                      "C:\\Program Files (x86)\\App"},
        NormalizeCase{"CaseOfNamesKept", "C:\\ÄRGER\\Über\\", kWin, "C:\\ÄRGER\\Über"},
        NormalizeCase{"NonLatinNames", "c:\\日本語\\файл", kWin, "C:\\日本語\\файл"},
        NormalizeCase{"ReservedNameInsideAName", "C:\\console\\nullable", kWin,
                      "C:\\console\\nullable"},
        NormalizeCase{"LongPathPrefix", "\\\\?\\C:\\a\\b", kWin, "C:\\a\\b"},
        NormalizeCase{"LongPathPrefixLowerDrive", "\\\\?\\c:\\a", kWin, "C:\\a"},
        NormalizeCase{"LongPathPrefixRoot", "\\\\?\\C:\\", kWin, "C:\\"},
        NormalizeCase{"LongPathPrefixDotDot", "\\\\?\\C:\\a\\..\\b", kWin, "C:\\b"},
        NormalizeCase{"LongPathPrefixForwardSlashes", "//?/C:/a", kWin, "C:\\a"},
        NormalizeCase{"LongUncPrefix", "\\\\?\\UNC\\server\\share\\a", kWin,
                      "\\\\server\\share\\a"},
        NormalizeCase{"LongUncPrefixLowerCase", "\\\\?\\unc\\server\\share", kWin,
                      "\\\\server\\share"},
        NormalizeCase{"UncShareRoot", "\\\\server\\share", kWin, "\\\\server\\share"},
        NormalizeCase{"UncShareRootTrailingSeparator", "\\\\server\\share\\", kWin,
                      "\\\\server\\share"},
        NormalizeCase{"UncForwardSlashes", "//server/share/a/b", kWin, "\\\\server\\share\\a\\b"},
        NormalizeCase{"UncDotDotStaysOnShare", "\\\\server\\share\\..\\other", kWin,
                      "\\\\server\\share\\other"},
        NormalizeCase{"UncManyDotDots", "\\\\server\\share\\a\\..\\..\\..", kWin,
                      "\\\\server\\share"},
        NormalizeCase{"UncShareTrailingDot", "\\\\server\\share.\\a", kWin,
                      "\\\\server\\share\\a"}),
    [](const auto& info) { return std::string(info.param.name); });

struct RefusalCase {
  const char* name;
  std::string input;
  PathStyle style;
  std::string message_part;  // the reason must say this (case-sensitive)
};

void PrintTo(const RefusalCase& c, std::ostream* os) { *os << c.name; }

class RefusalTest : public testing::TestWithParam<RefusalCase> {};

TEST_P(RefusalTest, IsRefusedWithAPreciseReason) {
  const auto& c = GetParam();
  const auto result = Normalize(c.input, c.style);
  ASSERT_FALSE(result.ok()) << "accepted as " << *result;
  EXPECT_EQ(result.error().code(), ErrorCode::kPathInvalid);
  EXPECT_NE(result.error().context().find(c.message_part), std::string::npos)
      << "message: " << result.error().context();
  // The message quotes the path it refused (control bytes escaped, so compare the prefix).
  EXPECT_EQ(result.error().context().rfind("path '", 0), 0u) << result.error().context();
}

INSTANTIATE_TEST_SUITE_P(
    Posix, RefusalTest,
    testing::Values(RefusalCase{"Empty", "", kPosix, "empty path"},
                    RefusalCase{"Relative", "a/b", kPosix, "not absolute"},
                    RefusalCase{"DotRelative", "./a", kPosix, "not absolute"},
                    RefusalCase{"TildeIsNotExpanded", "~/x", kPosix, "not absolute"},
                    RefusalCase{"WindowsPath", "C:\\a", kPosix, "not absolute"},
                    RefusalCase{"Nul", std::string("/a\0b", 4), kPosix, "NUL character at byte 2"}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Windows, RefusalTest,
    testing::Values(
        RefusalCase{"Empty", "", kWin, "empty path"},
        RefusalCase{"Relative", "relative\\a", kWin, "relative path"},
        RefusalCase{"DotRelative", ".\\a", kWin, "relative path"},
        RefusalCase{"DriveOnly", "C:", kWin, "drive-relative path"},
        RefusalCase{"DriveRelative", "c:foo\\bar", kWin, "current directory of drive C:"},
        RefusalCase{"RootedWithoutDrive", "\\foo", kWin, "rooted path without a drive letter"},
        RefusalCase{"PosixStyleRooted", "/etc/passwd", kWin, "rooted path without a drive letter"},
        RefusalCase{"BadDriveLetter", "1:\\a", kWin, "invalid drive letter"},
        RefusalCase{"DeviceNamespace", "\\\\.\\C:\\a", kWin, "device namespace"},
        RefusalCase{"PhysicalDrive", "\\\\.\\PhysicalDrive0", kWin, "device namespace"},
        RefusalCase{"GlobalRoot", "\\\\?\\GLOBALROOT\\Device\\HarddiskVolume1\\x", kWin,
                    "device and volume GUID paths"},
        RefusalCase{"VolumeGuid", "\\\\?\\Volume{12345678-1234-1234-1234-123456789abc}\\a", kWin,
                    "device and volume GUID paths"},
        RefusalCase{"LongPrefixVolumeDevice", "\\\\?\\C:", kWin, "volume device"},
        RefusalCase{"NtObjectPath", "\\??\\C:\\a", kWin, "NT object manager path"},
        RefusalCase{"UncServerOnly", "\\\\server", kWin, "without a share name"},
        RefusalCase{"UncServerTrailingSeparator", "\\\\server\\", kWin, "without a share name"},
        RefusalCase{"UncNoServer", "\\\\\\share\\a", kWin, "without a server name"},
        RefusalCase{"LongUncServerOnly", "\\\\?\\UNC\\server", kWin, "without a share name"},
        RefusalCase{"UncDotDotShare", "\\\\server\\..\\x", kWin, "is not a name"},
        RefusalCase{"AlternateDataStream", "C:\\a:stream", kWin, "alternate data stream"},
        RefusalCase{"DefaultDataStream", "C:\\a\\file.txt::$DATA", kWin, "alternate data stream"},
        RefusalCase{"Nul", std::string("C:\\a\0b", 6), kWin, "NUL character at byte 4"},
        RefusalCase{"InvalidUtf8", "C:\\a\xff", kWin, "not valid UTF-8 (at byte 4)"},
        RefusalCase{"OverlongUtf8Slash",
                    "C:\\a\xc0\xaf"
                    "b",
                    kWin, "not valid UTF-8"},
        RefusalCase{"Utf8Surrogate", "C:\\a\xed\xa0\x80", kWin, "not valid UTF-8"},
        RefusalCase{"TruncatedUtf8", "C:\\\xc3", kWin, "not valid UTF-8"},
        RefusalCase{"ReservedNul", "C:\\NUL", kWin, "reserved device name"},
        RefusalCase{"ReservedWithExtension", "C:\\dir\\con.txt", kWin, "reserved device name"},
        RefusalCase{"ReservedCom", "C:\\COM1", kWin, "reserved device name"},
        RefusalCase{"ReservedLptInMiddle", "C:\\lpt9\\x", kWin, "reserved device name"},
        RefusalCase{"ReservedWithTrailingDot", "C:\\aux.", kWin, "reserved device name"},
        RefusalCase{"ReservedSuperscript", "C:\\COM\xC2\xB9", kWin, "reserved device name"},
        RefusalCase{"ReservedConin", "C:\\CONIN$", kWin, "reserved device name"},
        RefusalCase{"OnlyDots", "C:\\a\\...\\b", kWin, "only of dots or spaces"},
        RefusalCase{"OnlySpace", "C:\\a\\ \\b", kWin, "only of dots or spaces"},
        RefusalCase{"DotDotSpace", "C:\\a\\.. \\b", kWin, "only of dots or spaces"},
        RefusalCase{"LessThan", "C:\\a<b", kWin, "the character '<'"},
        RefusalCase{"Star", "C:\\a*", kWin, "the character '*'"},
        RefusalCase{"QuestionMark", "C:\\a?b", kWin, "the character '?'"},
        RefusalCase{"Pipe", "C:\\a|b", kWin, "the character '|'"},
        RefusalCase{"Quote", "C:\\a\"b", kWin, "the character '\"'"},
        RefusalCase{"ControlCharacter", "C:\\a\tb", kWin, "control character \\x09"},
        RefusalCase{"LongPrefixTrailingDot", "\\\\?\\C:\\secret.", kWin, "keeps it literally"},
        RefusalCase{"LongPrefixTrailingSpace", "\\\\?\\C:\\dir \\x", kWin, "keeps it literally"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(NormalizeMessageTest, EscapesControlBytesInTheQuotedPath) {
  const auto result = Normalize(std::string("C:\\a\x01z", 6), PathStyle::kWindows);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().context().find("path 'C:\\a\\x01z'"), std::string::npos)
      << result.error().context();
}

struct AbsoluteCase {
  const char* name;
  std::string input;
  PathStyle style;
  bool expected;
};

void PrintTo(const AbsoluteCase& c, std::ostream* os) { *os << c.name; }

class IsAbsoluteTest : public testing::TestWithParam<AbsoluteCase> {};

TEST_P(IsAbsoluteTest, Classifies) {
  const auto& c = GetParam();
  EXPECT_EQ(IsAbsolute(c.input, c.style), c.expected) << c.input;
}

INSTANTIATE_TEST_SUITE_P(Both, IsAbsoluteTest,
                         testing::Values(AbsoluteCase{"PosixRoot", "/", kPosix, true},
                                         AbsoluteCase{"PosixPath", "/a/b", kPosix, true},
                                         AbsoluteCase{"PosixRelative", "a/b", kPosix, false},
                                         AbsoluteCase{"PosixEmpty", "", kPosix, false},
                                         AbsoluteCase{"PosixWindowsDrive", "C:\\a", kPosix, false},
                                         AbsoluteCase{"WinDrive", "C:\\a", kWin, true},
                                         AbsoluteCase{"WinDriveForwardSlash", "c:/", kWin, true},
                                         AbsoluteCase{"WinDriveRelative", "C:a", kWin, false},
                                         AbsoluteCase{"WinDriveOnly", "C:", kWin, false},
                                         AbsoluteCase{"WinRooted", "\\a", kWin, false},
                                         AbsoluteCase{"WinPosixRooted", "/a", kWin, false},
                                         AbsoluteCase{"WinUnc", "\\\\server\\share", kWin, true},
                                         AbsoluteCase{"WinUncForward", "//server/share", kWin,
                                                      true},
                                         AbsoluteCase{"WinLongPrefix", "\\\\?\\C:\\a", kWin, true},
                                         AbsoluteCase{"WinThreeSeparators", "\\\\\\a", kWin, false},
                                         AbsoluteCase{"WinRelative", "a\\b", kWin, false}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(NativeStyleTest, MatchesTheBuildTarget) {
#ifdef _WIN32
  EXPECT_EQ(NativeStyle(), PathStyle::kWindows);
#else
  EXPECT_EQ(NativeStyle(), PathStyle::kPosix);
#endif
}

}  // namespace
}  // namespace stockade::paths
