// What the tree may write and read: writable roots, protected subpaths, deny-read paths. Each
// denial is checked against a positive control (the same probe, same user, no sandbox) so that a
// test cannot pass because the operation was impossible anyway.
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>

#include "tests/runner/linux/runner_test_support.h"

namespace stockade::runner::testing {
namespace {

using FilesystemTest = RunnerTest;

TEST_F(FilesystemTest, WriteInsideTheWritableRootWorks) {
  const std::string file = ws_ + "/made-inside.txt";
  const ProbeResult r = Run(ProbeSpec({"write", file, "hello from the tree"}));
  EXPECT_EQ(r.status.code, 0) << r.out;
  EXPECT_EQ(ReadFileOrEmpty(file), "hello from the tree");
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, user_.uid) << "the file must be created by the sandbox identity";
}

TEST_F(FilesystemTest, WriteOutsideTheRootsIsDeniedEvenWhereFilePermissionsAllowIt) {
  const std::string file = outside_ + "/escaped.txt";
  // Control: the folder is world-writable, so without the sandbox the same user can write.
  const ProbeResult control = RunUnconfined({"write", file, "x"}, user_.uid, user_.gid);
  ASSERT_EQ(control.status.code, 0) << control.out;
  ASSERT_TRUE(std::filesystem::remove(file));

  const ProbeResult r = Run(ProbeSpec({"write", file, "x"}));
  EXPECT_EQ(r.status.code, 1) << r.out;
  EXPECT_EQ(ErrnoIn(r.out), EACCES) << r.out;
  EXPECT_FALSE(std::filesystem::exists(file));

  const ProbeResult mk = Run(ProbeSpec({"mkdir", outside_ + "/dir"}));
  EXPECT_EQ(ErrnoIn(mk.out), EACCES) << mk.out;
  EXPECT_FALSE(std::filesystem::exists(outside_ + "/dir"));
  // /tmp itself is not a writable root here either.
  const ProbeResult tmp = Run(ProbeSpec({"write", base_ + "/../strun-escape-" + user_.name, "x"}));
  EXPECT_NE(tmp.status.code, 0) << tmp.out;
}

TEST_F(FilesystemTest, ProtectedGitIsReadOnlyInsideTheWritableRoot) {
  const std::string config = ws_ + "/.git/config";
  // Control: the sandbox user owns .git, so only the read-only mount can stop it.
  const ProbeResult control =
      RunUnconfined({"write", ws_ + "/.git/control", "x"}, user_.uid, user_.gid);
  ASSERT_EQ(control.status.code, 0) << control.out;
  std::filesystem::remove(ws_ + "/.git/control");

  const ProbeResult write = Run(ProbeSpec({"write", config, "overwritten"}));
  EXPECT_EQ(ErrnoIn(write.out), EROFS) << write.out;
  EXPECT_EQ(ReadFileOrEmpty(config), "[core]\n");

  const ProbeResult mk = Run(ProbeSpec({"mkdir", ws_ + "/.git/hooks"}));
  EXPECT_EQ(ErrnoIn(mk.out), EROFS) << mk.out;
  EXPECT_FALSE(std::filesystem::exists(ws_ + "/.git/hooks"));

  // Renaming the protected folder away (to write a fresh .git) fails: it is a mount point.
  const ProbeResult mv = Run(ProbeSpec({"rename", ws_ + "/.git", ws_ + "/git-moved"}));
  EXPECT_EQ(ErrnoIn(mv.out), EBUSY) << mv.out;
  EXPECT_TRUE(std::filesystem::is_directory(ws_ + "/.git"));

  const ProbeResult read = Run(ProbeSpec({"read", config}));
  EXPECT_EQ(read.status.code, 0) << read.out;
  EXPECT_NE(read.out.find("[core]"), std::string::npos) << read.out;

  // The rest of the workspace stays writable.
  const ProbeResult other = Run(ProbeSpec({"write", ws_ + "/src.txt", "ok"}));
  EXPECT_EQ(other.status.code, 0) << other.out;
}

TEST_F(FilesystemTest, DenyReadFolderAndFileAreUnreadable) {
  const ProbeResult control_dir =
      RunUnconfined({"read", secret_dir_ + "/key"}, user_.uid, user_.gid);
  ASSERT_NE(control_dir.out.find("TOPSECRET"), std::string::npos) << control_dir.out;
  const ProbeResult control_file = RunUnconfined({"read", secret_file_}, user_.uid, user_.gid);
  ASSERT_NE(control_file.out.find("FILESECRET"), std::string::npos) << control_file.out;

  const ProbeResult dir = Run(ProbeSpec({"read", secret_dir_ + "/key"}));
  EXPECT_EQ(dir.status.code, 1) << dir.out;
  EXPECT_EQ(ErrnoIn(dir.out), EACCES) << dir.out;
  EXPECT_EQ(dir.out.find("TOPSECRET"), std::string::npos);

  const ProbeResult file = Run(ProbeSpec({"read", secret_file_}));
  EXPECT_EQ(file.status.code, 1) << file.out;
  EXPECT_EQ(ErrnoIn(file.out), EACCES) << file.out;
  EXPECT_EQ(file.out.find("FILESECRET"), std::string::npos);

  // Nothing leaked into the launcher's own namespace: the files are intact and visible here.
  EXPECT_EQ(ReadFileOrEmpty(secret_dir_ + "/key"), "TOPSECRET");
  EXPECT_EQ(ReadFileOrEmpty(secret_file_), "FILESECRET");
}

TEST_F(FilesystemTest, DenyReadThroughASymlinkHidesTheTarget) {
  const std::string link = ws_ + "/link-to-secret";
  std::filesystem::create_directory_symlink(secret_dir_, link);
  LaunchSpec spec = ProbeSpec({"read", link + "/key"});
  spec.deny_read = {link};  // the policy names the link; its target is what must disappear
  const ProbeResult r = Run(spec);
  EXPECT_EQ(ErrnoIn(r.out), EACCES) << r.out;
  const ProbeResult direct = Run(ProbeSpec({"read", secret_dir_ + "/key"}));
  EXPECT_EQ(ErrnoIn(direct.out), EACCES) << direct.out;
}

TEST_F(FilesystemTest, MissingProtectedAndDenyReadPathsAreSkipped) {
  LaunchSpec spec = ProbeSpec({"write", ws_ + "/ok.txt", "fine"});
  spec.protected_paths = {".git", ".codex", ".agents", ws_ + "/absent"};
  spec.deny_read = {base_ + "/no-such-dir", secret_file_};
  const ProbeResult r = Run(spec);
  EXPECT_EQ(r.status.code, 0) << r.out;
  EXPECT_EQ(ReadFileOrEmpty(ws_ + "/ok.txt"), "fine");
}

}  // namespace
}  // namespace stockade::runner::testing
