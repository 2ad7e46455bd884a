// Forwarding to a real rsyslogd (started by the test on a loopback port, with its own config and
// working folder): every event arrives, across a restart of the receiver, with its structured
// data parsed by rsyslog as RFC 5424; and `stockade audit forward` sends a store from a seq on.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "audit/syslog/forwarder.h"
#include "audit/syslog/rfc5424.h"
#include "tests/audit_review/linux/review_support.h"
#include "tests/audit_review/review_test_events.h"

namespace stockade::audit::testing {
namespace {

using namespace std::chrono_literals;
constexpr TimeNs kT0 = 1795335338000000000;

// seq -> how many lines carried it.
std::map<std::int64_t, int> SeqsIn(const std::string& text) {
  std::map<std::int64_t, int> out;
  static const std::regex kSeq("\\[stockade@32473 seq=\"(\\d+)\"");
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (std::regex_search(line, m, kSeq)) ++out[std::stoll(m[1].str())];
  }
  return out;
}

std::size_t WaitForLines(const std::string& path, std::size_t n, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t got = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    got = SeqsIn(ReadFile(path)).size();
    if (got >= n) break;
    std::this_thread::sleep_for(50ms);
  }
  return got;
}

class RsyslogForwardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists("/usr/sbin/rsyslogd")) {
      GTEST_SKIP() << "rsyslogd is not installed (scripts/deps.sh installs rsyslog)";
    }
    dir_ = MakeTempDir("stockade-rsyslog");
    ASSERT_FALSE(dir_.empty());
  }
  std::string dir_;
};

TEST_F(RsyslogForwardTest, EveryEventArrivesAcrossAReceiverRestart) {
  Rsyslog rsyslog(dir_);
  ASSERT_EQ(rsyslog.Start(), "");
  const std::uint16_t port = rsyslog.port();

  std::vector<Event> events = MakeReviewEvents(6, 150, 30, kT0);  // 6 * 182 = 1092
  const std::size_t total = events.size();
  syslog::ForwarderOptions options;
  options.host = "127.0.0.1";
  options.port = port;
  options.confirm_after = 500ms;
  options.backoff_min = 50ms;
  options.backoff_max = 200ms;
  auto forwarder = syslog::Forwarder::Start(options);
  ASSERT_TRUE(forwarder.ok()) << forwarder.error().ToString();
  syslog::SyslogOptions so;
  auto send = [&](std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) {
      ASSERT_TRUE((*forwarder)->Enqueue(syslog::FormatEvent(events[i], so), 5s).ok());
    }
  };
  const std::size_t third = total / 3;
  send(0, third);
  ASSERT_EQ(WaitForLines(rsyslog.out_path(), third, 20s), third);

  // The receiver goes away while the second third is being sent, and stays away while the
  // last third is queued.
  send(third, 2 * third);
  rsyslog.Stop();
  send(2 * third, total);
  std::this_thread::sleep_for(500ms);
  EXPECT_GE((*forwarder)->Stats().failures, 1);

  ASSERT_EQ(rsyslog.Start(port), "");
  Status flushed = (*forwarder)->Flush(30s);
  ASSERT_TRUE(flushed.ok()) << flushed.error().ToString();
  ASSERT_EQ(WaitForLines(rsyslog.out_path(), total, 20s), total);
  const syslog::ForwarderStats stats = (*forwarder)->Stats();
  (*forwarder)->Stop();
  rsyslog.Stop();

  const std::string text = ReadFile(rsyslog.out_path());
  const std::map<std::int64_t, int> seqs = SeqsIn(text);
  ASSERT_EQ(seqs.size(), total);
  EXPECT_EQ(seqs.begin()->first, 1);
  EXPECT_EQ(seqs.rbegin()->first, static_cast<std::int64_t>(total));
  int duplicates = 0;
  for (const auto& [seq, n] : seqs) duplicates += n - 1;
  RecordProperty("events", static_cast<int>(total));
  RecordProperty("duplicates", duplicates);
  RecordProperty("resent", static_cast<int>(stats.resent));
  EXPECT_GE(stats.connects, 2);
  EXPECT_EQ(stats.dropped, 0);
  // Duplicates only come from the resend window of the broken connection.
  EXPECT_LE(duplicates, stats.resent);

  // rsyslog parsed the messages as RFC 5424: fields and escaped structured data as sent.
  EXPECT_NE(text.find("review-host|stockade|-|denial|[stockade@32473 seq="), std::string::npos);
  EXPECT_NE(text.find("target=\"/w/<script>alert(\\\"x\\\")</script>\\]\\\\'\xEF\xBF\xBD.txt\""),
            std::string::npos);
  EXPECT_NE(text.find("|session|[stockade@32473"), std::string::npos);
  EXPECT_NE(text.find("argv=\"[\\\"make\\\",\\\"-j4\\\",\\\"test\\\"\\]\""), std::string::npos);
  std::filesystem::remove_all(dir_);
}

TEST_F(RsyslogForwardTest, AuditForwardCommandSendsTheStoreFromASeqOn) {
  const std::string binary = StockadeBinary();
  ASSERT_TRUE(std::filesystem::exists(binary)) << binary;
  const std::string store = dir_ + "/audit.db";
  const std::vector<Event> events = MakeReviewEvents(3, 20, 4, kT0);  // 78 events
  ASSERT_EQ(WriteStore(store, events), "");
  Rsyslog rsyslog(dir_ + "/rs");
  ASSERT_EQ(rsyslog.Start(), "");
  const std::string to = "127.0.0.1:" + std::to_string(rsyslog.port());

  CommandResult r = RunCommand(
      {binary, "audit", "forward", "--store", store, "--to", to, "--from-seq", "10", "--json"},
      60s);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto out = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_FALSE(out.is_discarded()) << r.output;
  EXPECT_EQ(out["events"], 69);
  EXPECT_EQ(out["first_seq"], 10);
  EXPECT_EQ(out["last_seq"], 78);
  EXPECT_EQ(out["resume_from_seq"], 79);
  ASSERT_EQ(WaitForLines(rsyslog.out_path(), 69, 20s), 69u);
  std::map<std::int64_t, int> seqs = SeqsIn(ReadFile(rsyslog.out_path()));
  EXPECT_EQ(seqs.begin()->first, 10);
  EXPECT_EQ(seqs.rbegin()->first, 78);

  // Filters: only the denials, after the first session.
  r = RunCommand({binary, "audit", "forward", "--store", store, "--to", to, "--kind", "denial",
                  "--from-seq", "27", "--json"},
                 60s);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output, nullptr, false)["events"], 8) << r.output;

  // A receiver that is not there: nothing is confirmed, the command says where to resume.
  rsyslog.Stop();
  r = RunCommand({binary, "audit", "forward", "--store", store, "--to", to, "--from-seq", "70",
                  "--flush-timeout", "1", "--json"},
                 60s);
  EXPECT_EQ(r.exit_code, 8) << r.output;
  const auto failed =
      nlohmann::json::parse(r.output.substr(0, r.output.rfind('}') + 1), nullptr, false);
  EXPECT_EQ(failed["resume_from_seq"], 70) << r.output;
  EXPECT_EQ(failed["confirmed"], 0) << r.output;
  std::filesystem::remove_all(dir_);
}

}  // namespace
}  // namespace stockade::audit::testing
