// The comparable form of policy path patterns (placeholders as opaque roots), which the loader's
// overlap and "inside a root" checks rest on.
#include "core/policy/policy_path_checks.h"

#include <gtest/gtest.h>

namespace stockade::policy_internal {
namespace {

using paths::PathStyle;

ComparablePath Form(std::string_view pattern) {
  Expected<ComparablePath> form = ToComparable(pattern);
  EXPECT_TRUE(form.ok()) << pattern << ": " << (form.ok() ? "" : form.error().ToString());
  return form.ok() ? *form : ComparablePath{};
}

TEST(ToComparable, PlaceholdersBecomeDistinctOpaqueRoots) {
  EXPECT_EQ(Form("{workspace}").path, "/__stockade_workspace__");
  EXPECT_EQ(Form("{temp}/x").path, "/__stockade_temp__/x");
  EXPECT_EQ(Form("~/.ssh").path, "/__stockade_home__/.ssh");
  EXPECT_EQ(Form("%APPDATA%\\gnupg").path, "/__stockade_env__/APPDATA/gnupg");
  EXPECT_EQ(Form("${HOME}/.netrc").path, "/__stockade_env__/HOME/.netrc");
  EXPECT_EQ(Form("{workspace}").style, PathStyle::kPosix);
}

TEST(ToComparable, BackslashesAfterAPlaceholderAreSeparators) {
  EXPECT_EQ(Form("{workspace}\\a\\b").path, Form("{workspace}/a//b/").path);
}

TEST(ToComparable, AbsolutePathsKeepTheirOwnStyle) {
  ComparablePath posix = Form("/srv//app/./x");
  EXPECT_EQ(posix.style, PathStyle::kPosix);
  EXPECT_EQ(posix.path, "/srv/app/x");
  ComparablePath windows = Form("c:/Work/Sub");
  EXPECT_EQ(windows.style, PathStyle::kWindows);
  EXPECT_EQ(windows.path, "C:\\Work\\Sub");
  ComparablePath unc = Form("\\\\server\\share\\dir");
  EXPECT_EQ(unc.style, PathStyle::kWindows);
}

TEST(ToComparable, UnknownPlaceholderIsRefused) {
  Expected<ComparablePath> form = ToComparable("{home}/x");
  ASSERT_FALSE(form.ok());
  EXPECT_EQ(form.error().code(), ErrorCode::kPathInvalid);
}

TEST(CheckPolicyPaths, EntriesFromTheBaseAreNamedAsSuch) {
  Policy policy;
  policy.filesystem.writable_roots = {"/srv"};
  policy.filesystem.protected_paths = {"/etc/passwd"};
  PathLocations locations;
  locations.writable_roots = {std::nullopt};
  locations.protected_paths = {std::nullopt};
  Status status = CheckPolicyPaths(policy, locations, "base");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kPolicyInvalid);
  EXPECT_EQ(status.error().context(),
            "base: filesystem.protected[0]: \"/etc/passwd\" is outside every writable root; an "
            "absolute protected path must lie inside one of: \"/srv\" (a relative name such as "
            "\".git\" applies under every root)");
}

}  // namespace
}  // namespace stockade::policy_internal
