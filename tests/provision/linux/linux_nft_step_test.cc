// The nftables step for real: rules enforced on the offline uid, counters, drift, and an exact
// `nft list ruleset` after undo (root required).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <regex>

#include "provision/linux/nft.h"
#include "provision/linux/nft_step.h"
#include "provision/linux/run_as.h"
#include "tests/provision/linux/linux_steps_test_support.h"

namespace stockade::provision::linux_os {
namespace {

using testing::NftRuleset;
using testing::RunOut;
using testing::RunStatus;

// A listening TCP socket on the loopback address of `family`, port chosen by the kernel.
class Listener {
 public:
  explicit Listener(int family) : family_(family) {
    fd_ = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage ss{};
    socklen_t len;
    if (family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof(sockaddr_in);
    } else {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_addr = in6addr_loopback;
      len = sizeof(sockaddr_in6);
    }
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&ss), len), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    EXPECT_EQ(getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len), 0);
    port_ = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                    : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  }
  ~Listener() { close(fd_); }
  std::uint16_t port() const { return port_; }

 private:
  int family_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// "ok" or the errno name, and the time the attempt took.
struct Attempt {
  std::string result;
  double ms = 0;
};

std::string ConnectProbe(int family, int type, std::uint16_t port) {
  auto start = std::chrono::steady_clock::now();
  int fd = socket(family, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("socket:") + strerrorname_np(errno);
  sockaddr_storage ss{};
  socklen_t len;
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a->sin_port = htons(port);
    len = sizeof(sockaddr_in);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    a->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
  }
  std::string out;
  if (type == SOCK_STREAM) {
    out = connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0 ? "ok" : strerrorname_np(errno);
  } else {
    ssize_t n = sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr*>(&ss), len);
    out = n == 1 ? "ok" : strerrorname_np(errno);
  }
  close(fd);
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return out + " " + std::to_string(static_cast<int>(ms));
}

Attempt Parse(const std::string& s) {
  Attempt a;
  a.result = s.substr(0, s.find(' '));
  a.ms = std::stod(s.substr(s.find(' ') + 1));
  return a;
}

class LinuxNftStepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::IsRoot()) GTEST_SKIP() << "needs root";
    prefix_ = testing::UniquePrefix();
    lock_ = std::make_unique<testing::SystemStateLock>();
    ruleset_before_ = NftRuleset();
    cleanup_ = std::make_unique<testing::PrefixCleanup>(prefix_);
    identity_ = testing::IdentitySpecs(prefix_);
    for (const StepSpec& s : identity_) testing::ApplySpec(s);
    auto creds = CredentialsOfUser(prefix_ + "-offline");
    ASSERT_TRUE(creds.ok());
    offline_ = *creds;
    auto online = CredentialsOfUser(prefix_ + "-online");
    ASSERT_TRUE(online.ok());
    online_ = *online;
  }
  void TearDown() override {
    cleanup_.reset();
    if (lock_) {
      EXPECT_EQ(NftRuleset(), ruleset_before_) << "the test left the ruleset changed";
    }
    lock_.reset();
  }

  StepSpec Spec(std::vector<int> ports) {
    return {kind::kNetworkRules,
            "network rules " + prefix_,
            {{"prefix", prefix_},
             {"user", prefix_ + "-offline"},
             {"loopback_ports", ports},
             {"nflog_group", 4242}}};
  }
  std::unique_ptr<NftStep> Make(const StepSpec& spec) {
    auto step = NftStep::Create(spec);
    EXPECT_TRUE(step.ok()) << step.error().ToString();
    return std::unique_ptr<NftStep>(static_cast<NftStep*>(step->release()));
  }
  std::string Table() const { return NftTableNameForPrefix(prefix_); }

  std::string prefix_;
  std::unique_ptr<testing::SystemStateLock> lock_;
  std::string ruleset_before_;
  std::unique_ptr<testing::PrefixCleanup> cleanup_;
  std::vector<StepSpec> identity_;
  Credentials offline_, online_;
};

TEST_F(LinuxNftStepTest, OfflineUserIsRejectedFastExceptOnAllowedLoopbackPorts) {
  Listener allowed(AF_INET), blocked(AF_INET), blocked6(AF_INET6), allowed6(AF_INET6);
  auto step = Make(Spec({allowed.port(), allowed6.port()}));
  auto before = step->CaptureBefore();
  ASSERT_TRUE(before.ok()) << before.error().ToString();
  EXPECT_EQ((*before)["existed"], false);
  Status applied = step->Apply();
  ASSERT_TRUE(applied.ok()) << applied.error().ToString();
  Status verified = step->Verify();
  ASSERT_TRUE(verified.ok()) << verified.error().ToString();

  // The nft binary sees the same table.
  std::string listing = RunOut({"/usr/sbin/nft", "list", "table", "inet", Table()});
  EXPECT_NE(listing.find("meta skuid " + std::to_string(offline_.uid) +
                         " meta l4proto tcp counter packets 0 bytes 0 log group 4242 reject "
                         "with tcp reset"),
            std::string::npos)
      << listing;

  auto as_offline = RunAs(offline_, [&]() {
    return ConnectProbe(AF_INET, SOCK_STREAM, blocked.port()) + "|" +
           ConnectProbe(AF_INET, SOCK_STREAM, allowed.port()) + "|" +
           ConnectProbe(AF_INET6, SOCK_STREAM, blocked6.port()) + "|" +
           ConnectProbe(AF_INET6, SOCK_STREAM, allowed6.port()) + "|" +
           ConnectProbe(AF_INET, SOCK_DGRAM, blocked.port()) + "|" +
           ConnectProbe(AF_INET6, SOCK_DGRAM, blocked6.port());
  });
  ASSERT_TRUE(as_offline.ok()) << as_offline.error().ToString();
  std::vector<Attempt> r;
  std::stringstream ss(*as_offline);
  for (std::string part; std::getline(ss, part, '|');) r.push_back(Parse(part));
  std::cout << "offline probes (result ms): " << *as_offline << "\n";
  ASSERT_EQ(r.size(), 6u) << *as_offline;
  EXPECT_EQ(r[0].result, "ECONNREFUSED") << *as_offline;
  EXPECT_LT(r[0].ms, 300) << "reset, not a retried reject";
  EXPECT_EQ(r[1].result, "ok") << *as_offline;
  EXPECT_EQ(r[2].result, "ECONNREFUSED") << *as_offline;
  EXPECT_LT(r[2].ms, 300);
  EXPECT_EQ(r[3].result, "ok") << *as_offline;
  EXPECT_NE(r[4].result, "ok") << "UDP must be refused: " << *as_offline;
  EXPECT_NE(r[5].result, "ok") << "UDP over IPv6 must be refused: " << *as_offline;

  // Per uid: the online identity is not confined by these rules.
  auto as_online = RunAs(online_, [&]() {
    return ConnectProbe(AF_INET, SOCK_STREAM, blocked.port()) + "|" +
           ConnectProbe(AF_INET, SOCK_DGRAM, blocked.port());
  });
  ASSERT_TRUE(as_online.ok());
  EXPECT_EQ(as_online->substr(0, 3), "ok ") << *as_online;
  EXPECT_NE(as_online->find("|ok "), std::string::npos) << *as_online;

  // Counters moved on each rule.
  auto table = ReadNftTable("inet", Table());
  ASSERT_TRUE(table.ok()) << table.error().ToString();
  ASSERT_EQ(table->chains.size(), 1u);
  ASSERT_EQ(table->chains[0].rules.size(), 3u);
  EXPECT_GE(table->chains[0].rules[0].packets, 2u) << "allowed loopback connects";
  EXPECT_GE(table->chains[0].rules[1].packets, 2u) << "TCP resets (IPv4 and IPv6)";
  EXPECT_GE(table->chains[0].rules[2].packets, 2u) << "UDP rejects";
  EXPECT_TRUE(step->Verify().ok()) << "counter values are not drift";

  ASSERT_TRUE(step->Undo(*before).ok());
  ASSERT_TRUE(step->VerifyUndone(*before).ok());
  EXPECT_EQ(NftRuleset(), ruleset_before_);
  auto after =
      RunAs(offline_, [&]() { return ConnectProbe(AF_INET, SOCK_STREAM, blocked.port()); });
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->substr(0, 3), "ok ") << *after;
}

TEST_F(LinuxNftStepTest, VerifyNamesDeletedAndAddedRulesAndApplyRepairs) {
  auto step = Make(Spec({3128}));
  auto before = step->CaptureBefore();
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(step->Apply().ok());
  auto applied = step->IsApplied();
  ASSERT_TRUE(applied.ok());
  EXPECT_TRUE(*applied);

  std::string listing = RunOut({"/usr/sbin/nft", "-a", "list", "chain", "inet", Table(), "output"});
  std::smatch m;
  ASSERT_TRUE(std::regex_search(listing, m, std::regex("reject with tcp reset # handle ([0-9]+)")))
      << listing;
  ASSERT_EQ(RunStatus({"/usr/sbin/nft", "delete", "rule", "inet", Table(), "output", "handle",
                       m[1].str()}),
            0);
  Status drift = step->Verify();
  ASSERT_FALSE(drift.ok());
  EXPECT_EQ(drift.error().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(drift.error().context().find("reject-tcp-reset"), std::string::npos)
      << drift.error().context();
  ASSERT_TRUE(step->Apply().ok());
  EXPECT_TRUE(step->Verify().ok());

  ASSERT_EQ(RunStatus({"/usr/sbin/nft", "insert", "rule", "inet", Table(), "output", "meta",
                       "skuid", std::to_string(offline_.uid), "accept"}),
            0);
  drift = step->Verify();
  ASSERT_FALSE(drift.ok());
  EXPECT_NE(drift.error().context().find("rule 1 is 'meta skuid"), std::string::npos)
      << drift.error().context();
  ASSERT_TRUE(step->Apply().ok());
  EXPECT_TRUE(step->Verify().ok());

  ASSERT_EQ(RunStatus({"/usr/sbin/nft", "add", "chain", "inet", Table(), "extra"}), 0);
  drift = step->Verify();
  ASSERT_FALSE(drift.ok());
  EXPECT_NE(drift.error().context().find("chains [output,extra]"), std::string::npos)
      << drift.error().context();

  ASSERT_TRUE(step->Undo(*before).ok());
  ASSERT_TRUE(step->VerifyUndone(*before).ok());
  EXPECT_EQ(NftRuleset(), ruleset_before_);
}

TEST_F(LinuxNftStepTest, ATableWeDoNotOwnIsNeverTouched) {
  ASSERT_EQ(RunStatus({"/usr/sbin/nft", "add", "table", "inet", Table()}), 0);
  ASSERT_EQ(RunStatus({"/usr/sbin/nft", "add", "chain", "inet", Table(), "theirs"}), 0);
  const std::string theirs = RunOut({"/usr/sbin/nft", "list", "table", "inet", Table()});
  auto step = Make(Spec({}));
  auto present = step->TargetPresent();
  ASSERT_TRUE(present.ok());
  EXPECT_TRUE(*present);
  Status s = step->Apply();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(RunOut({"/usr/sbin/nft", "list", "table", "inet", Table()}), theirs);
  // A table that existed before the step is put back, not deleted.
  auto before = step->CaptureBefore();
  ASSERT_TRUE(before.ok());
  EXPECT_EQ((*before)["existed"], true);
  ASSERT_TRUE(step->Undo(*before).ok());
  ASSERT_TRUE(step->VerifyUndone(*before).ok());
  EXPECT_EQ(RunOut({"/usr/sbin/nft", "list", "table", "inet", Table()}), theirs);
  ASSERT_EQ(RunStatus({"/usr/sbin/nft", "delete", "table", "inet", Table()}), 0);
}

TEST_F(LinuxNftStepTest, NoLoopbackPortsMeansNoAcceptRule) {
  auto step = Make(Spec({}));
  auto before = step->CaptureBefore();
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(step->Apply().ok());
  ASSERT_TRUE(step->Verify().ok());
  auto table = ReadNftTable("inet", Table());
  ASSERT_TRUE(table.ok());
  ASSERT_EQ(table->chains[0].rules.size(), 2u);
  EXPECT_EQ(table->chains[0].rules[0].verdict, "reject-tcp-reset");
  ASSERT_TRUE(step->Undo(*before).ok());
  EXPECT_EQ(NftRuleset(), ruleset_before_);
}

TEST(LinuxNftUnitTest, TableNamesFollowThePrefixAndParamsAreChecked) {
  EXPECT_EQ(NftTableNameForPrefix("stockade"), "stockade_stockade");
  EXPECT_EQ(NftTableNameForPrefix("st-test.1"), "stockade_st_test_1");
  EXPECT_NE(NftTableNameForPrefix("a1"), NftTableNameForPrefix("a2"));
  auto spec = [](nlohmann::json params) {
    return StepSpec{kind::kNetworkRules, "n", std::move(params)};
  };
  EXPECT_TRUE(
      NftStep::Create(spec({{"prefix", "p"}, {"user", "p-offline"}, {"nflog_group", 1}})).ok());
  EXPECT_FALSE(NftStep::Create(spec({{"prefix", "p"}, {"user", "p-offline"}})).ok());
  EXPECT_FALSE(NftStep::Create(spec({{"prefix", "p"},
                                     {"user", "p-offline"},
                                     {"nflog_group", 1},
                                     {"loopback_ports", {0}}}))
                   .ok());
  EXPECT_FALSE(
      NftStep::Create(
          spec(
              {{"prefix", "p"}, {"user", "p-offline"}, {"nflog_group", 1}, {"table", "bad name;"}}))
          .ok());
}

}  // namespace
}  // namespace stockade::provision::linux_os
