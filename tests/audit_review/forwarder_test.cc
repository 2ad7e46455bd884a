// The syslog forwarder's bounded queue and its errors, against a port nobody listens on (the
// real delivery is tested against rsyslog in linux/rsyslog_forward_test.cc).
#include "audit/syslog/forwarder.h"

#include <gtest/gtest.h>

#include <chrono>

namespace stockade::audit::syslog {
namespace {

using namespace std::chrono_literals;

TEST(ForwarderTest, RefusesMissingReceiver) {
  EXPECT_EQ(Forwarder::Start({}).error().code(), ErrorCode::kInvalidArgument);
  ForwarderOptions o;
  o.host = "127.0.0.1";
  o.port = 1;
  o.queue_capacity = 0;
  EXPECT_EQ(Forwarder::Start(o).error().code(), ErrorCode::kInvalidArgument);
}

TEST(ForwarderTest, FullQueueWaitsThenDropsAndKeepsWhatIsQueued) {
  ForwarderOptions o;
  o.host = "127.0.0.1";
  o.port = 9;  // discard: nothing listens here on a test machine, connects are refused
  o.queue_capacity = 3;
  o.backoff_min = 20ms;
  o.backoff_max = 40ms;
  auto f = Forwarder::Start(o);
  ASSERT_TRUE(f.ok()) << f.error().ToString();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*f)->Enqueue("m" + std::to_string(i), 0ms).ok());
  const auto before = std::chrono::steady_clock::now();
  Status full = (*f)->Enqueue("m3", 150ms);
  const auto waited = std::chrono::steady_clock::now() - before;
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code(), ErrorCode::kTimeout);
  EXPECT_GE(waited, 140ms);
  Status flushed = (*f)->Flush(200ms);
  ASSERT_FALSE(flushed.ok());
  EXPECT_NE(flushed.error().context().find("3 queued"), std::string::npos)
      << flushed.error().context();
  const ForwarderStats s = (*f)->Stats();
  EXPECT_EQ(s.dropped, 1);
  EXPECT_EQ(s.queued, 3u);
  EXPECT_EQ(s.sent, 0);
  EXPECT_EQ(s.connects, 0);
  EXPECT_GE(s.failures, 2);  // it kept retrying with backoff
  EXPECT_FALSE(s.last_error.empty());
  (*f)->Stop();
  EXPECT_EQ((*f)->Enqueue("late", 0ms).error().code(), ErrorCode::kInternal);
}

}  // namespace
}  // namespace stockade::audit::syslog
