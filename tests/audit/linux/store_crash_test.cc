// A crash of the recording process in the middle of a batch: a forked child records a stream of
// events (async, with a synchronous Record() every 50) and is killed with SIGKILL at a random
// moment. What it left must verify, hold every event whose Record() had returned, and accept
// new events chained to it. Repeated on the same store, so recovery follows recovery.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <thread>

#include "audit/query.h"
#include "audit/store.h"
#include "audit/verify.h"
#include "tests/audit/audit_test_support.h"

namespace stockade::audit {
namespace {

using testing::TempDir;
using testing::TestStoreOptions;

// Runs in the forked child: records until killed, writing the seq of each returned Record() to
// `ack_fd`. Never returns.
[[noreturn]] void RecordUntilKilled(const std::string& path, int ack_fd, unsigned seed) {
  auto opts = TestStoreOptions(path);
  opts.sync_every_batch = true;  // the service's setting
  auto store = Store::Open(opts);
  if (!store.ok()) _exit(2);
  std::mt19937_64 rng(seed);
  for (int i = 0;; ++i) {
    Event e = testing::RandomEventAny(rng, "crash-" + std::to_string(seed));
    if (i % 50 == 49) {
      auto seq = (*store)->Record(std::move(e));
      if (!seq.ok()) _exit(3);
      const std::int64_t acked = *seq;
      if (write(ack_fd, &acked, sizeof acked) != static_cast<ssize_t>(sizeof acked)) _exit(4);
    } else if (!(*store)->RecordAsync(std::move(e)).ok()) {
      _exit(5);
    }
  }
}

TEST(AuditStoreCrashTest, SigkillMidBatchLeavesAVerifiableChainWithEveryAcknowledgedEvent) {
  TempDir dir;
  const std::string path = dir.Utf8("audit/audit.db");
  std::mt19937_64 rng(77);
  std::int64_t previous_head = 0;
  for (unsigned round = 0; round < 5; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(fds[0]);
      RecordUntilKilled(path, fds[1], 1000 + round);
    }
    close(fds[1]);
    // Let it acknowledge a random number of synchronous events (so thousands of async ones
    // are in flight), then kill it without warning.
    const int wanted = std::uniform_int_distribution<int>(3, 30)(rng);
    std::int64_t last_acked = 0;
    int acks = 0;
    while (acks < wanted) {
      std::int64_t seq = 0;
      const ssize_t n = read(fds[0], &seq, sizeof seq);
      if (n != static_cast<ssize_t>(sizeof seq)) break;  // the child died early
      last_acked = std::max(last_acked, seq);
      ++acks;
    }
    std::this_thread::sleep_for(
        std::chrono::microseconds(std::uniform_int_distribution<int>(0, 3000)(rng)));
    ASSERT_EQ(kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the recorder exited by itself (status " << status << ")";
    // Acknowledgements written before the kill.
    while (true) {
      std::int64_t seq = 0;
      if (read(fds[0], &seq, sizeof seq) != static_cast<ssize_t>(sizeof seq)) break;
      last_acked = std::max(last_acked, seq);
      ++acks;
    }
    close(fds[0]);
    ASSERT_GE(acks, wanted) << "round " << round << ": the recorder died before the kill";

    // What survived: a whole chain, ending at or after the last acknowledged event.
    auto result = VerifyStore(path);
    ASSERT_TRUE(result.ok()) << result.error().ToString();
    ASSERT_TRUE(result->ok()) << "round " << round << ": " << result->first_break->detail;
    EXPECT_GE(result->head_seq, last_acked) << "round " << round;
    EXPECT_GT(result->head_seq, previous_head) << "round " << round;
    EXPECT_EQ(result->events_verified, result->head_seq);
    auto reader = AuditReader::Open(path);
    ASSERT_TRUE(reader.ok());
    auto acked = reader->Query({.after_seq = last_acked - 1, .limit = 1});
    ASSERT_TRUE(acked.ok());
    ASSERT_EQ(acked->size(), 1u);
    EXPECT_EQ((*acked)[0].seq, last_acked);

    // The store reopens (SQLite rolls the torn batch back) and continues the chain.
    {
      auto store = Store::Open(TestStoreOptions(path));
      ASSERT_TRUE(store.ok()) << store.error().ToString();
      auto seq = (*store)->Record(testing::RandomEventAny(rng, "after-crash"));
      ASSERT_TRUE(seq.ok()) << seq.error().ToString();
      EXPECT_EQ(*seq, result->head_seq + 1);
      ASSERT_TRUE((*store)->Close().ok());
    }
    auto again = VerifyStore(path);
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(again->ok()) << again->first_break->detail;
    previous_head = again->head_seq;
  }
}

}  // namespace
}  // namespace stockade::audit
