// GatherWorkspaceFacts against the real filesystem and account database.
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <gtest/gtest.h>

#include "provision/workspace/workspace_check.h"

namespace stockade::provision {
namespace {

namespace fs = std::filesystem;

class WorkspaceFactsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/stockade-ws-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  Status Check(const std::string& path) {
    auto facts = GatherWorkspaceFacts(path);
    if (!facts.ok()) return facts.error();
    return CheckWorkspaceAllowed(*facts, paths::PathStyle::kPosix);
  }

  fs::path dir_;
};

TEST_F(WorkspaceFactsTest, PlainProjectFolderIsAllowed) {
  fs::create_directories(dir_ / "project");
  Status status = Check((dir_ / "project").string());
  EXPECT_TRUE(status.ok()) << status.error().ToString();
}

TEST_F(WorkspaceFactsTest, SymlinkToAFolderIsRefusedNamingTheLink) {
  fs::create_directories(dir_ / "real");
  fs::create_directory_symlink(dir_ / "real", dir_ / "link");
  Status status = Check((dir_ / "link").string());
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().context().find((dir_ / "link").string() + " is a symbolic link"),
            std::string::npos)
      << status.error().context();
}

TEST_F(WorkspaceFactsTest, SymlinkedAncestorIsRefused) {
  fs::create_directories(dir_ / "real" / "app");
  fs::create_directory_symlink(dir_ / "real", dir_ / "alias");
  Status status = Check((dir_ / "alias" / "app").string());
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().context().find("alias is a symbolic link"), std::string::npos);
}

TEST_F(WorkspaceFactsTest, RegularFileIsRefused) {
  std::FILE* f = std::fopen((dir_ / "file").c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  Status status = Check((dir_ / "file").string());
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().context().find("not a directory"), std::string::npos);
}

TEST_F(WorkspaceFactsTest, MissingFolderIsRefused) {
  Status status = Check((dir_ / "absent").string());
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().context().find("does not exist"), std::string::npos);
}

TEST_F(WorkspaceFactsTest, SystemFoldersRootsAndHomesAreRefused) {
  for (const char* path : {"/", "/etc", "/usr/lib", "/tmp", "/root", "/var"}) {
    Status status = Check(path);
    EXPECT_FALSE(status.ok()) << path << " was allowed";
  }
  auto root = GatherWorkspaceFacts("/");
  ASSERT_TRUE(root.ok());
  EXPECT_TRUE(root->is_filesystem_root);
}

TEST_F(WorkspaceFactsTest, ProcIsAFilesystemRoot) {
  auto facts = GatherWorkspaceFacts("/proc");
  ASSERT_TRUE(facts.ok());
  EXPECT_TRUE(facts->is_filesystem_root);  // a separate mount: st_dev differs from "/"
}

}  // namespace
}  // namespace stockade::provision
