// The residue scan finds each kind of leftover, and nothing once everything is undone.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "provision/linux/residue.h"
#include "tests/provision/linux/linux_steps_test_support.h"

namespace stockade::provision::linux_os {
namespace {

TEST(LinuxResidueTest, FindsAccountsTableAndAclEntriesThenNothingAfterUndo) {
  if (!testing::IsRoot()) GTEST_SKIP() << "needs root";
  const std::string prefix = testing::UniquePrefix();
  testing::SystemStateLock lock;
  testing::PrefixCleanup cleanup(prefix);
  testing::TempDir tmp("residue");
  const std::string ws = tmp.path() + "/ws";
  ASSERT_EQ(mkdir(ws.c_str(), 0755), 0);
  close(open((ws + "/f").c_str(), O_CREAT | O_WRONLY, 0644));

  std::vector<StepSpec> specs = testing::IdentitySpecs(prefix);
  specs.push_back({kind::kNetworkRules,
                   "net",
                   {{"prefix", prefix}, {"user", prefix + "-offline"}, {"nflog_group", 7}}});
  specs.push_back({kind::kWorkspaceGrant,
                   "ws",
                   {{"path", ws}, {"users", {prefix + "-offline"}}, {"protected", {".git"}}}});
  std::vector<nlohmann::json> befores;
  for (const StepSpec& s : specs) befores.push_back(testing::ApplySpec(s));
  const uid_t uid = static_cast<uid_t>(testing::UidOf(prefix + "-offline"));

  ResidueQuery q;
  q.prefix = prefix;
  q.paths = {ws};
  auto found = ScanResidue(q);
  ASSERT_TRUE(found.ok()) << found.error().ToString();
  std::multiset<std::string> kinds;
  for (const ResidueFinding& f : *found) kinds.insert(f.kind);
  EXPECT_EQ(kinds.count("user"), 2u);
  EXPECT_EQ(kinds.count("group"), 1u);
  EXPECT_EQ(kinds.count("shadow"), 2u);
  EXPECT_EQ(kinds.count("gshadow"), 1u);
  EXPECT_EQ(kinds.count("nft_table"), 1u);
  EXPECT_EQ(kinds.count("acl_entry"), 3u) << "ws access + default, f access";

  // Our ACL entries must go before the accounts (a deleted uid in an ACL is inherited by the
  // next account that gets it): undo in reverse order, then scan with the journaled ids.
  for (size_t i = specs.size(); i-- > 0;) testing::UndoSpec(specs[i], befores[i]);
  q.uids = {uid};
  found = ScanResidue(q);
  ASSERT_TRUE(found.ok()) << found.error().ToString();
  for (const ResidueFinding& f : *found)
    ADD_FAILURE() << f.kind << " " << f.subject << ": " << f.detail;

  // A leftover entry naming a journaled uid is found even though its account is gone.
  ASSERT_EQ(
      testing::RunStatus({"/usr/bin/setfacl", "-m", "u:" + std::to_string(uid) + ":rw", ws + "/f"}),
      0);
  found = ScanResidue(q);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].kind, "acl_entry");
  EXPECT_EQ((*found)[0].subject, ws + "/f");
}

// A process still running as a journaled uid and a cgroup folder of the runner are residue; once
// the process is gone and the folder removed, the scan is clean again.
TEST(LinuxResidueTest, FindsLiveProcessOfOurUidAndOurCgroupFolder) {
  if (!testing::IsRoot()) GTEST_SKIP() << "needs root";
  const std::string prefix = testing::UniquePrefix();
  // A uid no account has: the scan compares numbers (the account may already be deleted).
  const uid_t uid = 1900000000u + static_cast<uid_t>(getpid() % 100000);
  const std::string cgroup_name = prefix + "-cg";
  // A real cgroup: the first hierarchy mounted under /sys/fs/cgroup that accepts a folder.
  std::string cgroup_dir;
  for (const auto& top : std::filesystem::directory_iterator("/sys/fs/cgroup")) {
    if (!top.is_directory()) continue;
    const std::string dir = top.path().string() + "/" + cgroup_name;
    if (mkdir(dir.c_str(), 0755) == 0) {
      cgroup_dir = dir;
      break;
    }
  }
  if (cgroup_dir.empty() && mkdir(("/sys/fs/cgroup/" + cgroup_name).c_str(), 0755) == 0) {
    cgroup_dir = "/sys/fs/cgroup/" + cgroup_name;
  }
  ASSERT_FALSE(cgroup_dir.empty()) << "no cgroup hierarchy accepted a folder";

  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(ready[0]);
    if (setresgid(uid, uid, uid) != 0 || setresuid(uid, uid, uid) != 0) _exit(1);
    (void)!write(ready[1], "x", 1);
    pause();
    _exit(0);
  }
  close(ready[1]);
  char byte = 0;
  const bool started = read(ready[0], &byte, 1) == 1;
  close(ready[0]);

  ResidueQuery q;
  q.prefix = prefix;
  q.uids = {uid};
  q.cgroup_names = {cgroup_name};
  auto found = ScanResidue(q);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  rmdir(cgroup_dir.c_str());
  ASSERT_TRUE(started) << "the child could not take the uid";
  ASSERT_TRUE(found.ok()) << found.error().ToString();
  std::set<std::string> seen;
  for (const ResidueFinding& f : *found) seen.insert(f.kind + " " + f.subject);
  EXPECT_EQ(seen.count("process " + std::to_string(child)), 1u);
  EXPECT_EQ(seen.count("cgroup " + cgroup_dir), 1u);
  EXPECT_EQ(found->size(), 2u);

  found = ScanResidue(q);
  ASSERT_TRUE(found.ok()) << found.error().ToString();
  for (const ResidueFinding& f : *found)
    ADD_FAILURE() << f.kind << " " << f.subject << ": " << f.detail;
}

}  // namespace
}  // namespace stockade::provision::linux_os
