// Expand() and IsAnchoredPattern(): placeholders, variables, escapes, errors that name what was
// wrong, and normalisation by the context's style. Pure string code, run on both targets.
#include "core/paths/expand.h"

#include <gtest/gtest.h>

#include <map>
#include <ostream>
#include <string>

namespace stockade::paths {
namespace {

using Env = std::map<std::string, std::string, std::less<>>;

ExpansionContext MakeContext(PathStyle style, Env env) {
  ExpansionContext context;
  context.style = style;
  if (style == PathStyle::kPosix) {
    context.workspace = "/home/u/proj";
    context.temp = "/tmp";
    context.home = "/home/u/";
  } else {
    context.workspace = "C:\\Users\\u\\proj";
    context.temp = "C:\\Users\\u\\AppData\\Local\\Temp\\";
    context.home = "c:/Users/u";
  }
  context.env = [env = std::move(env)](std::string_view name) -> std::optional<std::string> {
    const auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  return context;
}

const Env kPosixEnv = {{"XDG", "/x/y"},     {"EMPTY", ""},       {"TRICK", "/t/{temp}"},
                       {"PCT", "/p/%XDG%"}, {"DOTS", "/a/../b"}, {"lower_name", "/lower"}};
const Env kWindowsEnv = {{"ProgramData", "C:\\ProgramData"},
                         {"ProgramFiles(x86)", "C:\\Program Files (x86)"},
                         {"USERPROFILE", "C:\\Users\\u"},
                         {"EMPTY", ""}};

struct ExpandCase {
  const char* name;
  std::string pattern;
  PathStyle style;
  std::string expected;    // when ok
  std::string error_part;  // when not ok: the message must contain this
};

void PrintTo(const ExpandCase& c, std::ostream* os) { *os << c.name; }

class ExpandTest : public testing::TestWithParam<ExpandCase> {};

TEST_P(ExpandTest, ExpandsOrNamesTheProblem) {
  const auto& c = GetParam();
  const auto context = MakeContext(c.style, c.style == PathStyle::kPosix ? kPosixEnv : kWindowsEnv);
  const auto result = Expand(c.pattern, context);
  if (c.error_part.empty()) {
    ASSERT_TRUE(result.ok()) << c.pattern << " -> " << result.error().ToString();
    EXPECT_EQ(*result, c.expected);
  } else {
    ASSERT_FALSE(result.ok()) << c.pattern << " expanded to " << *result;
    EXPECT_EQ(result.error().code(), ErrorCode::kPathInvalid);
    EXPECT_NE(result.error().context().find(c.error_part), std::string::npos)
        << "message: " << result.error().context();
    EXPECT_NE(result.error().context().find("expanding '"), std::string::npos)
        << "message: " << result.error().context();
  }
}

constexpr PathStyle kPosix = PathStyle::kPosix;
constexpr PathStyle kWin = PathStyle::kWindows;

INSTANTIATE_TEST_SUITE_P(
    Posix, ExpandTest,
    testing::Values(
        ExpandCase{"Workspace", "{workspace}", kPosix, "/home/u/proj", ""},
        ExpandCase{"WorkspaceChild", "{workspace}/.git", kPosix, "/home/u/proj/.git", ""},
        ExpandCase{"Temp", "{temp}", kPosix, "/tmp", ""},
        ExpandCase{"TildeAlone", "~", kPosix, "/home/u", ""},
        ExpandCase{"TildeChild", "~/.ssh", kPosix, "/home/u/.ssh", ""},
        ExpandCase{"BraceVariable", "${XDG}/cfg", kPosix, "/x/y/cfg", ""},
        ExpandCase{"PercentVariable", "%XDG%/cfg", kPosix, "/x/y/cfg", ""},
        ExpandCase{"LowerCaseName", "${lower_name}/a", kPosix, "/lower/a", ""},
        ExpandCase{"PlainAbsoluteNormalised", "/abs//path/.", kPosix, "/abs/path", ""},
        ExpandCase{"DotDotAfterPlaceholder", "{workspace}/../x", kPosix, "/home/u/x", ""},
        ExpandCase{"ValueNormalised", "${DOTS}/c", kPosix, "/b/c", ""},
        ExpandCase{"PlaceholderInTheMiddle", "/mnt{workspace}", kPosix, "/mnt/home/u/proj", ""},
        ExpandCase{"EscapedBrace", "/a/{{literal}", kPosix, "/a/{literal}", ""},
        ExpandCase{"EscapedPercent", "/a/100%%", kPosix, "/a/100%", ""},
        ExpandCase{"EscapedDollarAndBrace", "/a/$${{X}", kPosix, "/a/${X}", ""},
        ExpandCase{"LoneDollarIsLiteral", "/a/$x", kPosix, "/a/$x", ""},
        ExpandCase{"InnerTildeIsLiteral", "/a/b~c", kPosix, "/a/b~c", ""},
        ExpandCase{"ValueNotReExpandedBrace", "${TRICK}", kPosix, "/t/{temp}", ""},
        ExpandCase{"ValueNotReExpandedPercent", "${PCT}", kPosix, "/p/%XDG%", ""},
        ExpandCase{"UnknownPlaceholder", "{workspac}/x", kPosix, "", "'{workspac}'"},
        ExpandCase{"HomeIsNotAPlaceholder", "{home}", kPosix, "", "unknown placeholder '{home}'"},
        ExpandCase{"UnterminatedPlaceholder", "{workspace", kPosix, "", "unterminated"},
        ExpandCase{"TildeUser", "~bob/.ssh", kPosix, "", "'~bob'"},
        ExpandCase{"UnsetBraceVariable", "${UNSET}/x", kPosix, "", "'${UNSET}' is not set"},
        ExpandCase{"UnsetPercentVariable", "%UNSET%/x", kPosix, "", "'%UNSET%' is not set"},
        ExpandCase{"EmptyVariable", "${EMPTY}/x", kPosix, "", "'${EMPTY}' is empty"},
        ExpandCase{"UnterminatedPercent", "%XDG/x", kPosix, "", "unterminated variable"},
        ExpandCase{"UnterminatedBraceVariable", "${XDG", kPosix, "", "unterminated variable"},
        ExpandCase{"BadBraceName", "${1X}", kPosix, "", "invalid variable name '${1X}'"},
        ExpandCase{"BadPercentName", "%A B%", kPosix, "", "invalid variable name '%A B%'"},
        ExpandCase{"RelativeResult", "rel/{temp}", kPosix, "", "not absolute"},
        ExpandCase{"WindowsResultOnPosix", "C:\\x", kPosix, "", "not absolute"}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Windows, ExpandTest,
    testing::Values(
        ExpandCase{"WorkspaceChild", "{workspace}\\.git", kWin, "C:\\Users\\u\\proj\\.git", ""},
        ExpandCase{"WorkspaceForwardSlash", "{workspace}/.git", kWin, "C:\\Users\\u\\proj\\.git",
                   ""},
        ExpandCase{"TempTrailingSeparatorGone", "{temp}", kWin,
                   "C:\\Users\\u\\AppData\\Local\\Temp", ""},
        ExpandCase{"TildeBackslash", "~\\.ssh", kWin, "C:\\Users\\u\\.ssh", ""},
        ExpandCase{"TildeForwardSlash", "~/.aws", kWin, "C:\\Users\\u\\.aws", ""},
        ExpandCase{"PercentVariable", "%ProgramData%\\Stockade", kWin, "C:\\ProgramData\\Stockade",
                   ""},
        ExpandCase{"ParensInName", "%ProgramFiles(x86)%\\App", kWin, "C:\\Program Files (x86)\\App",
                   ""},
        ExpandCase{"BraceVariable", "${USERPROFILE}\\.kube", kWin, "C:\\Users\\u\\.kube", ""},
        ExpandCase{"LongPrefixReduced", "\\\\?\\C:\\x", kWin, "C:\\x", ""},
        ExpandCase{"TrailingDotsStripped", "{workspace}\\.git.", kWin, "C:\\Users\\u\\proj\\.git",
                   ""},
        ExpandCase{"ShortNameTilde", "C:\\PROGRA~1", kWin, "C:\\PROGRA~1", ""},
        ExpandCase{"StreamRefused", "{workspace}\\a:b", kWin, "", "alternate data stream"},
        ExpandCase{"PosixRootedRefused", "/etc/x", kWin, "", "without a drive letter"},
        ExpandCase{"EmptyVariableRefused", "%EMPTY%\\x", kWin, "", "'%EMPTY%' is empty"},
        ExpandCase{"UnsetVariableRefused", "%APPDATA%\\x", kWin, "", "'%APPDATA%' is not set"},
        ExpandCase{"UnknownPlaceholder", "{userprofile}\\x", kWin, "", "'{userprofile}'"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ExpandContextTest, EmptyContextValuesAreErrorsNamingThePlaceholder) {
  ExpansionContext context;
  context.style = PathStyle::kPosix;
  for (const auto& [pattern, part] : std::map<std::string, std::string>{
           {"{workspace}/x", "'{workspace}' has no value"},
           {"{temp}", "'{temp}' has no value"},
           {"~/.ssh", "'~' used but the home directory is not known"},
           {"${HOME}", "'${HOME}' is not set"}}) {
    const auto result = Expand(pattern, context);
    ASSERT_FALSE(result.ok()) << pattern << " -> " << *result;
    EXPECT_NE(result.error().context().find(part), std::string::npos) << result.error().context();
  }
  // With the values filled in, the same patterns expand.
  context.workspace = "/w";
  context.temp = "/t";
  context.home = "/h";
  context.env = [](std::string_view name) -> std::optional<std::string> {
    if (name == "HOME") return "/h";
    return std::nullopt;
  };
  EXPECT_EQ(Expand("{workspace}/x", context).value(), "/w/x");
  EXPECT_EQ(Expand("{temp}", context).value(), "/t");
  EXPECT_EQ(Expand("~/.ssh", context).value(), "/h/.ssh");
  EXPECT_EQ(Expand("${HOME}", context).value(), "/h");
}

TEST(ExpandContextTest, TheLookupReceivesTheBareName) {
  ExpansionContext context;
  context.style = PathStyle::kPosix;
  std::vector<std::string> asked;
  context.env = [&asked](std::string_view name) -> std::optional<std::string> {
    asked.emplace_back(name);
    return "/v";
  };
  ASSERT_TRUE(Expand("%ONE%/${TWO}", context).ok());
  EXPECT_EQ(asked, (std::vector<std::string>{"ONE", "TWO"}));
}

struct AnchoredCase {
  const char* name;
  std::string pattern;
  bool expected;
};

void PrintTo(const AnchoredCase& c, std::ostream* os) { *os << c.name; }

class IsAnchoredPatternTest : public testing::TestWithParam<AnchoredCase> {};

TEST_P(IsAnchoredPatternTest, Classifies) {
  EXPECT_EQ(IsAnchoredPattern(GetParam().pattern), GetParam().expected) << GetParam().pattern;
}

INSTANTIATE_TEST_SUITE_P(
    Both, IsAnchoredPatternTest,
    testing::Values(
        AnchoredCase{"Workspace", "{workspace}", true}, AnchoredCase{"TempChild", "{temp}/x", true},
        AnchoredCase{"Tilde", "~", true}, AnchoredCase{"TildeSlash", "~/.ssh", true},
        AnchoredCase{"TildeBackslash", "~\\.ssh", true},
        AnchoredCase{"PercentVariable", "%APPDATA%\\x", true},
        AnchoredCase{"BraceVariable", "${HOME}/x", true},
        AnchoredCase{"PosixAbsolute", "/abs", true}, AnchoredCase{"WindowsDrive", "C:\\abs", true},
        AnchoredCase{"WindowsDriveForward", "c:/abs", true},
        AnchoredCase{"Unc", "\\\\srv\\sh", true}, AnchoredCase{"Relative", "relative/x", false},
        AnchoredCase{"ProtectedName", ".git", false},
        AnchoredCase{"TildeUserIsAnchoredButUnsupported", "~bob", true},
        AnchoredCase{"UnknownPlaceholder", "{unknown}/x", false},
        AnchoredCase{"EscapedBrace", "{{workspace}", false},
        AnchoredCase{"UnterminatedPercent", "%APPDATA", false},
        AnchoredCase{"EscapedPercent", "%%x%", false},
        AnchoredCase{"UnterminatedBrace", "${HOME", false}, AnchoredCase{"Empty", "", false},
        AnchoredCase{"DriveRelative", "C:rel", false}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace stockade::paths
