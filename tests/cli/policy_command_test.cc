// `stockade policy check|show` through the same CLI11 setup as the real executable, with stdout
// and stderr captured. The executable itself is run by tests/executables (exit codes and
// messages, under Wine too).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands/command.h"
#include "cli/common/app.h"
#include "cli/common/exit_codes.h"
#include "core/paths/locations.h"
#include "core/policy/default_policy.h"
#include "core/policy/policy_json.h"
#include "core/policy/policy_loader.h"

namespace stockade::cli {
namespace {

std::string PolicyData(std::string_view relative) {
  return std::string(STOCKADE_TEST_DATA_DIR) + "/policies/" + std::string(relative);
}

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Sets an environment variable for the scope of one test, restoring the previous state.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    Set(value);
  }
  ~ScopedEnv() { Set(old_.value_or("")); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  void Set(const std::string& value) {
#ifdef _WIN32
    // _putenv_s also updates the process environment block that GetEnvironmentVariableW reads.
    _putenv_s(name_, value.c_str());
#else
    if (value.empty()) {
      unsetenv(name_);
    } else {
      setenv(name_, value.c_str(), 1);
    }
#endif
  }
  const char* name_;
  std::optional<std::string> old_;
};

// Runs `stockade ARGS...` as stockade_main.cc sets it up.
Result RunStockade(const std::vector<std::string>& args) {
  CLI::App app{"Stockade (test)", "stockade"};
  GlobalOptions globals;
  AddCommonOptions(app, "stockade", globals);
  app.require_subcommand(1);
  int exit_code = kExitOk;
  RegisterPolicyCommands(app, globals, &exit_code);

  Args full = {"stockade"};
  full.insert(full.end(), args.begin(), args.end());
  std::ostringstream out;
  std::ostringstream err;
  std::streambuf* old_out = std::cout.rdbuf(out.rdbuf());
  std::streambuf* old_err = std::cerr.rdbuf(err.rdbuf());
  int parsed = ParseArgs(app, full);
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  return Result{parsed >= 0 ? parsed : exit_code, out.str(), err.str()};
}

TEST(PolicyCheck, ValidFilePrintsOkAndSummary) {
  std::string path = PolicyData("valid/custom.toml");
  Result r = RunStockade({"policy", "check", path});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.out, path +
                       ": OK (version 1; identities ci-agent-offline, ci-agent-online; offline "
                       "network blocked (loopback ports 8080, 5432); online network blocked (no "
                       "loopback ports); 4 writable roots, 4 protected, 3 deny-read; at most 64 "
                       "processes and 2048 MB; audit kept 30 days, fail open)\n");
  EXPECT_EQ(r.err, "");
}

TEST(PolicyCheck, InvalidFileExitsThreeWithTheLocatedMessage) {
  std::string path = PolicyData("invalid/port_too_large.toml");
  Result r = RunStockade({"policy", "check", path});
  EXPECT_EQ(r.exit_code, kExitPolicyInvalid);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "stockade: error: " + path +
                       ":4:25: network.offline.loopback_ports[1]: 70000 is above the highest TCP "
                       "port (65535) (E_POLICY_INVALID)\n");
}

TEST(PolicyCheck, MissingFileAlsoExitsThree) {
  std::string path = PolicyData("valid/does-not-exist.toml");
  Result r = RunStockade({"policy", "check", path});
  EXPECT_EQ(r.exit_code, kExitPolicyInvalid);
  EXPECT_EQ(r.err,
            "stockade: error: " + path + ": cannot read the policy: no such file (E_NOT_FOUND)\n");
}

TEST(PolicyCheck, JsonSuccessCarriesThePolicyAndItsHash) {
  std::string path = PolicyData("valid/partial.toml");
  Result r = RunStockade({"policy", "check", "--json", path});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  nlohmann::json doc = nlohmann::json::parse(r.out);
  Expected<Policy> expected = LoadPolicyFile(path);
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(doc["ok"], true);
  EXPECT_EQ(doc["source"], path);
  EXPECT_EQ(doc["sha256"], PolicyHash(*expected));
  EXPECT_EQ(doc["policy"], PolicyToJson(*expected));
  EXPECT_EQ(doc["policy"]["limits"]["memory_mb"], 512);
}

TEST(PolicyCheck, JsonErrorGoesToStdout) {
  std::string path = PolicyData("invalid/version_future.toml");
  Result r = RunStockade({"policy", "check", path, "--json"});
  EXPECT_EQ(r.exit_code, kExitPolicyInvalid);
  EXPECT_EQ(r.err, "");
  nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["ok"], false);
  EXPECT_EQ(doc["error"]["code"], "E_POLICY_VERSION");
  EXPECT_EQ(doc["error"]["message"],
            path +
                ":1:11: version: 2 is newer than this Stockade supports (1); upgrade "
                "Stockade or write a version 1 policy");
}

TEST(PolicyShow, TableOfAFile) {
  std::string path = PolicyData("valid/custom.toml");
  Result r = RunStockade({"policy", "show", path});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  Expected<Policy> policy = LoadPolicyFile(path);
  ASSERT_TRUE(policy.ok());
  std::string expected =
      "source           " + path + "\n" + "sha256           " + PolicyHash(*policy) + "\n" +
      "version          1\n"
      "identities       ci-agent-offline, ci-agent-online (group ci-agent-users)\n"
      "network.offline  blocked (loopback ports 8080, 5432)\n"
      "network.online   blocked (no loopback ports)\n"
      "writable_roots   {workspace}\n"
      "                 {temp}\n"
      "                 /srv/cache\n"
      "                 C:\\BuildCache\n"
      "protected        .git\n"
      "                 .hg\n"
      "                 {workspace}/secrets\n"
      "                 /srv/cache/keys\n"
      "deny_read        ~/.ssh\n"
      "                 %APPDATA%\\gnupg\n"
      "                 ${HOME}/.netrc\n"
      "max_processes    64\n"
      "memory_mb        2048\n"
      "retention_days   30\n"
      "fail_open        true\n"
      "fsync            false\n";
  EXPECT_EQ(r.out, expected);
}

TEST(PolicyShow, PolicyFlagIsUsed) {
  std::string path = PolicyData("valid/partial.toml");
  Result r = RunStockade({"--policy", path, "policy", "show", "--json"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["source"], path);
  EXPECT_EQ(doc["policy"]["network"]["offline"]["mode"], "allowed");
}

TEST(PolicyShow, EnvironmentVariableIsUsedAndMustExist) {
  std::string path = PolicyData("valid/custom.toml");
  {
    ScopedEnv env(paths::kPolicyPathEnv, path);
    Result r = RunStockade({"policy", "show", "--json"});
    ASSERT_EQ(r.exit_code, kExitOk) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["source"], path);
  }
  std::string missing = PolicyData("valid/not-there.toml");
  ScopedEnv env(paths::kPolicyPathEnv, missing);
  Result r = RunStockade({"policy", "show"});
  EXPECT_EQ(r.exit_code, kExitPolicyInvalid);
  EXPECT_EQ(r.err, "stockade: error: " + missing +
                       ": cannot read the policy: no such file (E_NOT_FOUND)\n");
}

TEST(PolicyShow, FileArgumentWinsOverFlagAndEnvironment) {
  std::string file = PolicyData("valid/custom.toml");
  ScopedEnv env(paths::kPolicyPathEnv, PolicyData("valid/minimal.toml"));
  Result r =
      RunStockade({"--policy", PolicyData("valid/partial.toml"), "policy", "show", "--json", file});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["source"], file);
}

TEST(PolicyShow, EmbeddedDefaultWhenNothingIsConfigured) {
  ScopedEnv env(paths::kPolicyPathEnv, "");
  std::string default_path = paths::DefaultPolicyPath();
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::path(default_path), ec)) {
    GTEST_SKIP() << default_path << " exists on this machine";
  }
  Result r = RunStockade({"policy", "show", "--json"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["source"], "<embedded default>");
  EXPECT_EQ(doc["policy"], PolicyToJson(DefaultPolicy()));
  EXPECT_EQ(doc["sha256"], PolicyHash(DefaultPolicy()));
}

TEST(PolicyCommand, HelpOnEachLevel) {
  Result policy = RunStockade({"policy", "--help"});
  EXPECT_EQ(policy.exit_code, kExitOk);
  EXPECT_NE(policy.out.find("check"), std::string::npos) << policy.out;
  EXPECT_NE(policy.out.find("show"), std::string::npos) << policy.out;
  Result check = RunStockade({"policy", "check", "--help"});
  EXPECT_EQ(check.exit_code, kExitOk);
  EXPECT_NE(check.out.find("FILE"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("--json"), std::string::npos) << check.out;
  Result show = RunStockade({"policy", "show", "--help"});
  EXPECT_EQ(show.exit_code, kExitOk);
  EXPECT_NE(show.out.find("STOCKADE_POLICY"), std::string::npos) << show.out;
}

TEST(PolicyCommand, MissingSubcommandIsAUsageError) {
  Result r = RunStockade({"policy"});
  EXPECT_EQ(r.exit_code, kExitUsage);
}

}  // namespace
}  // namespace stockade::cli
