// ReadLiveGrants against a real provisioning journal: the grants as committed, and every change
// seen by the very next call even though the service keeps its connection and the parsed grants
// between requests (Linux): a new grant, a revoke, a journal removed, a journal replaced.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "provision/journal/journal.h"
#include "provision/step.h"
#include "runner/service/grants.h"

namespace stockade::runner::service {
namespace {

namespace fs = std::filesystem;

// A state folder with its own journal, removed with everything in it.
class StateDir {
 public:
  StateDir() {
    std::random_device rd;
    path_ = (fs::temp_directory_path() / ("stockade-grants-test-" + std::to_string(rd()))).string();
    fs::create_directories(path_);
  }
  ~StateDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  StateDir(const StateDir&) = delete;
  StateDir& operator=(const StateDir&) = delete;
  const std::string& path() const { return path_; }

  // Removes the folder and creates it empty again (an uninstall, then a new provisioning).
  void Recreate() {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }

  // Journals a live grant of `path`, as `stockade-provision grant` does; returns its transaction.
  std::int64_t Grant(const std::string& path, std::uint32_t owner) {
    auto journal = provision::Journal::Open(path_);
    EXPECT_TRUE(journal.ok()) << journal.error().ToString();
    if (!journal.ok()) return 0;
    auto txn = journal->BeginTransaction(provision::txn_kind::kGrant, {{"path", path}}, 1);
    EXPECT_TRUE(txn.ok());
    provision::StepSpec spec{provision::kind::kWorkspaceGrant,
                             "workspace " + path,
                             {{"path", path}, {"users", {"x-offline"}}, {"owner_uid", owner}}};
    EXPECT_TRUE(journal->InsertIntendedStep(*txn, 1, spec, nlohmann::json::object()).ok());
    EXPECT_TRUE(journal->MarkStepApplied(*txn, 1).ok());
    EXPECT_TRUE(journal->FinishTransaction(*txn, provision::TxnState::kCommitted).ok());
    return *txn;
  }

  // Undoes the grant step of `txn` (what a revoke leaves in the journal: the step undone).
  void Revoke(std::int64_t txn) {
    auto journal = provision::Journal::Open(path_);
    ASSERT_TRUE(journal.ok()) << journal.error().ToString();
    ASSERT_TRUE(journal->MarkStepUndone(txn, 1).ok());
  }

  // ReadLiveGrants, as "path@owner" entries.
  std::vector<std::string> Grants() {
    auto grants = ReadLiveGrants(path_);
    EXPECT_TRUE(grants.ok()) << grants.error().ToString();
    std::vector<std::string> out;
    if (grants.ok()) {
      for (const auto& g : *grants) out.push_back(g.path + "@" + std::to_string(*g.owner_uid));
    }
    return out;
  }

 private:
  std::string path_;
};

using List = std::vector<std::string>;

TEST(GrantsTest, NoJournalMeansNoGrants) {
  StateDir state;
  EXPECT_TRUE(state.Grants().empty());
  EXPECT_FALSE(fs::exists(provision::Journal::PathFor(state.path())));  // reading created none
}

TEST(GrantsTest, EveryChangeIsSeenByTheNextCall) {
  StateDir state;
  state.Grant("/w/a", 1000);
  EXPECT_EQ(state.Grants(), (List{"/w/a@1000"}));
  EXPECT_EQ(state.Grants(), (List{"/w/a@1000"}));  // unchanged: the same answer
  const std::int64_t b = state.Grant("/w/b", 1001);
  EXPECT_EQ(state.Grants(), (List{"/w/a@1000", "/w/b@1001"}));
  state.Revoke(b);
  EXPECT_EQ(state.Grants(), (List{"/w/a@1000"}));
}

TEST(GrantsTest, AJournalRemovedOrReplacedIsNotServedFromMemory) {
  StateDir state;
  state.Grant("/w/old", 1000);
  EXPECT_EQ(state.Grants(), (List{"/w/old@1000"}));
  state.Recreate();
  EXPECT_TRUE(state.Grants().empty());
  state.Grant("/w/new", 1002);
  EXPECT_EQ(state.Grants(), (List{"/w/new@1002"}));
  // Replaced with no call in between: a kept connection would still hold the old file.
  state.Recreate();
  state.Grant("/w/newer", 1003);
  EXPECT_EQ(state.Grants(), (List{"/w/newer@1003"}));
}

TEST(GrantsTest, EachStateFolderIsReadFromItsOwnJournal) {
  StateDir here;
  StateDir there;
  here.Grant("/w/here", 1000);
  there.Grant("/w/there", 2000);
  EXPECT_EQ(here.Grants(), (List{"/w/here@1000"}));
  EXPECT_EQ(there.Grants(), (List{"/w/there@2000"}));
  EXPECT_EQ(here.Grants(), (List{"/w/here@1000"}));
}

}  // namespace
}  // namespace stockade::runner::service
