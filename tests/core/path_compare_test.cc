// IsWithin(), Equal(), JoinWithin() and Split() under both rule sets. Each IsWithin row that
// should be true has a near-miss row that must be false, so a test that always answered one way
// would fail.
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "core/paths/path_rules.h"

namespace stockade::paths {
namespace {

constexpr PathStyle kPosix = PathStyle::kPosix;
constexpr PathStyle kWin = PathStyle::kWindows;

struct WithinCase {
  const char* name;
  std::string path;
  std::string root;
  PathStyle style;
  bool expected;
};

void PrintTo(const WithinCase& c, std::ostream* os) { *os << c.name; }

class IsWithinTest : public testing::TestWithParam<WithinCase> {};

TEST_P(IsWithinTest, Decides) {
  const auto& c = GetParam();
  EXPECT_EQ(IsWithin(c.path, c.root, c.style), c.expected)
      << "path: " << c.path << "  root: " << c.root;
}

INSTANTIATE_TEST_SUITE_P(
    Posix, IsWithinTest,
    testing::Values(
        WithinCase{"Same", "/srv/app", "/srv/app", kPosix, true},
        WithinCase{"Child", "/srv/app/x", "/srv/app", kPosix, true},
        WithinCase{"TrailingSlashOnPath", "/srv/app/", "/srv/app", kPosix, true},
        WithinCase{"TrailingSlashOnRoot", "/srv/app/x", "/srv/app/", kPosix, true},
        WithinCase{"PrefixIsNotParent", "/srv/application", "/srv/app", kPosix, false},
        WithinCase{"PrefixChildIsNotInside", "/srv/app2/x", "/srv/app", kPosix, false},
        WithinCase{"DotDotLeaves", "/srv/app/../x", "/srv/app", kPosix, false},
        WithinCase{"DotDotReturns", "/srv/app/../app/x", "/srv/app", kPosix, true},
        WithinCase{"DotDotLeavesFromChild", "/srv/app/x/../..", "/srv/app", kPosix, false},
        WithinCase{"DotDotOnRootSide", "/srv/app/x", "/srv/app/y/..", kPosix, true},
        WithinCase{"DotInside", "/srv/app/.", "/srv/app", kPosix, true},
        WithinCase{"DoubleSlashes", "//srv//app/x", "/srv/app", kPosix, true},
        WithinCase{"ParentIsNotInsideChild", "/srv", "/srv/app", kPosix, false},
        WithinCase{"EverythingInsideRoot", "/anything/at/all", "/", kPosix, true},
        WithinCase{"RootInsideRoot", "/", "/", kPosix, true},
        WithinCase{"CaseSensitive", "/SRV/APP/x", "/srv/app", kPosix, false},
        WithinCase{"TrailingDotIsADifferentName", "/srv/app./x", "/srv/app", kPosix, false},
        WithinCase{"RelativePathNeverInside", "srv/app/x", "/", kPosix, false},
        WithinCase{"RelativeRootContainsNothing", "/srv/app/x", "srv/app", kPosix, false},
        WithinCase{"NulNeverInside", std::string("/srv/app/\0x", 11), "/srv/app", kPosix, false}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Windows, IsWithinTest,
    testing::Values(
        WithinCase{"Same", "C:\\ws", "C:\\ws", kWin, true},
        WithinCase{"Child", "C:\\ws\\x", "C:\\ws", kWin, true},
        WithinCase{"CaseAndSlashes", "c:/WS/x", "C:\\ws", kWin, true},
        WithinCase{"CaseOfNonAsciiLetters", "C:\\ÄRGER\\x", "c:\\ärger", kWin, true},
        WithinCase{"GreekCase", "C:\\ΑΒΓ\\x", "c:\\αβγ", kWin, true},
        WithinCase{"CyrillicCase", "C:\\ПАПКА\\x", "c:\\папка", kWin, true},
        WithinCase{"PrefixIsNotParent", "C:\\wsx", "C:\\ws", kWin, false},
        WithinCase{"PrefixWordIsNotParent", "C:\\workspace\\a", "C:\\work", kWin, false},
        WithinCase{"DotDotLeaves", "C:\\ws\\..\\x", "C:\\ws", kWin, false},
        WithinCase{"DotDotLeavesWithForwardSlashes", "C:/ws/a/../../x", "C:\\ws", kWin, false},
        WithinCase{"LongPrefixOnPath", "\\\\?\\C:\\ws\\x", "C:\\ws", kWin, true},
        WithinCase{"LongPrefixOnRoot", "C:\\ws\\x", "\\\\?\\c:\\WS\\", kWin, true},
        WithinCase{"LongPrefixStillComponentWise", "\\\\?\\C:\\wsx", "C:\\ws", kWin, false},
        WithinCase{"TrailingDotOnPath", "C:\\ws.\\x", "C:\\ws", kWin, true},
        WithinCase{"TrailingDotAndSpaceOnRoot", "C:\\ws\\x", "C:\\ws. ", kWin, true},
        WithinCase{"ProtectedWithTrailingDot", "C:\\ws\\.git.\\config", "C:\\ws\\.git", kWin, true},
        WithinCase{"ProtectedPrefixName", "C:\\ws\\.github\\x", "C:\\ws\\.git", kWin, false},
        WithinCase{"TrailingSeparators", "C:\\ws\\\\", "C:\\ws\\", kWin, true},
        WithinCase{"OtherDrive", "D:\\ws", "C:\\ws", kWin, false},
        WithinCase{"DriveRoot", "C:\\anything", "c:/", kWin, true},
        WithinCase{"DriveRootItself", "C:\\", "C:\\", kWin, true},
        WithinCase{"ParentIsNotInsideChild", "C:\\ws", "C:\\ws\\x", kWin, false},
        WithinCase{"UncChild", "\\\\server\\share\\a", "\\\\server\\share", kWin, true},
        WithinCase{"UncCase", "\\\\SERVER\\Share\\a", "\\\\server\\share", kWin, true},
        WithinCase{"UncCannotClimbToSibling", "\\\\server\\share\\..\\other\\a",
                   "\\\\server\\other", kWin, false},
        WithinCase{"UncDotDotStaysOnShare", "\\\\server\\share\\..\\other\\a", "\\\\server\\share",
                   kWin, true},
        WithinCase{"UncSharePrefix", "\\\\server\\share2\\a", "\\\\server\\share", kWin, false},
        WithinCase{"UncOtherServer", "\\\\server2\\share\\a", "\\\\server\\share", kWin, false},
        WithinCase{"UncVsDrive", "\\\\server\\share\\a", "C:\\", kWin, false},
        WithinCase{"LongUncPrefix", "\\\\?\\UNC\\server\\share\\a", "\\\\server\\share", kWin,
                   true},
        WithinCase{"StreamNeverInside", "C:\\ws\\a:stream", "C:\\ws", kWin, false},
        WithinCase{"DeviceNeverInside", "\\\\.\\C:\\ws\\x", "C:\\ws", kWin, false},
        WithinCase{"NoFullCaseFolding", "C:\\STRASSE\\x", "C:\\straße", kWin, false},
        WithinCase{"DotlessINotFolded", "C:\\FIX\\x", "C:\\fıx", kWin, false}),
    [](const auto& info) { return std::string(info.param.name); });

struct EqualCase {
  const char* name;
  std::string a;
  std::string b;
  PathStyle style;
  bool expected;
};

void PrintTo(const EqualCase& c, std::ostream* os) { *os << c.name; }

class EqualTest : public testing::TestWithParam<EqualCase> {};

TEST_P(EqualTest, Compares) {
  const auto& c = GetParam();
  EXPECT_EQ(Equal(c.a, c.b, c.style), c.expected) << c.a << " vs " << c.b;
  EXPECT_EQ(Equal(c.b, c.a, c.style), c.expected) << "not symmetric: " << c.b << " vs " << c.a;
}

INSTANTIATE_TEST_SUITE_P(Posix, EqualTest,
                         testing::Values(EqualCase{"Same", "/a/b", "/a/b", kPosix, true},
                                         EqualCase{"AsciiCaseDiffers", "/a", "/A", kPosix, false},
                                         EqualCase{"Latin1CaseDiffers", "/Ä", "/ä", kPosix, false},
                                         EqualCase{"TrailingSlash", "/a/", "/a", kPosix, true},
                                         EqualCase{"DotDot", "/a/../b", "/b", kPosix, true},
                                         EqualCase{"DifferentNames", "/a", "/b", kPosix, false},
                                         EqualCase{"TrailingDotMatters", "/a.", "/a", kPosix,
                                                   false}),
                         [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Windows, EqualTest,
    testing::Values(
        EqualCase{"Ascii", "C:\\abc", "c:\\ABC", kWin, true},
        EqualCase{"Latin1", "C:\\ÄRGER", "c:\\ärger", kWin, true},
        EqualCase{"Latin1AllLetters", "C:\\ÀÉÎÕØÜÞ", "C:\\àéîõøüþ", kWin, true},
        EqualCase{"YDiaeresisToLatinExtA", "C:\\Ÿ", "C:\\ÿ", kWin, true},
        EqualCase{"LatinExtAFirstPair", "C:\\Ā", "C:\\ā", kWin, true},
        EqualCase{"LatinExtAOddPairs", "C:\\Ł", "C:\\ł", kWin, true},
        EqualCase{"LatinExtALastPair", "C:\\Ž", "C:\\ž", kWin, true},
        EqualCase{"LatinExtANeighboursDiffer", "C:\\Ł", "C:\\Ń", kWin, false},
        EqualCase{"GreekWithTonos", "C:\\ΣΟΦΊΑ", "c:\\σοφία", kWin, true},
        EqualCase{"GreekFinalSigma", "C:\\Σ", "C:\\ς", kWin, true},
        EqualCase{"GreekOmegaTonos", "C:\\Ώ", "C:\\ώ", kWin, true},
        EqualCase{"Cyrillic", "C:\\ЁЛКА", "c:\\ёлка", kWin, true},
        EqualCase{"CyrillicHistoric", "C:\\Ѣ", "C:\\ѣ", kWin, true},
        EqualCase{"CyrillicExtended", "C:\\Ґ", "C:\\ґ", kWin, true},
        EqualCase{"CyrillicPalochka", "C:\\Ӏ", "C:\\ӏ", kWin, true},
        EqualCase{"DotlessINotFolded", "C:\\I", "C:\\ı", kWin, false},
        EqualCase{"LongSNotFolded", "C:\\S", "C:\\ſ", kWin, false},
        EqualCase{"MicroSignNotGreekMu", "C:\\µ", "C:\\Μ", kWin, false},
        EqualCase{"SharpSNotSS", "C:\\SS", "C:\\ß", kWin, false},
        EqualCase{"DifferentLetters", "C:\\a", "C:\\b", kWin, false},
        EqualCase{"ParentAndChild", "C:\\a", "C:\\a\\b", kWin, false},
        EqualCase{"TrailingDotIgnored", "C:\\secret.", "C:\\secret", kWin, true},
        EqualCase{"LongPrefix", "\\\\?\\C:\\x", "c:\\X", kWin, true},
        EqualCase{"LongUncPrefix", "\\\\?\\UNC\\Srv\\Sh\\a", "\\\\srv\\sh\\A", kWin, true},
        EqualCase{"DifferentDrives", "C:\\x", "D:\\x", kWin, false},
        EqualCase{"UnnormalisableFallsBackToFoldedText", "rel\\ä", "REL\\Ä", kWin, true}),
    [](const auto& info) { return std::string(info.param.name); });

struct JoinCase {
  const char* name;
  std::string base;
  std::string relative;
  PathStyle style;
  std::string expected;  // empty: must be refused
};

void PrintTo(const JoinCase& c, std::ostream* os) { *os << c.name; }

class JoinWithinTest : public testing::TestWithParam<JoinCase> {};

TEST_P(JoinWithinTest, JoinsOrRefuses) {
  const auto& c = GetParam();
  const auto result = JoinWithin(c.base, c.relative, c.style);
  if (c.expected.empty()) {
    ASSERT_FALSE(result.ok()) << "joined as " << *result;
    EXPECT_EQ(result.error().code(), ErrorCode::kPathInvalid);
    EXPECT_NE(result.error().context().find("joining"), std::string::npos)
        << result.error().context();
  } else {
    ASSERT_TRUE(result.ok()) << result.error().ToString();
    EXPECT_EQ(*result, c.expected);
    EXPECT_TRUE(IsWithin(*result, c.base, c.style));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Posix, JoinWithinTest,
    testing::Values(JoinCase{"Simple", "/ws", "a/b", kPosix, "/ws/a/b"},
                    JoinCase{"DotDotInside", "/ws", "a/../b", kPosix, "/ws/b"},
                    JoinCase{"Empty", "/ws/", "", kPosix, "/ws"},
                    JoinCase{"Dot", "/ws", ".", kPosix, "/ws"},
                    JoinCase{"MessyButInside", "/ws/", "./a//b/", kPosix, "/ws/a/b"},
                    JoinCase{"OnRoot", "/", "a", kPosix, "/a"},
                    JoinCase{"BackslashIsAName", "/ws", "a\\..\\..\\b", kPosix, "/ws/a\\..\\..\\b"},
                    JoinCase{"Absolute", "/ws", "/etc", kPosix, ""},
                    JoinCase{"DotDot", "/ws", "..", kPosix, ""},
                    JoinCase{"ClimbsLater", "/ws", "a/../../b", kPosix, ""},
                    JoinCase{"ClimbsAndComesBack", "/ws", "../ws/a", kPosix, ""},
                    JoinCase{"RelativeBase", "ws", "a", kPosix, ""},
                    JoinCase{"Nul", "/ws", std::string("a\0b", 3), kPosix, ""}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Windows, JoinWithinTest,
    testing::Values(JoinCase{"Backslashes", "C:\\ws", "a\\b", kWin, "C:\\ws\\a\\b"},
                    JoinCase{"ForwardSlashes", "C:\\ws", "a/b", kWin, "C:\\ws\\a\\b"},
                    JoinCase{"NormalisesBaseAndNames", "c:/ws/", "a.\\b ", kWin, "C:\\ws\\a\\b"},
                    JoinCase{"OnShare", "\\\\srv\\sh", "x", kWin, "\\\\srv\\sh\\x"},
                    JoinCase{"OnDriveRoot", "C:\\", "x", kWin, "C:\\x"},
                    JoinCase{"DotDotInside", "C:\\ws", "a\\..\\b", kWin, "C:\\ws\\b"},
                    JoinCase{"Absolute", "C:\\ws", "C:\\x", kWin, ""},
                    JoinCase{"OtherDriveRelative", "C:\\ws", "D:x", kWin, ""},
                    JoinCase{"Rooted", "C:\\ws", "\\x", kWin, ""},
                    JoinCase{"RootedForward", "C:\\ws", "/x", kWin, ""},
                    JoinCase{"DotDot", "C:\\ws", "..\\x", kWin, ""},
                    JoinCase{"DotDotForward", "C:\\ws", "a/../../x", kWin, ""},
                    JoinCase{"Unc", "C:\\ws", "\\\\server\\share", kWin, ""},
                    JoinCase{"Stream", "C:\\ws", "a:b", kWin, ""},
                    JoinCase{"StreamDeeper", "C:\\ws", "x\\a:b", kWin, ""},
                    JoinCase{"Device", "C:\\ws", "NUL", kWin, ""},
                    JoinCase{"OnlyDots", "C:\\ws", "...", kWin, ""},
                    JoinCase{"ShareCannotBeLeft", "\\\\srv\\sh", "..\\other", kWin, ""}),
    [](const auto& info) { return std::string(info.param.name); });

struct SplitCase {
  const char* name;
  std::string input;
  PathStyle style;
  std::string root;
  std::vector<std::string> components;
};

void PrintTo(const SplitCase& c, std::ostream* os) { *os << c.name; }

class SplitTest : public testing::TestWithParam<SplitCase> {};

TEST_P(SplitTest, SplitsRootAndComponents) {
  const auto& c = GetParam();
  const SplitPath split = Split(c.input, c.style);
  EXPECT_EQ(split.root, c.root);
  EXPECT_EQ(split.components, c.components);
}

INSTANTIATE_TEST_SUITE_P(
    Both, SplitTest,
    testing::Values(SplitCase{"PosixRoot", "/", kPosix, "/", {}},
                    SplitCase{"PosixPath", "/a/b", kPosix, "/", {"a", "b"}},
                    SplitCase{"PosixBackslashInName", "/a\\b", kPosix, "/", {"a\\b"}},
                    SplitCase{"PosixRelative", "a/b", kPosix, "", {"a", "b"}},
                    SplitCase{"WinDriveRoot", "C:\\", kWin, "C:\\", {}},
                    SplitCase{"WinDrivePath", "C:\\a\\b", kWin, "C:\\", {"a", "b"}},
                    SplitCase{"WinShareRoot", "\\\\srv\\sh", kWin, "\\\\srv\\sh\\", {}},
                    SplitCase{
                        "WinSharePath", "\\\\srv\\sh\\a\\b", kWin, "\\\\srv\\sh\\", {"a", "b"}},
                    SplitCase{"WinRelative", "a\\b", kWin, "", {"a", "b"}}),
    [](const auto& info) { return std::string(info.param.name); });

// Every normalised form splits and re-joins to itself: Split and Normalize agree on roots.
TEST(SplitTest, RoundTripsNormalisedPaths) {
  for (const auto& [input, style] :
       std::vector<std::pair<std::string, PathStyle>>{{"/", kPosix},
                                                      {"/a/b/c", kPosix},
                                                      {"C:\\", kWin},
                                                      {"C:\\a\\b", kWin},
                                                      {"\\\\srv\\sh", kWin},
                                                      {"\\\\srv\\sh\\a", kWin}}) {
    const auto normalized = Normalize(input, style);
    ASSERT_TRUE(normalized.ok()) << input;
    const SplitPath split = Split(*normalized, style);
    std::string rebuilt = split.root;
    const char sep = style == kPosix ? '/' : '\\';
    for (size_t i = 0; i < split.components.size(); ++i) {
      if (i > 0) rebuilt += sep;
      rebuilt += split.components[i];
    }
    if (split.components.empty() && style == kWin && rebuilt.starts_with("\\\\")) {
      rebuilt.pop_back();  // a share root is written without its trailing separator
    }
    EXPECT_EQ(rebuilt, *normalized);
  }
}

}  // namespace
}  // namespace stockade::paths
