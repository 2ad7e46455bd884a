// Linux locations compared with what the OS reports: the environment, the passwd database
// (getpwuid_r, independent of the code under test's choice of call) and the real folders.
#include "core/paths/locations.h"

#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace stockade::paths {
namespace {

// Sets or unsets an environment variable for one test and puts the old value back.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value == nullptr) {
      unsetenv(name);
    } else {
      setenv(name, value, 1);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::string PasswdHome() {
  passwd* entry = getpwuid(geteuid());
  return entry != nullptr && entry->pw_dir != nullptr ? entry->pw_dir : "";
}

TEST(LinuxLocationsTest, DefaultsWithoutOverrides) {
  ScopedEnv policy(kPolicyPathEnv, nullptr);
  ScopedEnv state(kStateDirEnv, nullptr);
  EXPECT_EQ(DefaultPolicyPath(), "/etc/stockade/policy.toml");
  EXPECT_EQ(DefaultStateDir(), "/var/lib/stockade");
}

TEST(LinuxLocationsTest, OverridesAreUsedVerbatim) {
  ScopedEnv policy(kPolicyPathEnv, "/tmp/t1/policy.toml");
  ScopedEnv state(kStateDirEnv, "/tmp/t1/state/");
  EXPECT_EQ(DefaultPolicyPath(), "/tmp/t1/policy.toml");
  EXPECT_EQ(DefaultStateDir(), "/tmp/t1/state/");
}

TEST(LinuxLocationsTest, EmptyOverridesCountAsUnset) {
  ScopedEnv policy(kPolicyPathEnv, "");
  ScopedEnv state(kStateDirEnv, "");
  EXPECT_EQ(DefaultPolicyPath(), "/etc/stockade/policy.toml");
  EXPECT_EQ(DefaultStateDir(), "/var/lib/stockade");
}

TEST(LinuxLocationsTest, HomeFollowsTheHomeVariable) {
  ScopedEnv home("HOME", "/srv//Ärger/home/");
  const auto result = CurrentUserHome();
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(*result, "/srv/Ärger/home");
}

TEST(LinuxLocationsTest, HomeFallsBackToThePasswdEntry) {
  const std::string expected = PasswdHome();
  ASSERT_FALSE(expected.empty()) << "this machine has no passwd entry for uid " << geteuid();
  ScopedEnv home("HOME", nullptr);
  const auto result = CurrentUserHome();
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(*result, expected);
  struct stat st {};
  ASSERT_EQ(stat(result->c_str(), &st), 0) << "the passwd home does not exist: " << *result;
  EXPECT_TRUE(S_ISDIR(st.st_mode));
}

TEST(LinuxLocationsTest, EmptyHomeFallsBackToThePasswdEntry) {
  ScopedEnv home("HOME", "");
  const auto result = CurrentUserHome();
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(*result, PasswdHome());
}

TEST(LinuxLocationsTest, RelativeHomeIsRefusedNotIgnored) {
  ScopedEnv home("HOME", "relative/home");
  const auto result = CurrentUserHome();
  ASSERT_FALSE(result.ok()) << *result;
  EXPECT_EQ(result.error().code(), ErrorCode::kPathInvalid);
  EXPECT_NE(result.error().context().find("HOME"), std::string::npos) << result.error().context();
}

TEST(LinuxLocationsTest, TempFollowsTmpdir) {
  char dir[] = "/tmp/stockade-paths-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  {
    const std::string with_slash = std::string(dir) + "/";
    ScopedEnv tmpdir("TMPDIR", with_slash.c_str());
    const auto result = TempDir();
    ASSERT_TRUE(result.ok()) << result.error().ToString();
    EXPECT_EQ(*result, dir);
  }
  rmdir(dir);
}

TEST(LinuxLocationsTest, TempIsTmpWithoutAUsableTmpdir) {
  for (const char* value : {static_cast<const char*>(nullptr), "", "relative/tmp"}) {
    ScopedEnv tmpdir("TMPDIR", value);
    const auto result = TempDir();
    ASSERT_TRUE(result.ok()) << result.error().ToString();
    EXPECT_EQ(*result, "/tmp") << "TMPDIR=" << (value ? value : "(unset)");
  }
}

}  // namespace
}  // namespace stockade::paths
