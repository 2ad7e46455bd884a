// Windows locations compared with what the OS reports: the environment block, the known-folder
// API, GetTempPathW's documented use of TMP, and the folders' existence on disk. Runs under Wine.
#include "core/paths/locations.h"

#include <windows.h>
// windows.h first: the shell headers depend on its types.
#include <gtest/gtest.h>
#include <knownfolders.h>
#include <shlobj.h>

#include <optional>
#include <string>

#include "core/paths/path_rules.h"

namespace stockade::paths {
namespace {

std::wstring Wide(const std::string& utf8) {
  const int n =
      MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), nullptr, 0);
  std::wstring out(static_cast<size_t>(n), L'\0');
  MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), out.data(), n);
  return out;
}

std::string Utf8(const std::wstring& wide) {
  const int n = WideCharToMultiByte(CP_UTF8, 0, wide.data(), static_cast<int>(wide.size()), nullptr,
                                    0, nullptr, nullptr);
  std::string out(static_cast<size_t>(n), '\0');
  WideCharToMultiByte(CP_UTF8, 0, wide.data(), static_cast<int>(wide.size()), out.data(), n,
                      nullptr, nullptr);
  return out;
}

std::optional<std::wstring> GetEnvW(const wchar_t* name) {
  wchar_t buffer[32768];
  const DWORD n = GetEnvironmentVariableW(name, buffer, 32768);
  if (n == 0 || n >= 32768) return std::nullopt;
  return std::wstring(buffer, n);
}

// Sets or removes a variable in the process environment block for one test, then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const wchar_t* name, const wchar_t* value) : name_(name), old_(GetEnvW(name)) {
    SetEnvironmentVariableW(name, value);
  }
  ~ScopedEnv() { SetEnvironmentVariableW(name_, old_ ? old_->c_str() : nullptr); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const wchar_t* name_;
  std::optional<std::wstring> old_;
};

bool IsDirectory(const std::string& utf8) {
  const DWORD attributes = GetFileAttributesW(Wide(utf8).c_str());
  return attributes != INVALID_FILE_ATTRIBUTES && (attributes & FILE_ATTRIBUTE_DIRECTORY) != 0;
}

std::string KnownProgramData() {
  wchar_t* raw = nullptr;
  const HRESULT hr = SHGetKnownFolderPath(FOLDERID_ProgramData, 0, nullptr, &raw);
  std::string out = SUCCEEDED(hr) && raw != nullptr ? Utf8(raw) : "";
  CoTaskMemFree(raw);
  return out;
}

TEST(WindowsLocationsTest, DefaultsLiveInProgramData) {
  ScopedEnv policy(L"STOCKADE_POLICY", nullptr);
  ScopedEnv state(L"STOCKADE_STATE_DIR", nullptr);
  const std::string known = KnownProgramData();
  ASSERT_FALSE(known.empty()) << "SHGetKnownFolderPath(FOLDERID_ProgramData) failed";
  const auto env = GetEnvW(L"ProgramData");
  ASSERT_TRUE(env.has_value()) << "ProgramData is not set";
  // Two independent reports of the same folder, and it exists.
  EXPECT_TRUE(Equal(known, Utf8(*env), PathStyle::kWindows)) << known << " vs " << Utf8(*env);
  EXPECT_TRUE(IsDirectory(known)) << known;

  EXPECT_TRUE(Equal(DefaultStateDir(), known + "\\Stockade", PathStyle::kWindows))
      << DefaultStateDir();
  EXPECT_TRUE(Equal(DefaultPolicyPath(), known + "\\Stockade\\policy.toml", PathStyle::kWindows))
      << DefaultPolicyPath();
  EXPECT_TRUE(IsWithin(DefaultPolicyPath(), DefaultStateDir(), PathStyle::kWindows));
}

TEST(WindowsLocationsTest, OverridesAreUsedVerbatim) {
  ScopedEnv policy(L"STOCKADE_POLICY", L"Z:\\tmp\\t1\\p\u00f6licy.toml");
  ScopedEnv state(L"STOCKADE_STATE_DIR", L"Z:\\tmp\\t1\\state\\");
  EXPECT_EQ(DefaultPolicyPath(), "Z:\\tmp\\t1\\p\xC3\xB6licy.toml");
  EXPECT_EQ(DefaultStateDir(), "Z:\\tmp\\t1\\state\\");
}

TEST(WindowsLocationsTest, EmptyOverridesCountAsUnset) {
  ScopedEnv policy(L"STOCKADE_POLICY", L"");
  ScopedEnv state(L"STOCKADE_STATE_DIR", L"");
  EXPECT_TRUE(DefaultPolicyPath().ends_with("\\Stockade\\policy.toml")) << DefaultPolicyPath();
  EXPECT_TRUE(DefaultStateDir().ends_with("\\Stockade")) << DefaultStateDir();
}

TEST(WindowsLocationsTest, HomeFollowsUserProfile) {
  const auto profile = GetEnvW(L"USERPROFILE");
  ASSERT_TRUE(profile.has_value()) << "USERPROFILE is not set";
  const auto home = CurrentUserHome();
  ASSERT_TRUE(home.ok()) << home.error().ToString();
  EXPECT_TRUE(Equal(*home, Utf8(*profile), PathStyle::kWindows)) << *home;
  EXPECT_TRUE(IsDirectory(*home)) << *home;

  ScopedEnv changed(L"USERPROFILE", L"c:/Users/\u00c4rger/");
  const auto other = CurrentUserHome();
  ASSERT_TRUE(other.ok()) << other.error().ToString();
  EXPECT_EQ(*other, "C:\\Users\\\xC3\x84rger");
}

TEST(WindowsLocationsTest, HomeFallsBackToTheProfileOfTheToken) {
  const auto profile = GetEnvW(L"USERPROFILE");
  ASSERT_TRUE(profile.has_value()) << "USERPROFILE is not set";
  ScopedEnv unset(L"USERPROFILE", nullptr);
  ASSERT_FALSE(GetEnvW(L"USERPROFILE").has_value());
  const auto home = CurrentUserHome();
  ASSERT_TRUE(home.ok()) << home.error().ToString();
  // GetUserProfileDirectoryW reads the profile list, not the variable: the two must agree.
  EXPECT_TRUE(Equal(*home, Utf8(*profile), PathStyle::kWindows))
      << *home << " vs USERPROFILE " << Utf8(*profile);
  EXPECT_TRUE(IsDirectory(*home)) << *home;
}

TEST(WindowsLocationsTest, RelativeUserProfileIsRefused) {
  ScopedEnv changed(L"USERPROFILE", L"relative\\home");
  const auto home = CurrentUserHome();
  ASSERT_FALSE(home.ok()) << *home;
  EXPECT_EQ(home.error().code(), ErrorCode::kPathInvalid);
  EXPECT_NE(home.error().context().find("USERPROFILE"), std::string::npos)
      << home.error().context();
}

TEST(WindowsLocationsTest, TempFollowsGetTempPath) {
  wchar_t buffer[MAX_PATH + 1];
  const DWORD n = GetTempPathW(MAX_PATH + 1, buffer);
  ASSERT_GT(n, 0u);
  const auto temp = TempDir();
  ASSERT_TRUE(temp.ok()) << temp.error().ToString();
  EXPECT_TRUE(Equal(*temp, Utf8(std::wstring(buffer, n)), PathStyle::kWindows)) << *temp;
  EXPECT_TRUE(IsDirectory(*temp)) << *temp;
}

TEST(WindowsLocationsTest, TempFollowsTheTmpVariableAndConvertsToUtf8) {
  // GetTempPathW documents TMP as its first source; a non-ASCII name checks the UTF-16 to UTF-8
  // conversion end to end.
  ScopedEnv tmp(L"TMP", L"C:\\St\u00f6ckade\u0416Tmp\\");
  const auto temp = TempDir();
  ASSERT_TRUE(temp.ok()) << temp.error().ToString();
  EXPECT_EQ(*temp,
            "C:\\St\xC3\xB6"
            "ckade\xD0\x96Tmp");
}

}  // namespace
}  // namespace stockade::paths
