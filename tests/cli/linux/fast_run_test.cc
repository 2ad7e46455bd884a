// ParseFastRun: the `stockade run` lines the lean `stockade` runs itself, and the ones it must
// hand to the full command line (stockade-cli) so that its parser answers them.
#include "cli/common/linux/fast_run.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace stockade::cli {
namespace {

using Args = std::vector<std::string>;

TEST(FastRunTest, PlainRunIsParsedWithEveryOption) {
  auto options = ParseFastRun(
      {"stockade",  "--state-dir", "/s",    "run",       "--identity", "online",   "--workspace=/w",
       "--timeout", "1.5",         "--env", "A=1",       "--env=B=2",  "--socket", "/s/x.sock",
       "--policy",  "/p.toml",     "--",    "/bin/echo", "--identity", "--"},
      nullptr);
  ASSERT_TRUE(options.has_value());
  EXPECT_EQ(options->identity, "online");
  EXPECT_EQ(options->workspace, "/w");
  EXPECT_EQ(options->timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(options->env, (Args{"A=1", "B=2"}));
  EXPECT_EQ(options->socket_path, "/s/x.sock");
  EXPECT_EQ(options->policy_path, "/p.toml");
  EXPECT_EQ(options->state_dir, "/s");
  EXPECT_FALSE(options->unprovisioned);
  // Everything after the first "--" is the command, options included.
  EXPECT_EQ(options->argv, (Args{"/bin/echo", "--identity", "--"}));
}

TEST(FastRunTest, DefaultsAreTheFullParsersDefaults) {
  auto options = ParseFastRun({"stockade", "run", "--", "true"}, nullptr);
  ASSERT_TRUE(options.has_value());
  EXPECT_EQ(options->identity, "offline");
  EXPECT_EQ(options->workspace, "");
  EXPECT_EQ(options->timeout.count(), 0);
  EXPECT_TRUE(options->env.empty());
  EXPECT_EQ(options->socket_path, "");
  EXPECT_EQ(options->argv, (Args{"true"}));
}

TEST(FastRunTest, TimeoutIsConvertedAsRunCommandDoes) {
  // A positive timeout below a millisecond becomes 1 ms (run_command.cc), not "none".
  auto tiny = ParseFastRun({"stockade", "run", "--timeout", "0.0001", "--", "true"}, nullptr);
  ASSERT_TRUE(tiny.has_value());
  EXPECT_EQ(tiny->timeout, std::chrono::milliseconds(1));
  auto zero = ParseFastRun({"stockade", "run", "--timeout", "0", "--", "true"}, nullptr);
  ASSERT_TRUE(zero.has_value());
  EXPECT_EQ(zero->timeout.count(), 0);
  auto week = ParseFastRun({"stockade", "run", "--timeout", "604800", "--", "true"}, nullptr);
  ASSERT_TRUE(week.has_value());
  EXPECT_EQ(week->timeout, std::chrono::milliseconds(604800000LL));
}

TEST(FastRunTest, EverythingElseGoesToTheFullCommandLine) {
  const std::vector<Args> handed_over = {
      {"stockade"},
      {"stockade", "--version"},
      {"stockade", "--help"},
      {"stockade", "audit", "query"},
      {"stockade", "run"},
      {"stockade", "run", "--help"},
      {"stockade", "run", "-h", "--", "true"},
      {
          "stockade",
          "run",
          "--",
      },
      {"stockade", "run", "true"},  // no "--"
      {"stockade", "run", "--unprovisioned", "--", "true"},
      {"stockade", "run", "--identity", "admin", "--", "true"},
      {"stockade", "run", "--identity", "offline", "--identity", "online", "--", "true"},
      {"stockade", "--policy", "/a", "run", "--policy", "/b", "--", "true"},
      {"stockade", "run", "--timeout", "1e3", "--", "true"},
      {"stockade", "run", "--timeout", "-1", "--", "true"},
      {"stockade", "run", "--timeout", "604801", "--", "true"},  // over the protocol's limit
      {"stockade", "run", "--timeout", "", "--", "true"},
      {"stockade", "run", "--workspace", "--", "true"},
      {"stockade", "run", "--workspace"},
      {"stockade", "run", "--socket=", "--", "true"},
      {"stockade", "run", "--frobnicate", "1", "--", "true"},
      {"stockade", "--identity", "offline", "run", "--", "true"},  // a run option before `run`
      {"stockade", "selftest", "--", "run"},
  };
  for (const Args& args : handed_over) {
    std::string line;
    for (const auto& a : args) line += a + " ";
    EXPECT_FALSE(ParseFastRun(args, nullptr).has_value()) << line;
  }
}

TEST(FastRunTest, UnprovisionedEnvironmentGoesToTheFullCommandLine) {
  const Args args = {"stockade", "run", "--", "true"};
  EXPECT_FALSE(ParseFastRun(args, "1").has_value());
  // Only "1" selects the mode (runner/client: kUnprovisionedEnv).
  EXPECT_TRUE(ParseFastRun(args, "0").has_value());
  EXPECT_TRUE(ParseFastRun(args, "").has_value());
}

}  // namespace
}  // namespace stockade::cli
