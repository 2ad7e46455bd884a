// Attribution of Security-log denials to a session's processes
// (audit/windows_denial_attribution.h), on Linux and under Wine alike, from the event fixtures
// (tests/data/audit/win-event-*.xml) parsed by the real parser and a process list shaped as the
// Windows process capture records it.
#include "audit/windows_denial_attribution.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "audit/windows_event_xml.h"

namespace stockade::audit {
namespace {

constexpr char kOfflineSid[] = "S-1-5-21-1004336348-1177238915-682003330-1013";
constexpr char kWriteSid[] = "S-1-5-21-1004336348-1177238915-682003330-9001";
constexpr char kSession[] = "7d1f4c2a-0b6e-4e55-9a31-2f6c8d0e5b17";

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(STOCKADE_TEST_DATA_DIR) + "/audit/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

WindowsDenialFact Fact(const std::string& fixture) {
  auto fact = ParseWindowsDenialXml(Fixture(fixture));
  EXPECT_TRUE(fact.ok()) << fixture << ": " << fact.error().ToString();
  return fact.ok() ? *fact : WindowsDenialFact{};
}

TimeNs At(const char* rfc3339) {
  auto time = ParseTime(rfc3339);
  EXPECT_TRUE(time.ok()) << rfc3339;
  return time.ok() ? *time : 0;
}

DenialScope Scope() {
  DenialScope scope;
  scope.session_id = kSession;
  scope.sids = {kOfflineSid, kWriteSid};
  scope.start = At("2026-11-22T09:13:00Z");
  scope.end = At("2026-11-22T09:17:00Z");
  return scope;
}

const DenialEvent& Denial(const Event& event) { return std::get<DenialEvent>(event.body); }

// The four fixtures: 4656 write (pid 0x1a3c at 09:14:03.55), 4656 read (pid 0x2f0 at
// 09:15:41), 5157 tcp4 (pid 6748 at 09:16:02.73), 5157 udp6 (pid 7012 at 09:16:09.1).
std::vector<WindowsDenialFact> AllFixtures() {
  return {Fact("win-event-4656-write.xml"), Fact("win-event-4656-read.xml"),
          Fact("win-event-5157-tcp4.xml"), Fact("win-event-5157-udp6.xml")};
}

TEST(WindowsDenialAttribution, EachFixtureGoesToTheSessionProcessWithItsPidAtItsTime) {
  const std::vector<WindowsDenialFact> facts = AllFixtures();
  const std::vector<SessionProcess> processes = {
      {"guid-git", 0x1a3c, At("2026-11-22T09:14:00Z"), At("2026-11-22T09:14:10Z")},
      {"guid-cat", 0x2f0, At("2026-11-22T09:15:40Z"), 0},  // still running when read
      {"guid-curl", 6748, At("2026-11-22T09:16:00Z"), At("2026-11-22T09:16:05Z")},
      {"guid-dig", 7012, 0, At("2026-11-22T09:16:30Z")},  // gone when announced: no start
      {"guid-idle", 4, At("2026-11-22T09:13:01Z"), 0},    // the logging pid is not the subject
  };
  const DenialAttribution result = AttributeSessionDenials(facts, processes, Scope());
  ASSERT_EQ(result.events.size(), 4u);
  const char* const guids[] = {"guid-git", "guid-cat", "guid-curl", "guid-dig"};
  for (std::size_t i = 0; i < 4; ++i) {
    const Event& event = result.events[i];
    EXPECT_EQ(event.kind(), EventKind::kDenial);
    EXPECT_EQ(event.session_id, kSession);
    EXPECT_EQ(event.time, facts[i].time);
    DenialEvent expected = facts[i].denial;  // everything the parser said, plus the GUID
    expected.process_guid = guids[i];
    EXPECT_EQ(Denial(event), expected) << i;
  }
  EXPECT_EQ(Denial(result.events[0]).source, DenialSource::kWin4656);
  EXPECT_EQ(Denial(result.events[3]).source, DenialSource::kWin5157);
  EXPECT_EQ(result.within_slack, 0u);
  EXPECT_EQ(result.other_process + result.other_subject + result.outside_window + result.undated,
            0u);
}

TEST(WindowsDenialAttribution, A4656OfAnotherUserIsNotThisSessionsButSidCaseDoesNotMatter) {
  const std::vector<WindowsDenialFact> facts = {Fact("win-event-4656-write.xml")};
  const std::vector<SessionProcess> processes = {{"guid-git", 0x1a3c, 0, 0}};
  DenialScope scope = Scope();
  scope.sids = {kWriteSid, "S-1-5-21-1004336348-1177238915-682003330-1014"};  // online, say
  DenialAttribution other = AttributeSessionDenials(facts, processes, scope);
  EXPECT_TRUE(other.events.empty());
  EXPECT_EQ(other.other_subject, 1u);

  scope.sids = {"s-1-5-21-1004336348-1177238915-682003330-1013"};
  DenialAttribution ours = AttributeSessionDenials(facts, processes, scope);
  ASSERT_EQ(ours.events.size(), 1u);
  EXPECT_EQ(Denial(ours.events[0]).process_guid, "guid-git");

  // 5157 has no user: the SIDs play no part, the pid decides.
  scope.sids = {kWriteSid};
  DenialAttribution network = AttributeSessionDenials({Fact("win-event-5157-tcp4.xml")},
                                                      {{"guid-curl", 6748, 0, 0}}, scope);
  ASSERT_EQ(network.events.size(), 1u);
  EXPECT_EQ(Denial(network.events[0]).process_guid, "guid-curl");
}

TEST(WindowsDenialAttribution, APidNotOfTheSessionAtThatTimeIsNeverAttributed) {
  const std::vector<WindowsDenialFact> facts = AllFixtures();
  // Same pids, but every lifetime misses its event by more than the slack, or another pid.
  const std::vector<SessionProcess> processes = {
      {"guid-git", 0x1a3c, At("2026-11-22T09:14:04Z"), At("2026-11-22T09:14:10Z")},  // later
      {"guid-cat", 0x2f0, At("2026-11-22T09:15:00Z"), At("2026-11-22T09:15:40Z")},   // earlier
      {"guid-curl", 6749, 0, 0},                                                     // pid
  };
  const DenialAttribution result = AttributeSessionDenials(facts, processes, Scope());
  EXPECT_TRUE(result.events.empty());
  EXPECT_EQ(result.other_process, 4u);
  EXPECT_EQ(result.within_slack, 0u);
}

TEST(WindowsDenialAttribution, AnEventAtTheEdgeOfALifetimeIsAttributedWithinTheSlackAndCounted) {
  const std::vector<WindowsDenialFact> facts = {
      Fact("win-event-5157-tcp4.xml")};  // 09:16:02.731187
  const std::vector<SessionProcess> processes = {
      {"guid-curl", 6748, At("2026-11-22T09:16:00Z"), At("2026-11-22T09:16:02.7Z")},  // 31 ms
  };
  DenialScope scope = Scope();
  DenialAttribution near = AttributeSessionDenials(facts, processes, scope);
  ASSERT_EQ(near.events.size(), 1u);
  EXPECT_EQ(Denial(near.events[0]).process_guid, "guid-curl");
  EXPECT_EQ(near.within_slack, 1u);

  scope.slack = 10'000'000;  // 10 ms: too far now
  DenialAttribution far = AttributeSessionDenials(facts, processes, scope);
  EXPECT_TRUE(far.events.empty());
  EXPECT_EQ(far.other_process, 1u);
}

TEST(WindowsDenialAttribution, APidReusedWithinTheSessionNamesTheProcessAliveAtTheTime) {
  WindowsDenialFact early = Fact("win-event-5157-tcp4.xml");
  WindowsDenialFact late = early;
  early.time = At("2026-11-22T09:14:30Z");
  late.time = At("2026-11-22T09:16:30Z");
  const std::vector<SessionProcess> processes = {
      // Start unknown, end known: its interval is open to the left and covers both times; the
      // process with a known start before the event is the better answer (listed first so that
      // the order of the list cannot decide).
      {"guid-unknown", 6748, 0, At("2026-11-22T09:16:50Z")},
      {"guid-second", 6748, At("2026-11-22T09:16:00Z"), At("2026-11-22T09:16:40Z")},
      {"guid-first", 6748, At("2026-11-22T09:14:00Z"), At("2026-11-22T09:15:00Z")},
  };
  const DenialAttribution result = AttributeSessionDenials({early, late}, processes, Scope());
  ASSERT_EQ(result.events.size(), 2u);
  EXPECT_EQ(Denial(result.events[0]).process_guid, "guid-first");
  EXPECT_EQ(Denial(result.events[1]).process_guid, "guid-second");
  EXPECT_EQ(result.events[0].time, early.time);
  EXPECT_EQ(result.events[1].time, late.time);
}

TEST(WindowsDenialAttribution, EventsOutsideTheSessionWindowOrUndatedAreNotAttributed) {
  WindowsDenialFact before = Fact("win-event-4656-write.xml");
  WindowsDenialFact after = before, undated = before, inside = before;
  before.time = At("2026-11-22T09:12:59.999999999Z");
  after.time = At("2026-11-22T09:17:00.000000001Z");
  undated.time = 0;
  const std::vector<SessionProcess> processes = {{"guid-git", 0x1a3c, 0, 0}};
  const DenialAttribution result =
      AttributeSessionDenials({before, after, undated, inside}, processes, Scope());
  ASSERT_EQ(result.events.size(), 1u);
  EXPECT_EQ(result.events[0].time, inside.time);
  EXPECT_EQ(result.outside_window, 2u);
  EXPECT_EQ(result.undated, 1u);

  DenialScope open = Scope();
  open.end = 0;  // no end: only the start bounds it
  EXPECT_EQ(AttributeSessionDenials({after}, processes, open).events.size(), 1u);
}

TEST(WindowsDenialAttribution, TheProcessIndexMergesExecAndExitEventsByGuid) {
  SessionProcessIndex index;
  auto process = [](ProcessPhase phase, const char* guid, std::int64_t pid, TimeNs start,
                    TimeNs end) {
    Event event;
    event.session_id = kSession;
    ProcessEvent body;
    body.phase = phase;
    body.process_guid = guid;
    body.pid = pid;
    body.start_time = start;
    body.end_time = end;
    event.body = body;
    return event;
  };
  index.Add(process(ProcessPhase::kExec, "g-b", 20, 1000, 0));
  index.Add(process(ProcessPhase::kExec, "g-a", 10, 500, 0));
  index.Add(process(ProcessPhase::kExit, "g-b", 20, 1000, 3000));
  index.Add(process(ProcessPhase::kExit, "g-c", 30, 0, 0));  // unannounced, gone: pid only
  index.Add(process(ProcessPhase::kExit, "g-a", 10, 0, 0));  // exit without times keeps start
  Event denial;
  denial.body = DenialEvent{};
  index.Add(denial);  // not a process: ignored
  const std::vector<SessionProcess> expected = {
      {"g-a", 10, 500, 0}, {"g-b", 20, 1000, 3000}, {"g-c", 30, 0, 0}};
  EXPECT_EQ(index.Processes(), expected);
}

TEST(WindowsDenialAttribution, TheQueryIsBoundedOnBothSidesWhenAnEndIsGiven) {
  auto xpath =
      SecurityDenialXPath({kOfflineSid}, At("2026-11-22T09:13:00Z"), At("2026-11-22T09:17:00Z"));
  ASSERT_TRUE(xpath.ok()) << xpath.error().ToString();
  EXPECT_NE(xpath->find("System[TimeCreated[@SystemTime>='2026-11-22T09:13:00.000000000Z']]"),
            std::string::npos)
      << *xpath;
  EXPECT_NE(xpath->find("System[TimeCreated[@SystemTime<='2026-11-22T09:17:00.000000000Z']]]"),
            std::string::npos)
      << *xpath;
  auto open = SecurityDenialXPath({kOfflineSid}, 0, 0);
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(open->find("TimeCreated"), std::string::npos) << *open;
}

}  // namespace
}  // namespace stockade::audit
