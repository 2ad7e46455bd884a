// The refusal rules for workspace grants, on facts as each OS would report them.
#include "provision/workspace/workspace_check.h"

#include <gtest/gtest.h>

namespace stockade::provision {
namespace {

using paths::PathStyle;

WorkspaceFacts PosixDir(const std::string& path) {
  WorkspaceFacts facts;
  facts.requested = path;
  facts.resolved = path;
  facts.exists = true;
  facts.is_directory = true;
  facts.system_folders = {"/etc", "/usr", "/var/lib"};
  facts.shared_folders = {"/home", "/home/alice", "/tmp"};
  return facts;
}

WorkspaceFacts WindowsDir(const std::string& path) {
  WorkspaceFacts facts;
  facts.requested = path;
  facts.resolved = path;
  facts.exists = true;
  facts.is_directory = true;
  facts.system_folders = {"C:\\Windows", "C:\\Program Files", "C:\\ProgramData"};
  facts.shared_folders = {"C:\\Users", "C:\\Users\\Alice"};
  return facts;
}

std::string Refusal(const WorkspaceFacts& facts, PathStyle style) {
  Status status = CheckWorkspaceAllowed(facts, style);
  if (status.ok()) return "";
  EXPECT_EQ(status.error().code(), ErrorCode::kPathInvalid);
  return status.error().context();
}

TEST(WorkspaceCheck, AllowsProjectFoldersInsideSharedFolders) {
  EXPECT_EQ(Refusal(PosixDir("/home/alice/src/app"), PathStyle::kPosix), "");
  EXPECT_EQ(Refusal(PosixDir("/tmp/ws"), PathStyle::kPosix), "");
  EXPECT_EQ(Refusal(WindowsDir("C:\\Users\\Alice\\src\\app"), PathStyle::kWindows), "");
  EXPECT_EQ(Refusal(WindowsDir("D:\\work\\app"), PathStyle::kWindows), "");
}

TEST(WorkspaceCheck, RefusesMissingAndNonDirectories) {
  auto missing = PosixDir("/srv/nothing");
  missing.exists = false;
  EXPECT_NE(Refusal(missing, PathStyle::kPosix).find("does not exist"), std::string::npos);
  auto file = PosixDir("/srv/file.txt");
  file.is_directory = false;
  EXPECT_NE(Refusal(file, PathStyle::kPosix).find("not a directory"), std::string::npos);
}

TEST(WorkspaceCheck, RefusesLinksAnywhereOnThePath) {
  auto facts = PosixDir("/home/alice/link/app");
  facts.link_component = "/home/alice/link";
  facts.resolved = "/etc/app";
  std::string why = Refusal(facts, PathStyle::kPosix);
  EXPECT_NE(why.find("/home/alice/link is a symbolic link or junction"), std::string::npos) << why;
  auto junction = WindowsDir("C:\\Users\\Alice\\j");
  junction.link_component = "C:\\Users\\Alice\\j";
  EXPECT_NE(Refusal(junction, PathStyle::kWindows).find("junction"), std::string::npos);
}

TEST(WorkspaceCheck, RefusesFilesystemAndDriveRoots) {
  auto root = PosixDir("/");
  root.is_filesystem_root = true;
  EXPECT_NE(Refusal(root, PathStyle::kPosix).find("root of a filesystem"), std::string::npos);
  auto drive = WindowsDir("D:\\");
  drive.is_filesystem_root = true;
  EXPECT_NE(Refusal(drive, PathStyle::kWindows).find("root of a filesystem or drive"),
            std::string::npos);
}

TEST(WorkspaceCheck, RefusesInsideOrAboveSystemFolders) {
  EXPECT_NE(Refusal(PosixDir("/etc/nginx"), PathStyle::kPosix).find("inside the system folder /etc"),
            std::string::npos);
  EXPECT_NE(Refusal(PosixDir("/var"), PathStyle::kPosix).find("contains the system folder /var/lib"),
            std::string::npos);
  // Case-insensitive on Windows: "c:\windows\temp" is inside "C:\Windows".
  EXPECT_NE(Refusal(WindowsDir("C:\\WINDOWS\\Temp"), PathStyle::kWindows).find("system folder"),
            std::string::npos);
  EXPECT_NE(Refusal(WindowsDir("C:\\Program Files\\App"), PathStyle::kWindows).find("system"),
            std::string::npos);
}

TEST(WorkspaceCheck, RefusesWholeProfilesAndSharedFolders) {
  EXPECT_NE(Refusal(PosixDir("/home/alice"), PathStyle::kPosix).find("/home/alice"),
            std::string::npos);
  EXPECT_NE(Refusal(PosixDir("/home"), PathStyle::kPosix).find("/home"), std::string::npos);
  EXPECT_NE(Refusal(PosixDir("/tmp"), PathStyle::kPosix).find("/tmp"), std::string::npos);
  EXPECT_NE(Refusal(WindowsDir("c:\\users\\alice"), PathStyle::kWindows).find("profile"),
            std::string::npos);
  // A prefix that is not a parent is not a profile: /home/alice2 is fine.
  EXPECT_EQ(Refusal(PosixDir("/home/alice2/app"), PathStyle::kPosix), "");
}

}  // namespace
}  // namespace stockade::provision
