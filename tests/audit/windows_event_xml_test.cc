// The Security-log event parser (audit/windows_event_xml.h), on Linux and under Wine alike, from
// fixtures written after Microsoft's documented 4656 and 5157 schemas
// (tests/data/audit/win-event-*.xml: the one-line, single-quoted form EvtRender produces and
// the indented form Event Viewer shows), and from malformed input that must be refused with
// the offset of the problem.
#include "audit/windows_event_xml.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace stockade::audit {
namespace {

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(STOCKADE_TEST_DATA_DIR) + "/audit/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(WindowsEventXml, ParsesTheSystemPartAndEveryDataElementOf4656) {
  const std::string xml = Fixture("win-event-4656-write.xml");
  auto record = ParseWindowsEventXml(xml);
  ASSERT_TRUE(record.ok()) << record.error().ToString();
  EXPECT_EQ(record->provider, "Microsoft-Windows-Security-Auditing");
  EXPECT_EQ(record->event_id, 4656u);
  EXPECT_EQ(record->keywords, 0x8010000000000000ULL);
  EXPECT_EQ(record->system_time, "2026-11-22T09:14:03.5512345Z");
  EXPECT_EQ(FormatTime(record->time), "2026-11-22T09:14:03.551234500Z");
  EXPECT_EQ(record->record_id, 918273u);
  EXPECT_EQ(record->channel, "Security");
  EXPECT_EQ(record->computer, "BUILD-07.corp.example");
  EXPECT_EQ(record->logging_pid, 4);
  ASSERT_EQ(record->data.size(), 17u);  // the documented 4656 (version 1) fields
  EXPECT_EQ(record->data.front().name, "SubjectUserSid");
  EXPECT_EQ(record->data.back().name, "ResourceAttributes");
  ASSERT_NE(record->Find("ObjectName"), nullptr);
  EXPECT_EQ(*record->Find("ObjectName"), "C:\\Users\\dev\\repo\\.git\\config");
  EXPECT_EQ(record->Find("NoSuchField"), nullptr);
}

TEST(WindowsEventXml, A4656WriteFailureBecomesAFileWriteDenial) {
  const std::string xml = Fixture("win-event-4656-write.xml");
  auto fact = ParseWindowsDenialXml(xml);
  ASSERT_TRUE(fact.ok()) << fact.error().ToString();
  const DenialEvent& d = fact->denial;
  EXPECT_EQ(d.category, DenialCategory::kFileWrite);
  EXPECT_EQ(d.source, DenialSource::kWin4656);
  EXPECT_EQ(d.target, "C:\\Users\\dev\\repo\\.git\\config");
  // 0x120116: the rights in AccessList, by their documented names, lowest bit first.
  EXPECT_EQ(d.access, "WriteData|AppendData|WriteEA|WriteAttributes|READ_CONTROL|SYNCHRONIZE");
  EXPECT_EQ(d.pid, 0x1a3c);
  EXPECT_EQ(d.evidence, xml);
  EXPECT_TRUE(d.process_guid.empty());  // correlation is the collector's job
  EXPECT_EQ(fact->subject_sid, "S-1-5-21-1004336348-1177238915-682003330-1013");
  EXPECT_EQ(fact->process_image, "C:\\Program Files\\Git\\mingw64\\bin\\git.exe");
  EXPECT_EQ(fact->record_id, 918273u);
}

TEST(WindowsEventXml, EntitiesAndCharacterReferencesAreDecodedInAReadDenial) {
  auto fact = ParseWindowsDenialXml(Fixture("win-event-4656-read.xml"));
  ASSERT_TRUE(fact.ok()) << fact.error().ToString();
  EXPECT_EQ(fact->denial.category, DenialCategory::kFileRead);
  EXPECT_EQ(fact->denial.target,
            "C:\\Users\\J\xC3\xBCrgen\\.ssh\\id_<work> & caf\xC3\xA9 'key' \"rsa\"");
  EXPECT_EQ(fact->denial.access, "ReadData|ReadAttributes|SYNCHRONIZE");
  EXPECT_EQ(fact->denial.pid, 0x2f0);
  EXPECT_EQ(fact->time, *ParseTime("2026-11-22T09:15:41.0000001Z"));
}

TEST(WindowsEventXml, A4656SuccessAuditIsNotADenial) {
  auto fact = ParseWindowsDenialXml(Fixture("win-event-4656-success.xml"));
  ASSERT_FALSE(fact.ok());
  EXPECT_EQ(fact.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(fact.error().context().find("not a failure audit"), std::string::npos)
      << fact.error().ToString();
}

TEST(WindowsEventXml, A5157BlockBecomesANetworkDenialWithAddressPortAndProtocol) {
  const std::string xml = Fixture("win-event-5157-tcp4.xml");
  auto fact = ParseWindowsDenialXml(xml);
  ASSERT_TRUE(fact.ok()) << fact.error().ToString();
  EXPECT_EQ(fact->denial.category, DenialCategory::kNetwork);
  EXPECT_EQ(fact->denial.source, DenialSource::kWin5157);
  EXPECT_EQ(fact->denial.target, "140.82.121.4:443");
  EXPECT_EQ(fact->denial.access, "connect tcp");
  EXPECT_EQ(fact->denial.pid, 6748);  // decimal in 5157, unlike 4656's hex ProcessId
  EXPECT_EQ(fact->process_image,
            "\\device\\harddiskvolume3\\program files\\git\\mingw64\\bin\\curl.exe");
  EXPECT_TRUE(fact->subject_sid.empty());
  EXPECT_EQ(fact->denial.evidence, xml);

  auto v6 = ParseWindowsDenialXml(Fixture("win-event-5157-udp6.xml"));
  ASSERT_TRUE(v6.ok()) << v6.error().ToString();
  EXPECT_EQ(v6->denial.target, "[2001:4860:4860::8888]:53");
  EXPECT_EQ(v6->denial.access, "send udp");
  EXPECT_EQ(v6->denial.pid, 7012);
}

TEST(WindowsEventXml, AccessListStandsInForAMissingAccessMask) {
  std::string xml = Fixture("win-event-4656-write.xml");
  const std::string mask = "<Data Name='AccessMask'>0x120116</Data>";
  const auto at = xml.find(mask);
  ASSERT_NE(at, std::string::npos);
  xml.erase(at, mask.size());
  auto fact = ParseWindowsDenialXml(xml);
  ASSERT_TRUE(fact.ok()) << fact.error().ToString();
  EXPECT_EQ(fact->denial.category, DenialCategory::kFileWrite);
  EXPECT_EQ(fact->denial.access,
            "WriteData|AppendData|WriteEA|WriteAttributes|READ_CONTROL|SYNCHRONIZE");
}

TEST(WindowsEventXml, NonFileObjectsAndOtherEventsAreNotFileDenials) {
  std::string xml = Fixture("win-event-4656-write.xml");
  xml.replace(xml.find("'ObjectType'>File<"), 18, "'ObjectType'>Key<");
  auto key = ParseWindowsDenialXml(xml);
  ASSERT_TRUE(key.ok()) << key.error().ToString();
  EXPECT_EQ(key->denial.category, DenialCategory::kOther);
  EXPECT_EQ(key->denial.access.rfind("Key ", 0), 0u) << key->denial.access;

  std::string other = Fixture("win-event-5157-tcp4.xml");
  other.replace(other.find("<EventID>5157<"), 14, "<EventID>4688<");
  auto not_denial = ParseWindowsDenialXml(other);
  ASSERT_FALSE(not_denial.ok());
  EXPECT_NE(not_denial.error().context().find("4688"), std::string::npos);
}

TEST(WindowsEventXml, MissingFieldsAreNamed) {
  std::string xml = Fixture("win-event-5157-tcp4.xml");
  xml.replace(xml.find("<Data Name='DestPort'>443</Data>"), 32, "");
  auto fact = ParseWindowsDenialXml(xml);
  ASSERT_FALSE(fact.ok());
  EXPECT_NE(fact.error().context().find("DestPort"), std::string::npos) << fact.error().ToString();
}

// Each malformed document is refused with kInvalidArgument, and the offset in the message is
// where the problem is.
TEST(WindowsEventXml, MalformedXmlIsRefusedWithTheOffset) {
  struct Case {
    std::string xml;
    std::string what;
    std::size_t offset;
  };
  const std::string head = "<Event><System><EventID>4656</EventID></System><EventData>";
  const std::vector<Case> cases = {
      {"", "expected the root element", 0},
      {"<Event>", "<Event> is not closed", 7},
      {"<Event></Evnt>", "</Evnt> closes <Event>", 9},
      {head + "<Data Name='x'>a &bogus; b</Data>", "unknown entity '&bogus;'", head.size() + 17},
      {head + "<Data Name='x'>a & b</Data>", "'&' without a terminated entity", head.size() + 17},
      {head + "<Data Name='x'>&#0;</Data>", "invalid character reference", head.size() + 15},
      {head + "<Data Name='x'>&#xD800;</Data>", "invalid character reference", head.size() + 15},
      {head + "<Data Name=x>v</Data>", "expected a quoted attribute value", head.size() + 11},
      {head + "<Data Name='x' Name='y'>v</Data>", "duplicate attribute Name", head.size() + 23},
      {head + "<Data Name='a<b'>v</Data>", "'<' inside an attribute value", head.size() + 13},
      {"<!DOCTYPE Event [<!ENTITY x 'y'>]><Event/>", "a DOCTYPE is not accepted", 0},
      {"<Event/><Event/>", "content after the root element", 8},
      {"<Event><!-- open", "unterminated comment", 7},
      {"<Event><System><EventID>1</EventID></System></Event>trailing", "content after the root",
       52},
  };
  for (const Case& c : cases) {
    auto record = ParseWindowsEventXml(c.xml);
    ASSERT_FALSE(record.ok()) << c.xml;
    EXPECT_EQ(record.error().code(), ErrorCode::kInvalidArgument) << c.xml;
    EXPECT_NE(record.error().context().find(c.what), std::string::npos)
        << c.xml << " -> " << record.error().ToString();
    EXPECT_NE(record.error().context().find("at offset " + std::to_string(c.offset)),
              std::string::npos)
        << c.xml << " -> " << record.error().ToString();
  }
}

TEST(WindowsEventXml, NestingIsBounded) {
  std::string deep;
  for (int i = 0; i < kMaxEventXmlDepth + 5; ++i) deep += "<a>";
  auto record = ParseWindowsEventXml(deep);
  ASSERT_FALSE(record.ok());
  EXPECT_NE(record.error().context().find("nested too deeply"), std::string::npos);
}

TEST(WindowsEventXml, StructurallyValidButNotAnEventIsRefused) {
  auto wrong_root = ParseWindowsEventXml("<Events/>");
  ASSERT_FALSE(wrong_root.ok());
  EXPECT_NE(wrong_root.error().context().find("expected <Event>"), std::string::npos);
  auto no_id = ParseWindowsEventXml("<Event><System><EventID>x</EventID></System></Event>");
  ASSERT_FALSE(no_id.ok());
  EXPECT_NE(no_id.error().context().find("EventID"), std::string::npos);
  auto cdata = ParseWindowsEventXml(
      "<e:Event xmlns:e='x'><e:System><e:EventID><![CDATA[5157]]></e:EventID></e:System>"
      "</e:Event>");
  ASSERT_TRUE(cdata.ok()) << cdata.error().ToString();  // prefixes and CDATA are fine
  EXPECT_EQ(cdata->event_id, 5157u);
}

TEST(WindowsEventXml, FileAccessNamesNameEveryBit) {
  EXPECT_EQ(FileAccessNames(0x2), "WriteData");
  EXPECT_EQ(FileAccessNames(0x40000000), "GENERIC_WRITE");
  EXPECT_EQ(FileAccessNames(0x10000 | 0x200), "DELETE|0x200");
  EXPECT_EQ(FileAccessNames(0), "0x0");
}

TEST(WindowsEventXml, TheSecurityLogQuerySelectsFailuresOfTheSidsAndWfpBlocks) {
  auto query = SecurityDenialXPath({"S-1-5-21-1-2-3-1013", "S-1-5-21-1-2-3-1014"},
                                   *ParseTime("2026-11-22T09:00:00Z"));
  ASSERT_TRUE(query.ok()) << query.error().ToString();
  EXPECT_EQ(*query,
            "*[((System[EventID=4656 and band(Keywords,4503599627370496)] and "
            "EventData[Data[@Name='SubjectUserSid']='S-1-5-21-1-2-3-1013' or "
            "Data[@Name='SubjectUserSid']='S-1-5-21-1-2-3-1014']) or System[EventID=5157]) and "
            "System[TimeCreated[@SystemTime>='2026-11-22T09:00:00.000000000Z']]]");
  // A SID is spliced into the query text: anything but S-digits-dashes is refused.
  EXPECT_FALSE(SecurityDenialXPath({"S-1-5' or '1'='1"}, 0).ok());
  EXPECT_FALSE(SecurityDenialXPath({}, 0).ok());
}

}  // namespace
}  // namespace stockade::audit
