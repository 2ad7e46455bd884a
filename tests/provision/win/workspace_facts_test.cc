// GatherWorkspaceFacts through the Win32 API (runs under Wine and on real Windows).
#include <windows.h>

#include <filesystem>
#include <gtest/gtest.h>

#include "provision/workspace/workspace_check.h"

namespace stockade::provision {
namespace {

namespace fs = std::filesystem;

Status Check(const std::string& path) {
  auto facts = GatherWorkspaceFacts(path);
  if (!facts.ok()) return facts.error();
  return CheckWorkspaceAllowed(*facts, paths::PathStyle::kWindows);
}

std::string TempFolder(const char* leaf) {
  wchar_t temp[MAX_PATH + 1];
  DWORD n = GetTempPathW(MAX_PATH + 1, temp);
  fs::path dir = fs::path(std::wstring(temp, n)) / leaf;
  fs::create_directories(dir);
  std::u8string utf8 = dir.u8string();
  return std::string(utf8.begin(), utf8.end());
}

TEST(WorkspaceFactsWin, ProjectFolderInTempIsAllowed) {
  std::string dir = TempFolder("stockade-ws-test");
  Status status = Check(dir);
  EXPECT_TRUE(status.ok()) << status.error().ToString();
  auto facts = GatherWorkspaceFacts(dir);
  ASSERT_TRUE(facts.ok());
  EXPECT_TRUE(facts->exists);
  EXPECT_TRUE(facts->is_directory);
  fs::remove_all(fs::u8path(dir));
}

TEST(WorkspaceFactsWin, DriveRootIsRefused) {
  Status status = Check("C:\\");
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().context().find("root of a filesystem or drive"), std::string::npos)
      << status.error().context();
}

TEST(WorkspaceFactsWin, WindowsFolderIsRefused) {
  Status status = Check("C:\\windows\\system32");
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().context().find("system folder"), std::string::npos)
      << status.error().context();
}

TEST(WorkspaceFactsWin, UsersFolderIsRefused) {
  Status status = Check("C:\\users");
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().context().find("shared folder"), std::string::npos)
      << status.error().context();
}

TEST(WorkspaceFactsWin, MissingFolderIsRefused) {
  Status status = Check("C:\\no\\such\\folder\\stockade");
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().context().find("does not exist"), std::string::npos);
}

}  // namespace
}  // namespace stockade::provision
