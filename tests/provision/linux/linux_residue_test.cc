// The residue scan finds each kind of leftover, and nothing once everything is undone.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <set>

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

}  // namespace
}  // namespace stockade::provision::linux_os
