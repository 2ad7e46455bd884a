// Canonical encoding: fixed vectors computed independently (a Python encoder written from
// docs/audit-events.md), round trips, and the decoder's refusal of anything non-canonical.
#include "audit/canonical.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "core/crypto/sha256.h"
#include "tests/audit/audit_test_support.h"

namespace stockade::audit {
namespace {

constexpr TimeNs kT = 1'800'000'000'123'456'789LL;
constexpr char kSession[] = "6f1c2a9e-4b7d-4e21-9a3c-2f5e8d7b1a04";

std::vector<Event> VectorEvents() {
  std::vector<Event> out;
  Event e1;
  e1.seq = 1;
  e1.time = kT;
  e1.host = "build-01";
  e1.session_id = kSession;
  SessionEvent s;
  s.phase = SessionPhase::kStart;
  s.identity = "offline";
  s.workspace = "/home/dev/proj";
  s.policy_hash = "9f86d081884c7d65";
  s.invoking_uid = 1000;
  s.invoking_user = "dev";
  s.argv = {"make", "-j2"};
  s.cwd = "/home/dev/proj";
  s.start_time = kT;
  e1.body = s;
  out.push_back(e1);

  Event e2;
  e2.seq = 2;
  e2.time = kT + 5;
  e2.host = "build-01";
  e2.session_id = kSession;
  ProcessEvent p;
  p.phase = ProcessPhase::kExit;
  p.process_guid = "pg-42";
  p.pid = 4242;
  p.parent_guid = "pg-41";
  p.parent_pid = 4241;
  p.image = "/usr/bin/cc";
  p.argv = {"cc", "-o", "caf\xc3\xa9", ""};
  p.cwd = "/home/dev/proj";
  p.uid = 1001;
  p.start_time = kT + 1;
  p.end_time = kT + 5;
  p.exit.code = 1;
  p.exit.killed = true;
  e2.body = p;
  out.push_back(e2);

  Event e3;
  e3.seq = 3;
  e3.time = kT + 6;
  e3.host = "build-01";
  e3.session_id = kSession;
  DenialEvent d;
  d.category = DenialCategory::kNetwork;
  d.target = "93.184.216.34:443";
  d.access = "connect tcp";
  d.pid = 4243;
  d.process_guid = "pg-43";
  d.source = DenialSource::kNflog;
  d.evidence = "nflog prefix=stockade-offline";
  e3.body = d;
  out.push_back(e3);

  Event e4;
  e4.seq = 4;
  e4.time = kT + 7;
  e4.host = "build-01";
  ProvisioningEvent v;
  v.transaction_id = 12;
  v.action = "grant";
  v.step_index = 3;
  v.step_kind = "workspace_acl";
  v.target = "/home/dev/proj";
  v.outcome = "applied";
  e4.body = v;
  out.push_back(e4);
  return out;
}

// Expected canonical bytes and chain hashes (from the genesis), in hex.
const char* const kEncodings[] = {
    "0101000000000000000118fae2769b0fcd15000000086275696c642d303100000024366631633261"
    "39652d346237642d346532312d396133632d32663565386437623161303401000000076f66666c69"
    "6e650000000e2f686f6d652f6465762f70726f6a0000001039663836643038313838346337643635"
    "00000000000003e8000000000000000364657600000002000000046d616b65000000032d6a320000"
    "000e2f686f6d652f6465762f70726f6a18fae2769b0fcd1500000000000000000000000000000000"
    "000000000000000000",
    "0102000000000000000218fae2769b0fcd1a000000086275696c642d303100000024366631633261"
    "39652d346237642d346532312d396133632d326635653864376231613034020000000570672d3432"
    "00000000000010920000000570672d343100000000000010910000000b2f7573722f62696e2f6363"
    "00000004000000026363000000022d6f00000005636166c3a9000000000000000e2f686f6d652f64"
    "65762f70726f6a00000000000003e918fae2769b0fcd1618fae2769b0fcd1a090000000000000001"
    "0000000000000000",
    "0103000000000000000318fae2769b0fcd1b000000086275696c642d303100000024366631633261"
    "39652d346237642d346532312d396133632d326635653864376231613034030000001139332e3138"
    "342e3231362e33343a3434330000000b636f6e6e6563742074637000000000000010930000000570"
    "672d3433020000001d6e666c6f67207072656669783d73746f636b6164652d6f66666c696e65",
    "0104000000000000000418fae2769b0fcd1c000000086275696c642d303100000000000000000000"
    "000c000000056772616e7400000000000000030000000d776f726b73706163655f61636c0000000e"
    "2f686f6d652f6465762f70726f6a000000076170706c696564",
};
const char* const kHashes[] = {
    "c65679511fe7f2ebb291aa43260e3d2eaad3cbafec8a382b73e9a4875b071dbb",
    "36c1488ff7530cbc3524b3eea824f527d095a933137bcea9f3f2264e793f249f",
    "5c11587f00459d3ebde2dd217c75ab9f645328e14d04f4de297256d30bae3b5a",
    "f67b5ac96a47a1c67086353539f6fef206b798dd5218c1b619ab99272be7448a",
};

std::string Hex(std::string_view bytes) {
  return crypto::HexEncode(std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

TEST(AuditCanonicalTest, MatchesTheIndependentlyComputedVectors) {
  const auto events = VectorEvents();
  crypto::Sha256Digest prev = kGenesisHash;
  for (std::size_t i = 0; i < events.size(); ++i) {
    ASSERT_TRUE(ValidateEvent(events[i]).ok());
    const std::string bytes = EncodeCanonical(events[i]);
    EXPECT_EQ(Hex(bytes), kEncodings[i]) << "event " << i + 1;
    auto hash = ChainHash(prev, bytes);
    ASSERT_TRUE(hash.ok());
    EXPECT_EQ(crypto::HexEncode(*hash), kHashes[i]) << "event " << i + 1;
    auto decoded = DecodeCanonical(bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.error().ToString();
    EXPECT_EQ(*decoded, events[i]);
    prev = *hash;
  }
}

TEST(AuditCanonicalTest, RandomEventsRoundTripAndDifferentEventsEncodeDifferently) {
  std::mt19937_64 rng(99);
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    Event e = testing::RandomEventAny(rng, "s-" + std::to_string(i % 13), true);
    e.seq = i + 1;
    ASSERT_TRUE(ValidateEvent(e).ok());
    const std::string bytes = EncodeCanonical(e);
    auto back = DecodeCanonical(bytes);
    ASSERT_TRUE(back.ok()) << back.error().ToString();
    EXPECT_EQ(*back, e);
    EXPECT_EQ(EncodeCanonical(*back), bytes);
    EXPECT_TRUE(seen.insert(bytes).second);  // distinct seq: distinct bytes
  }
}

TEST(AuditCanonicalTest, KeepsBytesThatAreNotUtf8) {
  Event e = VectorEvents()[1];
  std::get<ProcessEvent>(e.body).argv.push_back(std::string("\xff\xfe\x00z", 4));
  auto back = DecodeCanonical(EncodeCanonical(e));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(std::get<ProcessEvent>(back->body).argv.back(), std::string("\xff\xfe\x00z", 4));
}

TEST(AuditCanonicalTest, RefusesTruncatedTrailingAndNonCanonicalBytes) {
  const std::string good = EncodeCanonical(VectorEvents()[1]);
  for (std::size_t cut = 0; cut < good.size(); ++cut) {
    auto r = DecodeCanonical(good.substr(0, cut));
    ASSERT_FALSE(r.ok()) << "prefix of " << cut << " bytes decoded";
    EXPECT_EQ(r.error().code(), ErrorCode::kStateCorrupt);
  }
  auto trailing = DecodeCanonical(good + "x");
  ASSERT_FALSE(trailing.ok());
  EXPECT_NE(trailing.error().context().find("trailing"), std::string::npos);
  std::string bad_version = good;
  bad_version[0] = 2;
  EXPECT_FALSE(DecodeCanonical(bad_version).ok());
  std::string bad_kind = good;
  bad_kind[1] = 9;
  EXPECT_FALSE(DecodeCanonical(bad_kind).ok());
  // The exit flags byte sits 17 bytes before the end: unknown bits, and a signal value without
  // its flag, are refused (each would give a second encoding of the same event).
  std::string bad_flags = good;
  bad_flags[good.size() - 17] = static_cast<char>(0x19);
  EXPECT_FALSE(DecodeCanonical(bad_flags).ok());
  std::string value_without_flag = good;
  value_without_flag[good.size() - 1] = 5;
  auto r = DecodeCanonical(value_without_flag);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().context().find("non-canonical"), std::string::npos);
}

TEST(AuditCanonicalTest, ValidateNamesTheField) {
  Event e = VectorEvents()[2];
  std::get<DenialEvent>(e.body).source = static_cast<DenialSource>(0);
  Status s = ValidateEvent(e);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().context().find("source"), std::string::npos);
  Event v = VectorEvents()[0];
  v.version = 2;
  EXPECT_EQ(ValidateEvent(v).error().code(), ErrorCode::kInvalidArgument);
}

TEST(AuditEventTest, TimeFormatsAndParsesBack) {
  EXPECT_EQ(FormatTime(kT), "2027-01-15T08:00:00.123456789Z");
  EXPECT_EQ(FormatTime(0), "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(FormatTime(-1), "1969-12-31T23:59:59.999999999Z");
  EXPECT_EQ(*ParseTime("2027-01-15T08:00:00.123456789Z"), kT);
  EXPECT_EQ(*ParseTime("2027-01-15T09:00:00.123456789+01:00"), kT);
  EXPECT_EQ(*ParseTime("1970-01-02"), 86'400LL * 1'000'000'000LL);
  EXPECT_EQ(*ParseTime("2024-02-29T00:00:00Z"), 1'709'164'800LL * 1'000'000'000LL);
  EXPECT_FALSE(ParseTime("2023-02-29").ok());
  EXPECT_FALSE(ParseTime("2027-01-15T08:00:00").ok());
  EXPECT_FALSE(ParseTime("yesterday").ok());
  std::mt19937_64 rng(5);
  for (int i = 0; i < 1000; ++i) {
    const auto t = std::uniform_int_distribution<TimeNs>(-4'000'000'000'000'000'000LL,
                                                         4'000'000'000'000'000'000LL)(rng);
    auto back = ParseTime(FormatTime(t));
    ASSERT_TRUE(back.ok()) << FormatTime(t);
    EXPECT_EQ(*back, t) << FormatTime(t);
  }
}

TEST(AuditEventTest, NamesParseBack) {
  for (int k = 1; k <= 4; ++k) {
    const auto kind = static_cast<EventKind>(k);
    EXPECT_EQ(*ParseEventKind(EventKindName(kind)), kind);
  }
  for (int c = 1; c <= 4; ++c) {
    const auto cat = static_cast<DenialCategory>(c);
    EXPECT_EQ(*ParseDenialCategory(DenialCategoryName(cat)), cat);
  }
  for (int s = 1; s <= 6; ++s) {
    const auto src = static_cast<DenialSource>(s);
    EXPECT_EQ(*ParseDenialSource(DenialSourceName(src)), src);
  }
  auto bad = ParseEventKind("spawn");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().context().find("session, process, denial, provisioning"),
            std::string::npos);
}

}  // namespace
}  // namespace stockade::audit
