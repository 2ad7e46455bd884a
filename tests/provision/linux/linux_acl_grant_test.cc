// The workspace grant step on real trees: exact restore, protected paths, symlinks, the mask
// pitfall, ancestors, and access checked as the sandbox users themselves (root required).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "provision/linux/acl_grant_step.h"
#include "provision/linux/acl_tree.h"
#include "provision/linux/fs_at.h"
#include "provision/linux/residue.h"
#include "provision/linux/run_as.h"
#include "tests/provision/linux/linux_steps_test_support.h"

namespace stockade::provision::linux_os {
namespace {

using testing::AclAndModeSnapshot;
using testing::RunOut;
using testing::RunStatus;

void WriteFile(const std::string& path, mode_t mode, const std::string& text = "x\n") {
  int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, mode);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  ASSERT_EQ(chmod(path.c_str(), mode), 0);
}

void MakeDir(const std::string& path, mode_t mode = 0755) {
  ASSERT_EQ(mkdir(path.c_str(), mode), 0) << path;
  ASSERT_EQ(chmod(path.c_str(), mode), 0);
}

class LinuxAclGrantTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::IsRoot()) GTEST_SKIP() << "needs root";
    prefix_ = testing::UniquePrefix();
    lock_ = std::make_unique<testing::SystemStateLock>();
    cleanup_ = std::make_unique<testing::PrefixCleanup>(prefix_);
    identity_ = testing::IdentitySpecs(prefix_);
    for (const StepSpec& s : identity_) identity_before_.push_back(testing::ApplySpec(s));
    auto creds = CredentialsOfUser(prefix_ + "-offline");
    ASSERT_TRUE(creds.ok());
    offline_ = *creds;
    tmp_ = std::make_unique<testing::TempDir>("grant");
    ws_ = tmp_->path() + "/ws";
    outside_ = tmp_->path() + "/outside";
    BuildTree();
  }
  void TearDown() override {
    ForceXattrFallbackForTesting(false);
    SetTreeWalkThreads(0);
    tmp_.reset();  // files first: they may carry our ids
    cleanup_.reset();
    lock_.reset();
  }

  // A workspace with every case: plain files and folders, an executable, protected folders at
  // several depths, a submodule's .git file, pre-existing custom and default ACLs, a name that
  // is not UTF-8, a symlink leading outside, a fifo.
  void BuildTree() {
    MakeDir(ws_);
    MakeDir(outside_, 0777);
    WriteFile(outside_ + "/secret.txt", 0666);
    WriteFile(ws_ + "/README", 0644);
    WriteFile(ws_ + "/run.sh", 0755);
    WriteFile(ws_ + "/private.txt", 0600);
    MakeDir(ws_ + "/src");
    WriteFile(ws_ + "/src/a.c", 0644);
    WriteFile(ws_ + "/src/b.c", 0664);
    MakeDir(ws_ + "/src/deep");
    MakeDir(ws_ + "/src/deep/x", 0700);
    WriteFile(ws_ + "/src/deep/x/z.txt", 0640);
    MakeDir(ws_ + "/.git");
    WriteFile(ws_ + "/.git/config", 0644);
    MakeDir(ws_ + "/.git/objects");
    WriteFile(ws_ + "/.git/objects/ab", 0444);
    MakeDir(ws_ + "/sub");
    WriteFile(ws_ + "/sub/.git", 0644, "gitdir: ../.git/modules/sub\n");
    MakeDir(ws_ + "/docs");
    MakeDir(ws_ + "/docs/secret");
    WriteFile(ws_ + "/docs/secret/plan.txt", 0644);
    WriteFile(ws_ + "/custom.txt", 0640);
    ASSERT_EQ(RunStatus({"/usr/bin/setfacl", "-m", "u:65534:r--,g:65534:rw-", ws_ + "/custom.txt"}),
              0);
    MakeDir(ws_ + "/shared", 0750);
    ASSERT_EQ(RunStatus({"/usr/bin/setfacl", "-m", "u:65534:rwx,d:u:65534:r-x,d:g::rwx",
                         ws_ + "/shared"}),
              0);
    WriteFile(ws_ + "/shared/in.txt", 0644);
    WriteFile(ws_ + "/bad\xff name", 0644);
    ASSERT_EQ(RunStatus({"/usr/bin/setfacl", "-m", "u:65534:-w-", ws_ + "/bad\xff name"}), 0);
    ASSERT_EQ(symlink(outside_.c_str(), (ws_ + "/link-out").c_str()), 0);
    ASSERT_EQ(symlink((outside_ + "/secret.txt").c_str(), (ws_ + "/link-file").c_str()), 0);
    ASSERT_EQ(mkfifo((ws_ + "/fifo").c_str(), 0644), 0);
  }

  StepSpec Spec(const std::string& path, bool as_group = false) {
    nlohmann::json params = {{"path", path},
                             {"protected", {".git", ".codex", ".agents", "docs/secret"}}};
    if (as_group) {
      params["groups"] = {prefix_ + "-users"};
    } else {
      params["users"] = {prefix_ + "-offline", prefix_ + "-online"};
    }
    return {kind::kWorkspaceGrant, "workspace " + path, params};
  }

  std::unique_ptr<AclGrantStep> Make(const StepSpec& spec) {
    auto step = AclGrantStep::Create(spec);
    EXPECT_TRUE(step.ok()) << step.error().ToString();
    return std::unique_ptr<AclGrantStep>(static_cast<AclGrantStep*>(step->release()));
  }

  // What the offline user can do to `path`: "r", "w" (open for writing), "c" (create in dir).
  std::string Can(const std::string& path) {
    auto got = RunAs(offline_, [&]() {
      std::string out;
      int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
      if (fd >= 0) {
        out += "r";
        struct stat st;
        bool dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
        close(fd);
        if (dir) {
          std::string probe = path + "/.probe";
          fd = open(probe.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
          if (fd >= 0) {
            out += "c";
            close(fd);
            unlink(probe.c_str());
          }
          return out;
        }
      }
      fd = open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (fd >= 0) {
        out += "w";
        close(fd);
      }
      return out;
    });
    EXPECT_TRUE(got.ok()) << got.error().ToString();
    return got.ok() ? *got : "?";
  }

  std::string prefix_;
  std::unique_ptr<testing::SystemStateLock> lock_;
  std::unique_ptr<testing::PrefixCleanup> cleanup_;
  std::vector<StepSpec> identity_;
  std::vector<nlohmann::json> identity_before_;
  Credentials offline_;
  std::unique_ptr<testing::TempDir> tmp_;
  std::string ws_, outside_;
};

TEST_F(LinuxAclGrantTest, GrantThenRevokeRestoresGetfaclAndModesExactly) {
  const std::string before_snapshot = AclAndModeSnapshot(tmp_->path());
  EXPECT_EQ(Can(ws_ + "/src/a.c"), "r");
  auto step = Make(Spec(ws_));
  auto before = step->CaptureBefore();
  ASSERT_TRUE(before.ok()) << before.error().ToString();
  EXPECT_EQ(AclAndModeSnapshot(tmp_->path()), before_snapshot) << "CaptureBefore changed something";
  nlohmann::json journaled = nlohmann::json::parse(before->dump());  // as the journal stores it

  // Only the nodes whose ACL was not minimal are journaled, with libacl's text.
  std::map<std::string, nlohmann::json> prior;
  for (const auto& p : journaled["prior"]) prior[p["path"].get<std::string>()] = p;
  EXPECT_EQ(prior.size(), 4u) << journaled["prior"].dump();
  // shared/in.txt inherited shared's default ACL when it was created.
  ASSERT_TRUE(prior.count("shared/in.txt"));
  EXPECT_EQ(prior["shared/in.txt"]["access"], "u::rw-,u:65534:r-x,g::rwx,m::r--,o::r--");
  ASSERT_TRUE(prior.count("custom.txt"));
  EXPECT_EQ(prior["custom.txt"]["access"], "u::rw-,u:65534:r--,g::r--,g:65534:rw-,m::rw-,o::---");
  EXPECT_TRUE(prior["custom.txt"]["default"].is_null());
  ASSERT_TRUE(prior.count("shared"));
  EXPECT_EQ(prior["shared"]["default"], "u::rwx,u:65534:r-x,g::rwx,m::rwx,o::---");
  EXPECT_TRUE(prior.count("bad%FF name"));
  EXPECT_EQ(journaled["others_minimal"], true);
  EXPECT_TRUE(journaled["ancestors"].empty());

  ASSERT_TRUE(step->Apply().ok());
  const TreeStats stats = step->last_stats();
  EXPECT_EQ(stats.skipped_links, 2u);
  EXPECT_EQ(stats.skipped_special, 1u);
  EXPECT_GT(stats.acl_writes, 0u);
  Status verified = step->Verify();
  ASSERT_TRUE(verified.ok()) << verified.error().ToString();
  auto applied = step->IsApplied();
  ASSERT_TRUE(applied.ok());
  EXPECT_TRUE(*applied);

  // As the sandbox user: the workspace is writable, protected paths are read-only.
  EXPECT_EQ(Can(ws_ + "/src/a.c"), "rw");
  EXPECT_EQ(Can(ws_ + "/private.txt"), "rw");
  EXPECT_EQ(Can(ws_ + "/src/deep/x/z.txt"), "rw");
  EXPECT_EQ(Can(ws_ + "/src/deep/x"), "rc");
  EXPECT_EQ(Can(ws_ + "/custom.txt"), "rw");
  EXPECT_EQ(Can(ws_ + "/.git/config"), "r");
  EXPECT_EQ(Can(ws_ + "/.git/objects"), "r");
  EXPECT_EQ(Can(ws_ + "/.git"), "r");
  EXPECT_EQ(Can(ws_ + "/sub/.git"), "r");
  EXPECT_EQ(Can(ws_ + "/docs/secret/plan.txt"), "r");
  EXPECT_EQ(Can(ws_ + "/docs"), "rc");
  // Nothing reached through the symlinks, the fifo untouched.
  EXPECT_EQ(
      RunOut({"/usr/bin/getfacl", "-n", "-p", outside_}).find("u:" + std::to_string(offline_.uid)),
      std::string::npos);
  std::string fifo_acl = RunOut({"/usr/bin/getfacl", "-n", "-p", ws_ + "/fifo"});
  EXPECT_EQ(fifo_acl.find("user:" + std::to_string(offline_.uid)), std::string::npos);

  ASSERT_TRUE(step->Undo(journaled).ok());
  Status undone = step->VerifyUndone(journaled);
  EXPECT_TRUE(undone.ok()) << undone.error().ToString();
  EXPECT_EQ(AclAndModeSnapshot(tmp_->path()), before_snapshot);
  EXPECT_EQ(Can(ws_ + "/src/a.c"), "r");
  // Undo is idempotent.
  ASSERT_TRUE(step->Undo(journaled).ok());
  EXPECT_EQ(AclAndModeSnapshot(tmp_->path()), before_snapshot);
}

TEST_F(LinuxAclGrantTest, GroupPrincipalGrantsBothIdentities) {
  const std::string before_snapshot = AclAndModeSnapshot(tmp_->path());
  auto step = Make(Spec(ws_, /*as_group=*/true));
  auto before = step->CaptureBefore();
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(step->Apply().ok());
  ASSERT_TRUE(step->Verify().ok());
  EXPECT_NE(RunOut({"/usr/bin/getfacl", "-n", "-p", ws_ + "/README"})
                .find("group:" + std::to_string(offline_.gid) + ":rw-"),
            std::string::npos);
  EXPECT_EQ(Can(ws_ + "/README"), "rw");
  EXPECT_EQ(Can(ws_ + "/.git/config"), "r");
  ASSERT_TRUE(step->Undo(*before).ok());
  ASSERT_TRUE(step->VerifyUndone(*before).ok());
  EXPECT_EQ(AclAndModeSnapshot(tmp_->path()), before_snapshot);
}

TEST_F(LinuxAclGrantTest, ReApplyWritesNothingAndEveryWalkModeBehavesTheSame) {
  nlohmann::json journal_;
  struct Mode {
    const char* name;
    bool fallback;
    int threads;
  };
  for (Mode mode : {Mode{"*xattrat, threads", false, 0}, Mode{"/proc/self/fd fallback", true, 3},
                    Mode{"single-threaded", false, 1}}) {
    SCOPED_TRACE(mode.name);
    ForceXattrFallbackForTesting(mode.fallback);
    SetTreeWalkThreads(mode.threads);
    const std::string before_snapshot = AclAndModeSnapshot(tmp_->path());
    auto step = Make(Spec(ws_));
    auto before = step->CaptureBefore();
    ASSERT_TRUE(before.ok());
    // The journal is the same whichever way the tree was walked.
    if (journal_.is_null()) journal_ = (*before)["prior"];
    EXPECT_EQ((*before)["prior"], journal_);
    ASSERT_TRUE(step->Apply().ok());
    std::uint64_t first_writes = step->last_stats().acl_writes;
    EXPECT_GT(first_writes, 0u);
    const std::string granted = AclAndModeSnapshot(tmp_->path());
    ASSERT_TRUE(step->Apply().ok());
    EXPECT_EQ(step->last_stats().acl_writes, 0u) << "a re-run must not rewrite what is in place";
    EXPECT_EQ(AclAndModeSnapshot(tmp_->path()), granted);
    EXPECT_EQ(Can(ws_ + "/src/b.c"), "rw");
    ASSERT_TRUE(step->Undo(*before).ok());
    ASSERT_TRUE(step->VerifyUndone(*before).ok());
    EXPECT_EQ(AclAndModeSnapshot(tmp_->path()), before_snapshot);
  }
}

TEST_F(LinuxAclGrantTest, ChmodOfGroupBitsLowersTheMaskAndVerifyReportsIt) {
  const std::string before_snapshot = AclAndModeSnapshot(tmp_->path());
  auto step = Make(Spec(ws_));
  auto before = step->CaptureBefore();
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(step->Apply().ok());
  ASSERT_TRUE(step->Verify().ok());
  ASSERT_EQ(chmod((ws_ + "/src/a.c").c_str(), 0644), 0);  // g-w: the mask becomes r--
  EXPECT_EQ(Can(ws_ + "/src/a.c"), "r") << "the kernel really removed the write grant";
  Status drift = step->Verify();
  ASSERT_FALSE(drift.ok());
  EXPECT_EQ(drift.error().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(drift.error().context().find("src/a.c"), std::string::npos) << drift.error().context();
  EXPECT_NE(drift.error().context().find("mask r--"), std::string::npos) << drift.error().context();
  auto applied = step->IsApplied();
  ASSERT_TRUE(applied.ok());
  EXPECT_FALSE(*applied);

  // Other drift: a default ACL removed, an entry deleted.
  ASSERT_EQ(RunStatus({"/usr/bin/setfacl", "-k", ws_ + "/src"}), 0);
  ASSERT_EQ(
      RunStatus({"/usr/bin/setfacl", "-x", "u:" + std::to_string(offline_.uid), ws_ + "/README"}),
      0);
  drift = step->Verify();
  ASSERT_FALSE(drift.ok());
  EXPECT_NE(drift.error().context().find("3 node(s)"), std::string::npos)
      << drift.error().context();

  // Repair = Apply again; then revoke still restores the original exactly.
  ASSERT_TRUE(step->Apply().ok());
  EXPECT_EQ(step->last_stats().acl_writes, 3u);
  ASSERT_TRUE(step->Verify().ok());
  EXPECT_EQ(Can(ws_ + "/src/a.c"), "rw");
  ASSERT_TRUE(step->Undo(*before).ok());
  ASSERT_TRUE(step->VerifyUndone(*before).ok());
  EXPECT_EQ(AclAndModeSnapshot(tmp_->path()), before_snapshot);
}

TEST_F(LinuxAclGrantTest, SearchPermissionIsAddedOnAncestorsAndPutBack) {
  const std::string priv = tmp_->path() + "/private";
  MakeDir(priv, 0700);
  MakeDir(priv + "/home", 0750);
  MakeDir(priv + "/home/ws");
  WriteFile(priv + "/home/ws/f.txt", 0644);
  const std::string before_snapshot = AclAndModeSnapshot(tmp_->path());
  EXPECT_EQ(Can(priv + "/home/ws/f.txt"), "");
  auto step = Make(Spec(priv + "/home/ws"));
  auto before = step->CaptureBefore();
  ASSERT_TRUE(before.ok());
  ASSERT_EQ((*before)["ancestors"].size(), 2u) << before->dump();
  EXPECT_EQ((*before)["ancestors"][0]["path"], priv);
  EXPECT_EQ((*before)["ancestors"][0]["acl"], "u::rwx,g::---,o::---");
  ASSERT_TRUE(step->Apply().ok());
  ASSERT_TRUE(step->Verify().ok());
  EXPECT_EQ(Can(priv + "/home/ws/f.txt"), "rw");
  EXPECT_EQ(Can(priv), "") << "search only: the ancestor cannot be listed";
  // Drift on an ancestor.
  ASSERT_EQ(RunStatus({"/usr/bin/setfacl", "-b", priv}), 0);
  Status drift = step->Verify();
  ASSERT_FALSE(drift.ok());
  EXPECT_NE(drift.error().context().find("cannot search (x) " + priv), std::string::npos)
      << drift.error().context();
  ASSERT_TRUE(step->Apply().ok());
  ASSERT_TRUE(step->Undo(*before).ok());
  ASSERT_TRUE(step->VerifyUndone(*before).ok());
  EXPECT_EQ(AclAndModeSnapshot(tmp_->path()), before_snapshot);
}

TEST_F(LinuxAclGrantTest, FilesCreatedAfterTheGrantInheritItAndLoseItOnRevoke) {
  auto step = Make(Spec(ws_));
  auto before = step->CaptureBefore();
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(step->Apply().ok());
  const std::string made = ws_ + "/src/made-by-sandbox.txt";
  const std::string made_dir = ws_ + "/src/newdir";
  auto created = RunAs(offline_, [&]() {
    int fd = open(made.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
    if (fd < 0) return std::string("create failed");
    close(fd);
    if (mkdir(made_dir.c_str(), 0777) != 0) return std::string("mkdir failed");
    return std::string();
  });
  ASSERT_TRUE(created.ok());
  ASSERT_EQ(*created, "");
  WriteFile(ws_ + "/src/made-by-root.txt", 0666);
  // Inherited: the online identity can write what the offline one created.
  std::string acl = RunOut({"/usr/bin/getfacl", "-n", "-p", made});
  auto online = CredentialsOfUser(prefix_ + "-online");
  ASSERT_TRUE(online.ok());
  EXPECT_NE(acl.find("user:" + std::to_string(online->uid) + ":rwx"), std::string::npos) << acl;
  ASSERT_TRUE(step->Verify().ok());

  ASSERT_TRUE(step->Undo(*before).ok());
  ASSERT_TRUE(step->VerifyUndone(*before).ok());
  std::string all = RunOut({"/usr/bin/getfacl", "-R", "-n", "-p", ws_});
  for (uid_t id : {offline_.uid, online->uid}) {
    EXPECT_EQ(all.find("user:" + std::to_string(id) + ":"), std::string::npos) << all;
  }
  // Files the sandbox created are still owned by its uid: the residue scan reports them.
  ResidueQuery q;
  q.prefix = prefix_;
  q.paths = {ws_};
  auto found = ScanResidue(q);
  ASSERT_TRUE(found.ok()) << found.error().ToString();
  int owned = 0;
  for (const ResidueFinding& f : *found) {
    if (f.kind == "owned_file") ++owned;
    EXPECT_NE(f.kind, "acl_entry") << f.subject << ": " << f.detail;
  }
  EXPECT_EQ(owned, 2);
}

TEST_F(LinuxAclGrantTest, UndoAfterAHalfFinishedApplyRestoresEverything) {
  const std::string before_snapshot = AclAndModeSnapshot(tmp_->path());
  auto step = Make(Spec(ws_));
  auto before = step->CaptureBefore();
  ASSERT_TRUE(before.ok());
  // As if the process died half-way: only part of the tree granted.
  {
    GrantRules rules;
    rules.principals = {{false, offline_.uid}};
    UniqueFd src(open((ws_ + "/src").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    TreeStats stats;
    ASSERT_TRUE(GrantAclTree(src.get(), rules, &stats).ok());
    EXPECT_GT(stats.acl_writes, 0u);
  }
  EXPECT_NE(AclAndModeSnapshot(tmp_->path()), before_snapshot);
  ASSERT_TRUE(step->Undo(*before).ok());
  ASSERT_TRUE(step->VerifyUndone(*before).ok());
  EXPECT_EQ(AclAndModeSnapshot(tmp_->path()), before_snapshot);
  // And Undo with nothing applied at all changes nothing.
  ASSERT_TRUE(step->Undo(*before).ok());
  EXPECT_EQ(AclAndModeSnapshot(tmp_->path()), before_snapshot);
}

TEST_F(LinuxAclGrantTest, SymlinksInThePathAreRefusedAndNothingChanges) {
  const std::string link = tmp_->path() + "/ws-link";
  ASSERT_EQ(symlink(ws_.c_str(), link.c_str()), 0);
  const std::string before_snapshot = AclAndModeSnapshot(tmp_->path());
  for (const std::string& path : {link, link + "/src"}) {
    auto step = Make(Spec(path));
    auto before = step->CaptureBefore();
    ASSERT_FALSE(before.ok());
    EXPECT_EQ(before.error().code(), ErrorCode::kPathInvalid);
    EXPECT_NE(before.error().context().find("symbolic link"), std::string::npos)
        << before.error().context();
    Status applied = step->Apply();
    ASSERT_FALSE(applied.ok());
    EXPECT_EQ(applied.error().code(), ErrorCode::kPathInvalid);
  }
  EXPECT_EQ(AclAndModeSnapshot(tmp_->path()), before_snapshot);
  EXPECT_FALSE(
      AclGrantStep::Create({kind::kWorkspaceGrant, "/", {{"path", "/"}, {"users", {"x"}}}}).ok());
  EXPECT_FALSE(
      AclGrantStep::Create({kind::kWorkspaceGrant, "w", {{"path", "rel/ative"}, {"users", {"x"}}}})
          .ok());
  EXPECT_FALSE(AclGrantStep::Create({kind::kWorkspaceGrant, "w", {{"path", ws_}}}).ok());
  EXPECT_FALSE(
      AclGrantStep::Create({kind::kWorkspaceGrant,
                            "w",
                            {{"path", ws_}, {"users", {"x"}}, {"protected", {"{workspace}/.git"}}}})
          .ok());
}

// A hostile tree: while grants and revokes walk it, a directory is swapped for a symlink to a
// folder outside the workspace, again and again. Nothing outside may ever be touched.
TEST_F(LinuxAclGrantTest, ADirectorySwappedForASymlinkMidWalkIsNeverFollowed) {
  const std::string race = ws_ + "/race";
  MakeDir(race);
  for (int i = 0; i < 200; ++i) WriteFile(race + "/f" + std::to_string(i), 0644);
  // Many siblings: the walk reads a directory in batches and then works through them, so the
  // entry "race" is seen as a directory well before it is opened, which is the window a
  // path-following walker would lose in.
  for (int i = 0; i < 3000; ++i) WriteFile(ws_ + "/n" + std::to_string(i), 0644);
  MakeDir(outside_ + "/inner");
  for (int i = 0; i < 50; ++i) WriteFile(outside_ + "/inner/g" + std::to_string(i), 0644);
  const std::string outside_before = AclAndModeSnapshot(outside_);
  std::atomic<bool> stop{false};
  std::atomic<int> swaps{0};
  std::thread swapper([&]() {
    const std::string parked = ws_ + "/race.parked";
    while (!stop.load()) {
      if (rename(race.c_str(), parked.c_str()) != 0) continue;
      (void)!symlink(outside_.c_str(), race.c_str());
      usleep(200);
      unlink(race.c_str());
      rename(parked.c_str(), race.c_str());
      ++swaps;
      usleep(100);
    }
  });
  auto step = Make(Spec(ws_));
  for (int round = 0; round < 10; ++round) {
    auto before = step->CaptureBefore();
    if (!before.ok()) continue;  // a walk may fail when a folder vanishes mid-read
    (void)step->Apply();
    // Checked after every grant, not only at the end: a revoke that followed the link too
    // would otherwise hide what the grant did.
    UniqueFd out(open(outside_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    TreeStats stats;
    auto leaked = FindAclEntries(out.get(), {offline_.uid}, {}, false, 10, &stats);
    ASSERT_TRUE(leaked.ok());
    EXPECT_TRUE(leaked->empty()) << "round " << round << ": the grant reached "
                                 << (leaked->empty() ? "" : leaked->front().relpath);
    (void)step->Undo(*before);
  }
  stop = true;
  swapper.join();
  EXPECT_GT(swaps.load(), 10);
  EXPECT_EQ(AclAndModeSnapshot(outside_), outside_before) << "a walk followed the symlink";
  struct stat st;
  ASSERT_EQ(lstat(race.c_str(), &st), 0);
  ASSERT_TRUE(S_ISDIR(st.st_mode));
}

TEST_F(LinuxAclGrantTest, MissingUsersMeanNotAppliedRatherThanAnError) {
  StepSpec spec = Spec(ws_);
  spec.params["users"] = {prefix_ + "-nosuchuser"};
  auto step = Make(spec);
  auto applied = step->IsApplied();
  ASSERT_TRUE(applied.ok()) << applied.error().ToString();
  EXPECT_FALSE(*applied);
  auto before = step->CaptureBefore();
  ASSERT_FALSE(before.ok());
  EXPECT_EQ(before.error().code(), ErrorCode::kNotFound);
  auto present = step->TargetPresent();
  ASSERT_TRUE(present.ok());
  EXPECT_FALSE(*present);
}

}  // namespace
}  // namespace stockade::provision::linux_os
