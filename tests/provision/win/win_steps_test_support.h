// Helpers for the Windows step tests: Wine detection, unique names (several test runs and the
// installed product must never collide), temporary folders, and building steps from specs.
#ifndef STOCKADE_TESTS_PROVISION_WIN_WIN_STEPS_TEST_SUPPORT_H_
#define STOCKADE_TESTS_PROVISION_WIN_WIN_STEPS_TEST_SUPPORT_H_

#include <windows.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <system_error>

#include "core/crypto/random.h"
#include "gtest/gtest.h"
#include "provision/step.h"
#include "provision/win/win_util.h"

namespace stockade::provision::win::testing {

inline bool UnderWine() { return RunningUnderWine(); }

// True when the token is elevated (the provisioner's steps need an administrator).
inline bool Elevated() {
  HANDLE token = nullptr;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token)) return false;
  TOKEN_ELEVATION elevation{};
  DWORD size = 0;
  const BOOL ok = GetTokenInformation(token, TokenElevation, &elevation, sizeof elevation, &size);
  CloseHandle(token);
  return ok && elevation.TokenIsElevated != 0;
}

// A short random lower-case name: "<stem><6 hex digits>" (account names are limited to 20
// characters, so stems stay short).
inline std::string UniqueName(const std::string& stem) {
  auto hex = crypto::RandomHex(3);
  return stem + (hex.ok() ? *hex : std::string("000000"));
}

// The user running the tests (for Wine-only tests that need an account LSA can resolve).
inline std::string CurrentUserName() {
  wchar_t name[256];
  DWORD size = 256;
  if (!GetUserNameW(name, &size)) return {};
  return Utf8(name);
}

// A folder under the temp folder, removed with everything in it when the object dies.
class TempFolder {
 public:
  TempFolder() {
    wchar_t base[MAX_PATH + 1];
    const DWORD n = GetTempPathW(MAX_PATH + 1, base);
    std::filesystem::path dir = std::filesystem::path(std::wstring(base, n)) /
                                std::filesystem::path(Wide(UniqueName("stockade-test-")));
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    path_ = dir;
  }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;
  ~TempFolder() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  // UTF-8, backslashes, no trailing separator.
  std::string path() const { return Utf8(path_.wstring()); }
  std::string Child(const std::string& relative) const { return path() + "\\" + relative; }

 private:
  std::filesystem::path path_;
};

inline StepSpec Spec(const char* kind, const std::string& target, nlohmann::json params) {
  return StepSpec{kind, target, std::move(params)};
}

// Builds a step of the registered kind; fails the test when the factory refuses.
std::unique_ptr<Step> MakeStep(const StepSpec& spec);

// The symbolic link checked into tests/data (a Unix symlink Wine reports as a reparse point), or
// "" when the checkout did not preserve it.
std::string TestDataSymlink();

}  // namespace stockade::provision::win::testing

// Asserts / expects that a Status or Expected is OK, printing its error otherwise.
#define STOCKADE_ASSERT_OK(expr)                                                                \
  do {                                                                                          \
    const auto& stockade_result_ = (expr);                                                      \
    ASSERT_TRUE(stockade_result_.ok()) << #expr << ": " << stockade_result_.error().ToString(); \
  } while (false)
#define STOCKADE_EXPECT_OK(expr)                                                                \
  do {                                                                                          \
    const auto& stockade_result_ = (expr);                                                      \
    EXPECT_TRUE(stockade_result_.ok()) << #expr << ": " << stockade_result_.error().ToString(); \
  } while (false)

// Skips the rest of the test under Wine, saying which real-Windows behaviour it needs.
#define STOCKADE_SKIP_UNDER_WINE(reason)                         \
  do {                                                           \
    if (::stockade::provision::win::testing::UnderWine()) {      \
      GTEST_SKIP() << "needs real Windows: " << (reason);        \
    }                                                            \
    if (!::stockade::provision::win::testing::Elevated()) {      \
      GTEST_SKIP() << "needs an elevated (administrator) token"; \
    }                                                            \
  } while (false)

// Skips the rest of the test on real Windows: it asserts what Wine's stubs do.
#define STOCKADE_ONLY_UNDER_WINE(reason)                        \
  do {                                                          \
    if (!::stockade::provision::win::testing::UnderWine()) {    \
      GTEST_SKIP() << "asserts Wine's behaviour: " << (reason); \
    }                                                           \
  } while (false)

#endif  // STOCKADE_TESTS_PROVISION_WIN_WIN_STEPS_TEST_SUPPORT_H_
