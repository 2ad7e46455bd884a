// `stockade audit report --html` opened in headless Chromium (Debian's `chromium`): the page
// renders (the screenshot is not blank and shows the timeline's spawn and denial colours) and
// the DOM Chromium built has the timeline and the expected sessions.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <regex>

#include "tests/audit_review/linux/review_support.h"
#include "tests/audit_review/review_test_events.h"

namespace stockade::audit::testing {
namespace {

using namespace std::chrono_literals;
constexpr TimeNs kT0 = 1795335338000000000;

std::size_t Count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t p = haystack.find(needle); p != std::string::npos;
       p = haystack.find(needle, p + needle.size())) {
    ++n;
  }
  return n;
}

// Pixels within `tolerance` of the colour in every channel.
std::size_t PixelsNear(const Image& image, int r, int g, int b, int tolerance) {
  std::size_t n = 0;
  for (std::size_t i = 0; i + 2 < image.rgb.size(); i += 3) {
    if (std::abs(image.rgb[i] - r) <= tolerance && std::abs(image.rgb[i + 1] - g) <= tolerance &&
        std::abs(image.rgb[i + 2] - b) <= tolerance) {
      ++n;
    }
  }
  return n;
}

TEST(ReportChromiumTest, ReportRendersWithTimelineAndSessions) {
  const std::string chromium = "/usr/bin/chromium";
  if (!std::filesystem::exists(chromium)) {
    GTEST_SKIP() << "chromium is not installed (scripts/deps.sh installs it)";
  }
  const std::string dir = MakeTempDir("stockade-report");
  ASSERT_FALSE(dir.empty());
  const std::string store = dir + "/audit.db";
  ASSERT_EQ(WriteStore(store, MakeReviewEvents(7, 40, 6, kT0)), "");
  const std::string html = dir + "/report.html";
  CommandResult r =
      RunCommand({StockadeBinary(), "audit", "report", "--store", store, "--html", html}, 60s);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("7 sessions, 280 spawns, 42 denials"), std::string::npos) << r.output;

  const std::vector<std::string> common = {chromium,
                                           "--headless",
                                           "--no-sandbox",
                                           "--disable-gpu",
                                           "--user-data-dir=" + dir + "/profile",
                                           "--window-size=1280,900"};
  std::vector<std::string> shot = common;
  shot.push_back("--screenshot=" + dir + "/shot.png");
  shot.push_back("file://" + html);
  r = RunCommand(shot, 120s);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Image image;
  std::string error;
  ASSERT_TRUE(DecodePng(ReadFile(dir + "/shot.png"), &image, &error)) << error;
  EXPECT_EQ(image.width, 1280);
  EXPECT_EQ(image.height, 900);
  double sum = 0, sum2 = 0;
  for (std::uint8_t v : image.rgb) {
    sum += v;
    sum2 += static_cast<double>(v) * v;
  }
  const double n = static_cast<double>(image.rgb.size());
  const double variance = sum2 / n - (sum / n) * (sum / n);
  RecordProperty("pixel_variance", static_cast<int>(variance));
  EXPECT_GT(variance, 200.0) << "the screenshot is (nearly) uniform";
  // The header band (#1d2430), the spawn ticks (#2f6fdf) and the denial crosses (#d2352b) are
  // on screen: the timeline was drawn, not just text.
  const std::size_t header = PixelsNear(image, 0x1d, 0x24, 0x30, 6);
  const std::size_t spawn = PixelsNear(image, 0x2f, 0x6f, 0xdf, 24);
  const std::size_t denial = PixelsNear(image, 0xd2, 0x35, 0x2b, 24);
  RecordProperty("spawn_pixels", static_cast<int>(spawn));
  RecordProperty("denial_pixels", static_cast<int>(denial));
  EXPECT_GT(header, 1280u * 40);
  EXPECT_GT(spawn, 200u);
  EXPECT_GT(denial, 50u);

  std::vector<std::string> dump = common;
  dump.push_back("--dump-dom");
  dump.push_back("file://" + html);
  r = RunCommand(dump, 120s);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("<svg id=\"timeline\""), std::string::npos);
  EXPECT_NE(r.output.find("data-session-count=\"7\""), std::string::npos);
  EXPECT_EQ(Count(r.output, "<tr class=\"session\">"), 7u);
  // The hostile target stayed text: the DOM has no element made from it.
  EXPECT_EQ(Count(r.output, "<script"), 1u);
  EXPECT_NE(r.output.find("&lt;script&gt;alert"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace stockade::audit::testing
