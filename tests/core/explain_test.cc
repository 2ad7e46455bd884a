// explain::ExplainPath / ExplainAddress / ParseAddress: table tests of which rule decides, under
// both path styles (pure string code, run on both build targets).
#include "core/policy/explain.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/policy/default_policy.h"
#include "core/policy/policy_loader.h"

namespace stockade::explain {
namespace {

using paths::PathStyle;

Policy MustParse(std::string_view text) {
  Expected<Policy> policy = ParsePolicy(text, "explain_test.toml");
  EXPECT_TRUE(policy.ok()) << (policy.ok() ? "" : policy.error().ToString());
  return policy.ok() ? *policy : DefaultPolicy();
}

ExplainContext PosixContext() {
  ExplainContext c;
  c.style = PathStyle::kPosix;
  c.workspace = "/home/u/proj";
  c.temp = "/var/lib/stockade/tmp";
  c.home = "/home/u";
  c.state_dir = "/var/lib/stockade";
  return c;
}

ExplainContext WindowsContext() {
  ExplainContext c;
  c.style = PathStyle::kWindows;
  c.workspace = "C:\\Users\\u\\proj";
  c.temp = "C:\\ProgramData\\Stockade\\tmp";
  c.home = "C:\\Users\\u";
  c.state_dir = "C:\\ProgramData\\Stockade";
  return c;
}

struct PathRow {
  const char* path;
  Verdict read;
  RuleKind read_rule;
  Verdict write;
  RuleKind write_rule;
  const char* write_key;  // "" = not checked
};

constexpr Verdict kA = Verdict::kAllowed;
constexpr Verdict kD = Verdict::kDenied;

void CheckRows(const Policy& policy, const ExplainContext& context,
               const std::vector<PathRow>& rows) {
  for (const PathRow& row : rows) {
    SCOPED_TRACE(row.path);
    Expected<PathExplanation> e = ExplainPath(policy, IdentityKind::kOffline, row.path, context);
    ASSERT_TRUE(e.ok()) << e.error().ToString();
    EXPECT_EQ(e->read.verdict, row.read) << e->read.reason;
    EXPECT_EQ(e->read.rule, row.read_rule) << e->read.reason;
    EXPECT_EQ(e->write.verdict, row.write) << e->write.reason;
    EXPECT_EQ(e->write.rule, row.write_rule) << e->write.reason;
    if (row.write_key[0] != '\0') {
      EXPECT_EQ(e->write.policy_key, row.write_key);
    }
    EXPECT_EQ(e->read.access, "read");
    EXPECT_EQ(e->write.access, "write");
    EXPECT_FALSE(e->write.reason.empty());
  }
}

TEST(ExplainPathTest, DefaultPolicyPosix) {
  const std::vector<PathRow> rows = {
      {"/home/u/proj/src/main.cc", kA, RuleKind::kReadsBroad, kA, RuleKind::kWritableRoot,
       "filesystem.writable_roots[0]"},
      {"/home/u/proj", kA, RuleKind::kReadsBroad, kA, RuleKind::kWritableRoot,
       "filesystem.writable_roots[0]"},
      {"/home/u/proj/.git/config", kA, RuleKind::kReadsBroad, kD, RuleKind::kProtected,
       "filesystem.protected[0]"},
      {"/home/u/proj/.git", kA, RuleKind::kReadsBroad, kD, RuleKind::kProtected,
       "filesystem.protected[0]"},
      {"/home/u/proj/.agents/x", kA, RuleKind::kReadsBroad, kD, RuleKind::kProtected,
       "filesystem.protected[2]"},
      // A name only counts directly under a root, as the launcher joins it.
      {"/home/u/proj/sub/.git/config", kA, RuleKind::kReadsBroad, kA, RuleKind::kWritableRoot,
       "filesystem.writable_roots[0]"},
      {"/home/u/proj.git", kA, RuleKind::kReadsBroad, kD, RuleKind::kOutsideRoots, ""},
      {"/home/u/.ssh/id_ed25519", kD, RuleKind::kDenyRead, kD, RuleKind::kDenyRead,
       "filesystem.deny_read[0]"},
      {"/home/u/.aws", kD, RuleKind::kDenyRead, kD, RuleKind::kDenyRead, "filesystem.deny_read[1]"},
      {"/home/u/.sshx", kA, RuleKind::kReadsBroad, kD, RuleKind::kOutsideRoots, ""},
      {"/etc/passwd", kA, RuleKind::kReadsBroad, kD, RuleKind::kOutsideRoots,
       "filesystem.writable_roots"},
      {"/home/u/proj/../other/x", kA, RuleKind::kReadsBroad, kD, RuleKind::kOutsideRoots, ""},
      {"/var/lib/stockade/audit/audit.db", kD, RuleKind::kServiceState, kD, RuleKind::kServiceState,
       ""},
      {"/var/lib/stockade/tmp/abc/f", kA, RuleKind::kReadsBroad, kA, RuleKind::kWritableRoot,
       "filesystem.writable_roots[1]"},
  };
  CheckRows(DefaultPolicy(), PosixContext(), rows);
}

TEST(ExplainPathTest, DefaultPolicyWindowsIsCaseInsensitive) {
  const std::vector<PathRow> rows = {
      {"c:/users/U/Proj/src/a.txt", kA, RuleKind::kReadsBroad, kA, RuleKind::kWritableRoot,
       "filesystem.writable_roots[0]"},
      {"C:\\Users\\u\\proj\\.GIT\\config", kA, RuleKind::kReadsBroad, kD, RuleKind::kProtected,
       "filesystem.protected[0]"},
      {"C:\\Users\\u\\.ssh\\config", kD, RuleKind::kDenyRead, kD, RuleKind::kDenyRead,
       "filesystem.deny_read[0]"},
      // Trailing dots are ignored by Windows: ".ssh." is ".ssh".
      {"C:\\Users\\u\\.ssh.\\config", kD, RuleKind::kDenyRead, kD, RuleKind::kDenyRead, ""},
      {"C:\\Windows\\System32\\drivers\\etc\\hosts", kA, RuleKind::kReadsBroad, kD,
       RuleKind::kOutsideRoots, ""},
      {"C:\\ProgramData\\Stockade\\secrets\\cred.bin", kD, RuleKind::kServiceState, kD,
       RuleKind::kServiceState, ""},
  };
  CheckRows(DefaultPolicy(), WindowsContext(), rows);
}

TEST(ExplainPathTest, CustomPolicyOrderAndAbsoluteProtected) {
  const Policy policy = MustParse(R"(version = 1
[filesystem]
writable_roots = ["{workspace}", "/srv/cache"]
protected = ["build/release", "{workspace}/secrets"]
deny_read = ["/srv/cache/keys", "{workspace}/private"]
)");
  const std::vector<PathRow> rows = {
      {"/srv/cache/obj/a.o", kA, RuleKind::kReadsBroad, kA, RuleKind::kWritableRoot,
       "filesystem.writable_roots[1]"},
      // deny-read beats the writable root it lies in.
      {"/srv/cache/keys/k", kD, RuleKind::kDenyRead, kD, RuleKind::kDenyRead,
       "filesystem.deny_read[0]"},
      {"/home/u/proj/private/notes", kD, RuleKind::kDenyRead, kD, RuleKind::kDenyRead,
       "filesystem.deny_read[1]"},
      // A relative name with a separator applies under every root.
      {"/srv/cache/build/release/x", kA, RuleKind::kReadsBroad, kD, RuleKind::kProtected,
       "filesystem.protected[0]"},
      {"/home/u/proj/build/release", kA, RuleKind::kReadsBroad, kD, RuleKind::kProtected,
       "filesystem.protected[0]"},
      {"/home/u/proj/build/debug", kA, RuleKind::kReadsBroad, kA, RuleKind::kWritableRoot,
       "filesystem.writable_roots[0]"},
      {"/home/u/proj/secrets/a", kA, RuleKind::kReadsBroad, kD, RuleKind::kProtected,
       "filesystem.protected[1]"},
      // {temp} is not a root in this policy.
      {"/var/lib/stockade/tmp/x", kA, RuleKind::kReadsBroad, kD, RuleKind::kOutsideRoots, ""},
  };
  ExplainContext context = PosixContext();
  context.state_dir.clear();
  CheckRows(policy, context, rows);
}

TEST(ExplainPathTest, UnexpandableEntriesAreSkippedAndNamed) {
  ExplainContext context = PosixContext();
  context.temp.clear();
  context.home.clear();
  Expected<PathExplanation> e =
      ExplainPath(DefaultPolicy(), IdentityKind::kOnline, "/home/u/.ssh/id", context);
  ASSERT_TRUE(e.ok()) << e.error().ToString();
  // Without a home, "~/.ssh" cannot be placed: the answer says so rather than guessing.
  EXPECT_EQ(e->read.verdict, Verdict::kAllowed);
  ASSERT_GE(e->skipped.size(), 6u);
  bool saw_temp = false, saw_ssh = false;
  for (const std::string& s : e->skipped) {
    saw_temp |= s.rfind("filesystem.writable_roots[1] \"{temp}\"", 0) == 0;
    saw_ssh |= s.rfind("filesystem.deny_read[0] \"~/.ssh\"", 0) == 0;
  }
  EXPECT_TRUE(saw_temp);
  EXPECT_TRUE(saw_ssh);
}

TEST(ExplainPathTest, RefusesRelativePath) {
  Expected<PathExplanation> e =
      ExplainPath(DefaultPolicy(), IdentityKind::kOffline, "proj/x", PosixContext());
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code(), ErrorCode::kPathInvalid);
}

struct AddressRow {
  IdentityKind identity;
  const char* address;
  Verdict verdict;
  RuleKind rule;
  const char* key;
};

TEST(ExplainAddressTest, DefaultPolicyTable) {
  using enum IdentityKind;
  const std::vector<AddressRow> rows = {
      {kOffline, "example.com:443", kD, RuleKind::kNetworkMode, "network.offline.mode"},
      {kOffline, "10.0.0.1:3128", kD, RuleKind::kNetworkMode, "network.offline.mode"},
      {kOffline, "127.0.0.1:3128", kA, RuleKind::kLoopbackPort, "network.offline.loopback_ports"},
      {kOffline, "127.8.9.10:3128", kA, RuleKind::kLoopbackPort, "network.offline.loopback_ports"},
      {kOffline, "localhost:3128", kA, RuleKind::kLoopbackPort, "network.offline.loopback_ports"},
      {kOffline, "LocalHost.:3128", kA, RuleKind::kLoopbackPort, "network.offline.loopback_ports"},
      {kOffline, "[::1]:3128", kA, RuleKind::kLoopbackPort, "network.offline.loopback_ports"},
      {kOffline, "[0:0:0:0:0:0:0:1]:3128", kA, RuleKind::kLoopbackPort, ""},
      {kOffline, "[::ffff:127.0.0.1]:3128", kA, RuleKind::kLoopbackPort, ""},
      {kOffline, "[::2]:3128", kD, RuleKind::kNetworkMode, ""},
      {kOffline, "127.0.0.1:8080", kD, RuleKind::kLoopbackUnlisted,
       "network.offline.loopback_ports"},
      {kOffline, "128.0.0.1:3128", kD, RuleKind::kNetworkMode, ""},
      {kOnline, "example.com:443", kA, RuleKind::kNetworkMode, "network.online.mode"},
      {kOnline, "127.0.0.1:8080", kA, RuleKind::kNetworkMode, "network.online.mode"},
  };
  for (const AddressRow& row : rows) {
    SCOPED_TRACE(row.address);
    Expected<Address> address = ParseAddress(row.address);
    ASSERT_TRUE(address.ok()) << address.error().ToString();
    Decision d = ExplainAddress(DefaultPolicy(), row.identity, *address);
    EXPECT_EQ(d.verdict, row.verdict) << d.reason;
    EXPECT_EQ(d.rule, row.rule) << d.reason;
    if (row.key[0] != '\0') {
      EXPECT_EQ(d.policy_key, row.key);
    }
    EXPECT_EQ(d.access, "connect tcp");
  }
}

TEST(ExplainAddressTest, BlockedOnlineWithoutPortsAndReasonsNameValues) {
  const Policy policy = MustParse(R"(version = 1
[network.online]
mode = "blocked"
loopback_ports = [5432, 6379]
)");
  Decision d = ExplainAddress(policy, IdentityKind::kOnline, *ParseAddress("127.0.0.1:6379"));
  EXPECT_EQ(d.verdict, Verdict::kAllowed);
  EXPECT_NE(d.reason.find("[5432, 6379]"), std::string::npos) << d.reason;
  d = ExplainAddress(policy, IdentityKind::kOnline, *ParseAddress("127.0.0.1:80"));
  EXPECT_EQ(d.verdict, Verdict::kDenied);
  EXPECT_NE(d.reason.find("port 80 is not in network.online.loopback_ports"), std::string::npos)
      << d.reason;
}

TEST(ParseAddressTest, Table) {
  struct Row {
    const char* text;
    bool ok;
    const char* host;
    std::uint16_t port;
  };
  const std::vector<Row> rows = {
      {"a:1", true, "a", 1},
      {"host.example:65535", true, "host.example", 65535},
      {"[fe80::1]:22", true, "fe80::1", 22},
      {"a:0", false, "", 0},
      {"a:65536", false, "", 0},
      {"a:", false, "", 0},
      {":80", false, "", 0},
      {"a:8x", false, "", 0},
      {"::1:80", false, "", 0},
      {"[::1]80", false, "", 0},
      {"[zz]:80", false, "", 0},
      {"noport", false, "", 0},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.text);
    Expected<Address> a = ParseAddress(row.text);
    ASSERT_EQ(a.ok(), row.ok);
    if (row.ok) {
      EXPECT_EQ(a->host, row.host);
      EXPECT_EQ(a->port, row.port);
    } else {
      EXPECT_EQ(a.error().code(), ErrorCode::kInvalidArgument);
    }
  }
}

TEST(LooksLikeAddressTest, Table) {
  EXPECT_TRUE(LooksLikeAddress("example.com:443", PathStyle::kPosix));
  EXPECT_TRUE(LooksLikeAddress("[::1]:80", PathStyle::kWindows));
  EXPECT_TRUE(LooksLikeAddress("127.0.0.1:3128", PathStyle::kWindows));
  EXPECT_FALSE(LooksLikeAddress("C:\\x", PathStyle::kWindows));
  EXPECT_FALSE(LooksLikeAddress("C:/x", PathStyle::kWindows));
  EXPECT_FALSE(LooksLikeAddress("/tmp/a:80", PathStyle::kPosix));
  EXPECT_FALSE(LooksLikeAddress("src/a:80", PathStyle::kPosix));
  EXPECT_FALSE(LooksLikeAddress("file.txt", PathStyle::kPosix));
  EXPECT_FALSE(LooksLikeAddress("notes:draft", PathStyle::kPosix));
}

}  // namespace
}  // namespace stockade::explain
