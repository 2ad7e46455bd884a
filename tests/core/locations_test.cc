// Properties of the default locations that hold on every OS: each answer is an absolute path in
// its normalised form, and the policy file sits where the header says. The OS folders
// (tests/core/linux, tests/core/win) compare the answers with what the OS itself reports.
#include "core/paths/locations.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "core/paths/path_rules.h"

namespace stockade::paths {
namespace {

// Each call is checked for being absolute and already normalised (Normalize is the identity).
void ExpectNormalisedAbsolute(const std::string& path, const char* what) {
  EXPECT_TRUE(IsAbsolute(path, NativeStyle())) << what << ": " << path;
  const auto normalized = Normalize(path, NativeStyle());
  ASSERT_TRUE(normalized.ok()) << what << ": " << normalized.error().ToString();
  EXPECT_EQ(*normalized, path) << what;
}

TEST(LocationsTest, HomeIsANormalisedAbsolutePath) {
  const auto home = CurrentUserHome();
  ASSERT_TRUE(home.ok()) << home.error().ToString();
  ExpectNormalisedAbsolute(*home, "CurrentUserHome");
}

TEST(LocationsTest, TempIsANormalisedAbsolutePath) {
  const auto temp = TempDir();
  ASSERT_TRUE(temp.ok()) << temp.error().ToString();
  ExpectNormalisedAbsolute(*temp, "TempDir");
}

TEST(LocationsTest, DefaultsAreAbsoluteWhenNotOverridden) {
  // Only meaningful when the overrides are unset, which is how the test suites are run.
  if (std::getenv(kPolicyPathEnv) == nullptr) {
    const std::string policy = DefaultPolicyPath();
    ExpectNormalisedAbsolute(policy, "DefaultPolicyPath");
    const SplitPath split = Split(policy, NativeStyle());
    ASSERT_GE(split.components.size(), 2u);
    EXPECT_EQ(split.components.back(), "policy.toml");
    EXPECT_TRUE(
        Equal(split.components[split.components.size() - 2], "stockade", PathStyle::kWindows))
        << "the policy lives in a folder named after the product: " << policy;
  }
  if (std::getenv(kStateDirEnv) == nullptr) {
    const std::string state = DefaultStateDir();
    ExpectNormalisedAbsolute(state, "DefaultStateDir");
    EXPECT_TRUE(
        Equal(Split(state, NativeStyle()).components.back(), "stockade", PathStyle::kWindows))
        << state;
  }
}

}  // namespace
}  // namespace stockade::paths
