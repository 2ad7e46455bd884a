// The HTML report: counts, the sections and their ids, escaping of everything that came from
// events, self-containment (no external reference), and mark thinning.
#include "audit/report/html_report.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "tests/audit_review/review_test_events.h"

namespace stockade::audit::report {
namespace {

constexpr TimeNs kT0 = 1795335338000000000;

std::size_t Count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

std::string Render(int sessions, int spawns, int denials, ReportOptions options = {}) {
  ReportBuilder builder(std::move(options));
  for (const Event& e : testing::MakeReviewEvents(sessions, spawns, denials, kT0)) builder.Add(e);
  return builder.Render();
}

TEST(HtmlReportTest, EscapesEveryEventString) {
  EXPECT_EQ(HtmlEscape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(HtmlEscape("bad\xFF\x01"), "bad\xEF\xBF\xBD\xEF\xBF\xBD");

  const std::string html = Render(3, 5, 4);
  // The only <script> is the report's own; the hostile target appears escaped.
  EXPECT_EQ(Count(html, "<script"), 1u);
  EXPECT_EQ(html.find("alert(\""), std::string::npos);
  EXPECT_NE(
      html.find("/w/&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;]\\&#39;\xEF\xBF\xBD.txt"),
      std::string::npos);
  EXPECT_EQ(html.find("dev<b>"), std::string::npos);
  EXPECT_NE(html.find("dev&lt;b&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<i>"), std::string::npos);
}

TEST(HtmlReportTest, SelfContainedWithNoExternalReference) {
  ReportOptions options;
  options.title = "T";
  options.store_path = "/var/lib/stockade/a.db";
  const std::string html = Render(2, 3, 2, options);
  EXPECT_NE(html.find("Content-Security-Policy\" content=\"default-src 'none'"), std::string::npos);
  // No src=/href= attributes and no url(...) at all: nothing to fetch.
  EXPECT_EQ(html.find(" src="), std::string::npos);
  EXPECT_EQ(html.find(" href="), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
  EXPECT_NE(html.find("<title>T</title>"), std::string::npos);
}

TEST(HtmlReportTest, SectionsAndCounts) {
  ReportBuilder builder({});
  for (const Event& e : testing::MakeReviewEvents(4, 10, 6, kT0)) builder.Add(e);
  const ReportCounts c = builder.counts();
  EXPECT_EQ(c.sessions, 4u);
  EXPECT_EQ(c.spawns, 40u);
  EXPECT_EQ(c.denials, 24u);
  EXPECT_EQ(c.events, 4u * (2 + 10 + 6));
  const std::string html = builder.Render();
  EXPECT_NE(html.find("id=\"sessions\" data-session-count=\"4\""), std::string::npos);
  EXPECT_EQ(Count(html, "<tr class=\"session\">"), 4u);
  EXPECT_NE(html.find("<svg id=\"timeline\""), std::string::npos);
  EXPECT_NE(html.find("data-lanes=\"4\" data-spawn-marks=\"40\" data-denial-marks=\"24\""),
            std::string::npos);
  EXPECT_EQ(Count(html, "class=\"spawn\""), 40u);
  EXPECT_EQ(Count(html, "class=\"denial\""), 24u);
  EXPECT_EQ(Count(html, "class=\"session-bar\""), 4u);
  // sh is 2 of every 5 spawns: 16 of 40, the top command.
  const std::size_t top = html.find("<tr>", html.find("<tbody>", html.find("id=\"top-commands\"")));
  const std::string first_row = "<tr><td><code>sh</code></td><td class=\"num\" data-v=\"16\"";
  EXPECT_EQ(html.compare(top, first_row.size(), first_row), 0) << html.substr(top, 80);
  EXPECT_NE(html.find("<tr><td>file_write</td><td class=\"num\">12</td></tr>"), std::string::npos);
  EXPECT_NE(html.find("<tr><td>network</td><td class=\"num\">12</td></tr>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"code\">10.0.0.1:443</td><td>network</td><td>connect tcp</td>"
                      "<td>nflog</td>"),
            std::string::npos);
  EXPECT_NE(html.find("exit 2"), std::string::npos);
}

TEST(HtmlReportTest, ThinsMarksAndLanesBeyondTheLimits) {
  ReportOptions options;
  options.max_marks = 100;
  options.max_lanes = 3;
  ReportBuilder builder(options);
  for (const Event& e : testing::MakeReviewEvents(5, 300, 0, kT0)) builder.Add(e);
  EXPECT_EQ(builder.counts().spawns, 1500u);
  const std::string html = builder.Render();
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(html, m, std::regex("data-lanes=\"(\\d+)\" data-spawn-marks=\"(\\d+)\"")));
  EXPECT_EQ(m[1].str(), "3");
  const int kept = std::stoi(m[2].str());
  EXPECT_GT(kept, 50);
  EXPECT_LE(kept, 100);
  EXPECT_NE(html.find("the 2 oldest sessions are not drawn"), std::string::npos);
  EXPECT_NE(html.find("1 spawn in 16 drawn"), std::string::npos);
  // All sessions are still listed in the table.
  EXPECT_EQ(Count(html, "<tr class=\"session\">"), 5u);
}

TEST(HtmlReportTest, EmptySelection) {
  const std::string html = Render(0, 0, 0);
  EXPECT_NE(html.find("data-session-count=\"0\""), std::string::npos);
  EXPECT_NE(html.find("no sessions in the selected events"), std::string::npos);
}

}  // namespace
}  // namespace stockade::audit::report
