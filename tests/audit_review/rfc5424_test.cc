// RFC 5424 formatting of audit events: header fields, structured-data escaping, UTF-8 repair,
// octet-counting framing, and the parameters of each event kind.
#include "audit/syslog/rfc5424.h"

#include <gtest/gtest.h>

#include <string>

#include "audit/review/utf8.h"

namespace stockade::audit::syslog {
namespace {

// 2026-11-22T08:15:38.123456789Z
constexpr TimeNs kTime = 1795335338123456789;

Event Denial(std::string target) {
  Event e;
  e.seq = 42;
  e.time = kTime;
  e.host = "build-07";
  e.session_id = "6f1c2d3e-0000-4000-8000-000000000001";
  DenialEvent d;
  d.category = DenialCategory::kFileWrite;
  d.target = std::move(target);
  d.access = "write";
  d.pid = 4242;
  d.process_guid = "g-1";
  d.source = DenialSource::kLandlock;
  d.evidence = "type=LANDLOCK_ACCESS msg=audit(1.2:3): domain=1 blockers=fs.write_file";
  e.body = d;
  return e;
}

TEST(Rfc5424Test, EscapesQuoteBackslashAndBracketOnly) {
  EXPECT_EQ(EscapeParamValue(R"(a"b\c]d[e=f g)"), R"(a\"b\\c\]d[e=f g)");
  EXPECT_EQ(EscapeParamValue(""), "");
  EXPECT_EQ(EscapeParamValue("\\\\"), "\\\\\\\\");
}

TEST(Rfc5424Test, RepairsInvalidUtf8InValues) {
  // A lone continuation byte, an overlong "/" and a surrogate each become one U+FFFD.
  EXPECT_EQ(EscapeParamValue("a\x80z"), "a\xEF\xBF\xBDz");
  EXPECT_EQ(review::ToValidUtf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(review::ToValidUtf8("\xED\xA0\x80!"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD!");
  // A truncated 3-byte sequence is one maximal subpart: one U+FFFD.
  EXPECT_EQ(review::ToValidUtf8("\xE2\x82x"), "\xEF\xBF\xBDx");
  EXPECT_EQ(review::ToValidUtf8("h\xC3\xA9 \xF0\x9F\x94\x92"), "h\xC3\xA9 \xF0\x9F\x94\x92");
  EXPECT_EQ(review::Utf8Prefix("ab\xC3\xA9", 3), "ab");
}

TEST(Rfc5424Test, FormatsDenialWithHeaderAndStructuredData) {
  const std::string m = FormatEvent(Denial(R"(/w/a"b\c]d)"), SyslogOptions{});
  // PRI = facility 13 * 8 + severity 4 (warning) = 108; 6 fractional digits; NILVALUE procid.
  EXPECT_EQ(m.rfind("<108>1 2026-11-22T08:15:38.123456Z build-07 stockade - denial "
                    "[stockade@32473 seq=\"42\" version=\"1\" "
                    "time=\"2026-11-22T08:15:38.123456789Z\" "
                    "session=\"6f1c2d3e-0000-4000-8000-000000000001\" kind=\"denial\" "
                    "category=\"file_write\" target=\"/w/a\\\"b\\\\c\\]d\" access=\"write\" "
                    "pid=\"4242\" process_guid=\"g-1\" source=\"landlock\" evidence=\"",
                    0),
            0u)
      << m;
  EXPECT_NE(m.find("] denied write /w/a\"b\\c]d (pid 4242, landlock)"), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos);
}

TEST(Rfc5424Test, ProcessArgvIsAJsonArrayAndHeaderFieldsArePrintable) {
  Event e;
  e.seq = 7;
  e.time = kTime;
  e.host = "host with space\xC3\xA9";
  e.session_id = "s";
  ProcessEvent p;
  p.phase = ProcessPhase::kExit;
  p.pid = 10;
  p.image = "/usr/bin/sh";
  p.argv = {"sh", "-c", "echo \"]\""};
  p.exit.code = 3;
  e.body = p;
  SyslogOptions options;
  options.facility = 10;
  options.procid = "123";
  const std::string m = FormatEvent(e, options);
  EXPECT_EQ(m.rfind("<86>1 2026-11-22T08:15:38.123456Z host_with_space__ stockade 123 process ", 0),
            0u)
      << m;
  // argv as JSON, then escaped for SD: ["sh","-c","echo \"]\""] -> quotes and ] escaped again.
  EXPECT_NE(m.find(R"(argv="[\"sh\",\"-c\",\"echo \\\"\]\\\"\"\]")"), std::string::npos) << m;
  EXPECT_NE(m.find("exit_code=\"3\""), std::string::npos);
  EXPECT_NE(m.find("phase=\"exit\""), std::string::npos);
}

TEST(Rfc5424Test, LongValuesAreCutAndNamed) {
  Event e = Denial("/t");
  std::get<DenialEvent>(e.body).evidence = std::string(10000, 'x');
  SyslogOptions options;
  options.max_value_bytes = 100;
  const std::string m = FormatEvent(e, options);
  EXPECT_NE(m.find("evidence=\"" + std::string(100, 'x') + "\""), std::string::npos);
  EXPECT_NE(m.find("truncated=\"evidence\"]"), std::string::npos) << m;
  EXPECT_LT(m.size(), 1000u);
}

TEST(Rfc5424Test, OctetCountingCountsBytes) {
  EXPECT_EQ(FrameOctetCounted("<13>1 - - - - - - h\xC3\xA9"), "21 <13>1 - - - - - - h\xC3\xA9");
  const std::string m = FormatEvent(Denial("/x"), SyslogOptions{});
  const std::string framed = FrameOctetCounted(m);
  const std::size_t space = framed.find(' ');
  EXPECT_EQ(std::stoul(framed.substr(0, space)), m.size());
  EXPECT_EQ(framed.substr(space + 1), m);
}

TEST(Rfc5424Test, NilValuesAndClampedPriority) {
  SyslogMessage m;
  m.facility = 99;
  m.severity = -3;
  EXPECT_EQ(Format(m), "<184>1 - - - - - -");
  EXPECT_EQ(FormatTimestamp(0), "1970-01-01T00:00:00.000000Z");
}

}  // namespace
}  // namespace stockade::audit::syslog
