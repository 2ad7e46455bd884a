// The policy loader against malformed files (each its own case, with the exact message that the
// administrator reads) and against valid ones (every value read back).
#include "core/policy/policy_loader.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <random>
#include <set>
#include <string>

#include "core/policy/default_policy.h"
#include "core/policy/policy_json.h"

namespace stockade {
namespace {

std::string PolicyData(std::string_view relative) {
  return std::string(STOCKADE_TEST_DATA_DIR) + "/policies/" + std::string(relative);
}

std::filesystem::path FromUtf8(const std::string& utf8) {
  std::u8string text(utf8.size(), u8'\0');
  std::memcpy(text.data(), utf8.data(), utf8.size());
  return std::filesystem::path(text);
}

std::string ToUtf8(const std::filesystem::path& path) {
  std::u8string text = path.u8string();
  return std::string(text.begin(), text.end());
}

// A private temporary folder, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::random_device random;
    path_ = std::filesystem::temp_directory_path() /
            ("stockade-policy-test-" + std::to_string(random()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Writes `content` to `name` (UTF-8) inside the folder and returns its UTF-8 path.
  std::string Write(const std::string& name, std::string_view content) const {
    std::filesystem::path file = path_ / FromUtf8(name);
    std::ofstream out(file, std::ios::binary);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.close();
    EXPECT_TRUE(out.good()) << "writing " << ToUtf8(file);
    return ToUtf8(file);
  }

 private:
  static inline std::atomic<int> counter_{0};
  std::filesystem::path path_;
};

// ---------------------------------------------------------------------------------------------
// Malformed files under tests/data/policies/invalid: code and full message.

struct InvalidCase {
  const char* name;  // file stem, also the test name
  ErrorCode code;
  const char* message;  // the context after "<path>:"
};

void PrintTo(const InvalidCase& c, std::ostream* os) { *os << c.name; }

class InvalidPolicyFile : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidPolicyFile, IsRefusedWithItsOwnMessage) {
  const InvalidCase& c = GetParam();
  std::string path = PolicyData(std::string("invalid/") + c.name + ".toml");
  Expected<Policy> policy = LoadPolicyFile(path);
  ASSERT_FALSE(policy.ok()) << path << " loaded";
  EXPECT_EQ(ErrorCodeName(policy.error().code()), ErrorCodeName(c.code));
  EXPECT_EQ(policy.error().context(), path + ":" + c.message);
}

constexpr ErrorCode kParse = ErrorCode::kPolicyParse;
constexpr ErrorCode kVersion = ErrorCode::kPolicyVersion;
constexpr ErrorCode kInvalid = ErrorCode::kPolicyInvalid;

const InvalidCase kInvalidCases[] = {
    {"syntax_error", kParse,
     "2:8: invalid TOML: error while parsing table header: expected ']', saw '\\n'"},
    {"duplicate_key", kParse,
     "5:17: invalid TOML: error while parsing key-value pair: cannot redefine existing integer "
     "'max_processes' (each key and each [table] may be defined only once)"},
    {"duplicate_table", kParse,
     "6:1: invalid TOML: error while parsing table header: cannot redefine existing table "
     "'limits' (each key and each [table] may be defined only once)"},
    {"non_utf8", kParse, "4:14: byte 0xE9 is not valid UTF-8; policy files must be UTF-8 encoded"},
    {"string_for_integer", kInvalid,
     "4:17: limits.max_processes: expected an integer, got a string (\"1024\")"},
    {"integer_for_array", kInvalid,
     "4:13: filesystem.protected: expected an array of strings (e.g. protected = [\"...\"]), got "
     "an integer (5)"},
    {"array_element_type", kInvalid,
     "4:34: filesystem.writable_roots[1]: expected a string (a path), got an integer (7)"},
    {"integer_for_table", kInvalid,
     "2:11: network: expected a table ([network]), got an integer (5)"},
    {"boolean_type", kInvalid,
     "4:13: audit.fail_open: expected a boolean (true or false), got a string (\"yes\")"},
    {"unknown_key_suggested", kInvalid,
     "4:1: unknown key \"writeable_roots\" in [filesystem]; did you mean \"writable_roots\"?"},
    {"unknown_key_listed", kInvalid,
     "4:1: unknown key \"cpu_count\" in [limits]; valid keys are: max_processes, memory_mb"},
    {"unknown_key_top_level", kInvalid,
     "2:1: unknown key \"colour\" at the top level; valid keys are: version, identities, network, "
     "filesystem, limits, audit"},
    {"unknown_key_deep", kInvalid,
     "5:1: unknown key \"loopback_port\" in [network.offline]; did you mean \"loopback_ports\"?"},
    {"unknown_table", kInvalid, "3:2: unknown table [netwrk]; did you mean [network]?"},
    {"missing_version", kVersion,
     "1:1: missing required key \"version\"; expected version = 1 at the top of the file"},
    {"empty", kVersion,
     "1:1: missing required key \"version\"; expected version = 1 at the top of the file"},
    {"misspelt_version", kVersion,
     "2:1: missing required key \"version\"; expected version = 1 at the top of the file (found "
     "\"versoin\"; did you mean \"version\"?)"},
    {"version_future", kVersion,
     "1:11: version: 2 is newer than this Stockade supports (1); upgrade Stockade or write a "
     "version 1 policy"},
    {"version_zero", kVersion,
     "1:11: version: 0 is not a policy version; versions start at 1, this Stockade reads "
     "version 1"},
    {"version_negative", kVersion,
     "1:11: version: -1 is negative; policy versions are positive integers, this Stockade reads "
     "version 1"},
    {"version_float", kVersion,
     "1:11: version: expected an integer (version = 1), got a floating-point number (1.5)"},
    {"version_string", kVersion,
     "1:11: version: expected an integer (version = 1), got a string (\"1\")"},
    {"root_empty", kInvalid,
     "4:34: filesystem.writable_roots[1]: empty path; expected an absolute path or one starting "
     "with {workspace}, {temp}, ~, %NAME% or ${NAME}"},
    {"root_relative", kInvalid,
     "4:19: filesystem.writable_roots[0]: \"build/out\" is relative; writable roots must be "
     "absolute or start with {workspace}, {temp}, ~, %NAME% or ${NAME}"},
    {"root_unknown_placeholder", kInvalid,
     "4:19: filesystem.writable_roots[0]: \"{workspce}\" starts with the unknown placeholder "
     "\"{workspce}\"; did you mean \"{workspace}\"? (known placeholders: {workspace}, {temp}, ~, "
     "%NAME% or ${NAME})"},
    {"root_overlap_placeholder", kInvalid,
     "4:44: filesystem.writable_roots[2]: \"{workspace}/sub\" lies inside the writable root "
     "\"{workspace}\" at 4:19; overlapping roots make grants ambiguous, keep the outer one only"},
    {"root_overlap_absolute", kInvalid,
     "6:3: filesystem.writable_roots[1]: \"/srv/app\" contains the writable root "
     "\"/srv/app/cache\" at 5:3; overlapping roots make grants ambiguous, keep the outer one only"},
    {"root_overlap_windows", kInvalid,
     "4:30: filesystem.writable_roots[1]: \"c:\\work\\Sub\" lies inside the writable root "
     "\"C:\\Work\" at 4:19; overlapping roots make grants ambiguous, keep the outer one only"},
    {"root_duplicate", kInvalid,
     "4:29: filesystem.writable_roots[1]: \"{temp}/\" is listed twice (first as \"{temp}\" at "
     "4:19)"},
    {"root_climbs", kInvalid,
     "4:19: filesystem.writable_roots[0]: \"{workspace}/../shared\" climbs with \"..\"; policy "
     "paths must not contain \"..\" (it is resolved before links are, and can leave the folder "
     "it seems to name)"},
    {"protected_outside", kInvalid,
     "4:22: filesystem.protected[1]: \"/etc/shadow\" is outside every writable root; an absolute "
     "protected path must lie inside one of: \"{workspace}\", \"{temp}\" (a relative name such as "
     "\".git\" applies under every root)"},
    {"protected_climbs", kInvalid,
     "4:14: filesystem.protected[0]: \"../secrets\" climbs with \"..\"; a protected name must stay "
     "inside the writable root it applies to"},
    {"protected_is_root", kInvalid,
     "4:14: filesystem.protected[0]: \"{workspace}\" is the writable root \"{workspace}\" (from "
     "the default policy) itself; remove the root instead of protecting all of it"},
    {"protected_duplicate", kInvalid,
     "4:22: filesystem.protected[1]: \"./.git/\" is listed twice (first as \".git\" at 4:14)"},
    {"port_zero", kInvalid,
     "4:19: network.offline.loopback_ports[0]: port 0 is not a port one can connect to; expected "
     "1 to 65535"},
    {"port_too_large", kInvalid,
     "4:25: network.offline.loopback_ports[1]: 70000 is above the highest TCP port (65535)"},
    {"port_negative", kInvalid,
     "4:19: network.offline.loopback_ports[0]: -80 is negative; TCP ports are 1 to 65535"},
    {"port_duplicate", kInvalid,
     "4:31: network.offline.loopback_ports[2]: port 3128 is listed twice (first at 4:19)"},
    {"port_string", kInvalid,
     "4:19: network.offline.loopback_ports[0]: expected an integer (a TCP port), got a string "
     "(\"3128\")"},
    {"ports_with_allowed", kInvalid,
     "4:18: network.online.loopback_ports: only applies when mode = \"blocked\"; with mode "
     "\"allowed\" (the default for this identity) every port is reachable. Remove it or set "
     "mode = \"blocked\""},
    {"mode_invalid", kInvalid,
     "4:8: network.offline.mode: invalid value \"block\"; expected \"blocked\" or \"allowed\" (did "
     "you mean \"blocked\"?)"},
    {"mode_unrelated", kInvalid,
     "4:8: network.online.mode: invalid value \"sometimes\"; expected \"blocked\" or \"allowed\""},
    {"prefix_uppercase", kInvalid,
     "4:10: identities.prefix: \"Stockade\" must start with a lowercase letter a-z"},
    {"prefix_bad_character", kInvalid,
     "4:10: identities.prefix: \"stock.ade\" contains '.' at position 6; only a-z, 0-9, '_' and "
     "'-' are allowed"},
    {"prefix_too_long", kInvalid,
     "4:10: identities.prefix: \"agentsandbox1\" is 13 characters; at most 12 fit, because "
     "\"agentsandbox1-offline\" must fit Windows' 20-character limit on user names"},
    {"prefix_empty", kInvalid,
     "4:10: identities.prefix: must not be empty; the identities are named \"<prefix>-offline\" "
     "and \"<prefix>-online\""},
    {"processes_zero", kInvalid,
     "4:17: limits.max_processes: 0 is out of range; expected 1 to 4194304 (the sandboxed command "
     "itself is a process)"},
    {"memory_zero", kInvalid,
     "4:13: limits.memory_mb: 0 is out of range; expected 16 to 16777216 (megabytes of memory "
     "for the whole process tree)"},
    {"retention_zero", kInvalid,
     "4:18: audit.retention_days: 0 is out of range; expected 1 to 36500 (audit records are kept "
     "at least a day)"},
    {"deny_read_relative", kInvalid,
     "4:24: filesystem.deny_read[1]: \".aws\" is relative; deny_read paths must be absolute or "
     "start with {workspace}, {temp}, ~, %NAME% or ${NAME} (e.g. \"~/.ssh\")"},
};

INSTANTIATE_TEST_SUITE_P(Files, InvalidPolicyFile, ::testing::ValuesIn(kInvalidCases),
                         [](const ::testing::TestParamInfo<InvalidCase>& info) {
                           return std::string(info.param.name);
                         });

// Every file in the invalid folder has a case above, and every message is different: a file
// added without a case, or two problems worded alike, fails here.
TEST(InvalidPolicyFiles, EachFileHasADistinctMessage) {
  std::set<std::string> stems;
  for (const auto& entry : std::filesystem::directory_iterator(FromUtf8(PolicyData("invalid")))) {
    stems.insert(ToUtf8(entry.path().stem()));
  }
  std::set<std::string> cased;
  std::map<std::string, std::string> by_message;
  for (const InvalidCase& c : kInvalidCases) {
    cased.insert(c.name);
    std::string message = c.message;
    message = message.substr(message.find(' ') + 1);  // without "<line>:<column>:"
    if (std::string(c.name) == "empty") continue;     // the same problem as missing_version
    auto [it, inserted] = by_message.emplace(message, c.name);
    EXPECT_TRUE(inserted) << c.name << " and " << it->second << " share a message";
  }
  EXPECT_EQ(stems, cased);
  EXPECT_GE(by_message.size(), 20u);
}

// ---------------------------------------------------------------------------------------------
// File problems.

TEST(LoadPolicyFile, MissingFileIsNotFound) {
  TempDir dir;
  std::string path = ToUtf8(dir.path() / "absent.toml");
  Expected<Policy> policy = LoadPolicyFile(path);
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(policy.error().context(), path + ": cannot read the policy: no such file");
}

TEST(LoadPolicyFile, DirectoryIsRefused) {
  TempDir dir;
  std::string path = ToUtf8(dir.path());
  ASSERT_TRUE(std::filesystem::is_directory(dir.path()));
  Expected<Policy> policy = LoadPolicyFile(path);
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.error().code(), ErrorCode::kIo);
  EXPECT_EQ(policy.error().context(),
            path + ": cannot read the policy: it is a directory, not a policy file");
}

TEST(LoadPolicyFile, EmptyPathIsAnInvalidArgument) {
  Expected<Policy> policy = LoadPolicyFile("");
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.error().code(), ErrorCode::kInvalidArgument);
}

TEST(LoadPolicyFile, TenMegabyteFileIsRefusedBySize) {
  TempDir dir;
  // A valid policy followed by 10 MiB of comment lines: only the size is wrong.
  std::string content = "version = 1\n";
  std::string line(99, '#');
  line += '\n';
  while (content.size() < 10 * 1024 * 1024) content += line;
  std::string path = dir.Write("huge.toml", content);
  ASSERT_EQ(std::filesystem::file_size(FromUtf8(path)), content.size());

  auto start = std::chrono::steady_clock::now();
  Expected<Policy> policy = LoadPolicyFile(path);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.error().code(), ErrorCode::kPolicyInvalid);
  // The exact size comes from the file's metadata: the loader never read that far.
  EXPECT_EQ(policy.error().context(), path + ": the file is " + std::to_string(content.size()) +
                                          " bytes; policy files are limited to 1048576 bytes "
                                          "(1 MiB)");
  EXPECT_LT(elapsed, std::chrono::seconds(2));
}

TEST(LoadPolicyFile, FileAtTheSizeLimitIsRead) {
  TempDir dir;
  std::string content = "version = 1\n";
  content.resize(kMaxPolicyFileBytes, '\n');
  std::string path = dir.Write("limit.toml", content);
  Expected<Policy> policy = LoadPolicyFile(path);
  ASSERT_TRUE(policy.ok()) << policy.error().ToString();
  EXPECT_EQ(policy->source, path);
}

TEST(ParsePolicy, TextOverTheLimitIsRefused) {
  std::string content = "version = 1\n";
  content.resize(kMaxPolicyFileBytes + 1, ' ');
  Expected<Policy> policy = ParsePolicy(content, "inline");
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.error().code(), ErrorCode::kPolicyInvalid);
  EXPECT_EQ(policy.error().context(),
            "inline: the file is 1048577 bytes; policy files are limited to 1048576 bytes (1 MiB)");
}

TEST(LoadPolicyFile, NonAsciiFileNameIsOpened) {
  TempDir dir;
  std::string path = dir.Write("politique-\xC3\xA9t\xC3\xA9-\xE6\x97\xA5.toml",
                               "version = 1\n[limits]\nmemory_mb = 777\n");
  ASSERT_TRUE(std::filesystem::exists(FromUtf8(path)));
  Expected<Policy> policy = LoadPolicyFile(path);
  ASSERT_TRUE(policy.ok()) << policy.error().ToString();
  EXPECT_EQ(policy->limits.memory_mb, 777u);
  EXPECT_EQ(policy->source, path);
}

// ---------------------------------------------------------------------------------------------
// Malformed text that needs no file of its own.

Error ParseError(std::string_view text) {
  Expected<Policy> policy = ParsePolicy(text, "p.toml");
  EXPECT_FALSE(policy.ok()) << text;
  return policy.ok() ? Error(ErrorCode::kOk, "loaded") : policy.error();
}

TEST(ParsePolicy, TruncatedUtf8AtEndOfFile) {
  Error error = ParseError("version = 1\n# caf\xC3");
  EXPECT_EQ(error.code(), ErrorCode::kPolicyParse);
  EXPECT_EQ(error.context(),
            "p.toml:2:6: UTF-8 sequence starting with byte 0xC3 is cut off by the end of the file; "
            "policy files must be UTF-8 encoded");
}

TEST(ParsePolicy, OverlongAndSurrogateUtf8AreRefused) {
  EXPECT_EQ(ParseError("version = 1 # \xC0\xAF").context(),
            "p.toml:1:15: byte 0xC0 is not valid UTF-8; policy files must be UTF-8 encoded");
  EXPECT_EQ(ParseError("version = 1 # \xED\xA0\x80").context(),
            "p.toml:1:15: byte 0xED is not valid UTF-8; policy files must be UTF-8 encoded");
}

TEST(ParsePolicy, TableWhereAnArrayIsExpected) {
  Error error = ParseError("version = 1\n[filesystem.writable_roots]\n");
  EXPECT_EQ(error.code(), ErrorCode::kPolicyInvalid);
  EXPECT_EQ(error.context(),
            "p.toml:2:1: filesystem.writable_roots: expected an array of strings (e.g. "
            "writable_roots = [\"...\"]), got a table");
}

TEST(ParsePolicy, ArrayOfTablesWhereATableIsExpected) {
  Error error = ParseError("version = 1\n[[limits]]\nmax_processes = 3\n");
  EXPECT_EQ(error.context(), "p.toml:2:1: limits: expected a table ([limits]), got an array");
}

TEST(ParsePolicy, PrefixWithNonAsciiCharacter) {
  Error error = ParseError("version = 1\n[identities]\nprefix = \"caf\xC3\xA9\"\n");
  EXPECT_EQ(error.context(),
            "p.toml:3:10: identities.prefix: \"caf\xC3\xA9\" contains a non-ASCII character at "
            "position 4; only a-z, 0-9, '_' and '-' are allowed");
}

TEST(ParsePolicy, PrefixOfTwelveCharactersIsTheLongestAccepted) {
  Expected<Policy> policy =
      ParsePolicy("version = 1\n[identities]\nprefix = \"agentsandbox\"\n", "p.toml");
  ASSERT_TRUE(policy.ok()) << policy.error().ToString();
  EXPECT_EQ(policy->IdentityName(IdentityKind::kOffline), "agentsandbox-offline");
  EXPECT_EQ(policy->IdentityName(IdentityKind::kOffline).size(), 20u);
}

TEST(ParsePolicy, ProtectedRootedWithoutDrive) {
  Error error = ParseError("version = 1\n[filesystem]\nprotected = ['\\secrets']\n");
  EXPECT_EQ(error.context(),
            "p.toml:3:14: filesystem.protected[0]: \"\\secrets\" starts with \"\\\" but has no "
            "drive; write a name relative to each root (\".git\") or a full path "
            "(\"C:\\\\work\\\\.git\")");
}

TEST(ParsePolicy, ProtectedDriveRelative) {
  Error error = ParseError("version = 1\n[filesystem]\nprotected = ['C:secrets']\n");
  EXPECT_EQ(error.context(),
            "p.toml:3:14: filesystem.protected[0]: \"C:secrets\" is drive-relative; write a name "
            "relative to each root (\".git\") or a full path (\"C:\\\\work\\\\.git\")");
}

TEST(ParsePolicy, ProtectedNamingTheRootItself) {
  Error error = ParseError("version = 1\n[filesystem]\nprotected = ['./']\n");
  EXPECT_EQ(error.context(),
            "p.toml:3:14: filesystem.protected[0]: \"./\" names the writable root itself; protect "
            "a name inside it (\".git\") or remove the root");
}

TEST(ParsePolicy, ProtectedEmpty) {
  Error error = ParseError("version = 1\n[filesystem]\nprotected = ['']\n");
  EXPECT_EQ(error.context(),
            "p.toml:3:14: filesystem.protected[0]: empty path; expected a name relative to each "
            "writable root (\".git\") or an absolute path inside one");
}

TEST(ParsePolicy, ProtectedClimbingOutOfAnAbsoluteRoot) {
  Error error = ParseError(
      "version = 1\n[filesystem]\nwritable_roots = ['/srv/app']\nprotected = "
      "['/srv/app/../etc']\n");
  EXPECT_EQ(error.context(),
            "p.toml:4:14: filesystem.protected[0]: \"/srv/app/../etc\" climbs with \"..\"; policy "
            "paths must not contain \"..\" (it is resolved before links are, and can leave the "
            "folder it seems to name)");
}

TEST(ParsePolicy, ProtectedOutsideWithNoRootsAtAll) {
  Error error =
      ParseError("version = 1\n[filesystem]\nwritable_roots = []\nprotected = ['/srv/x']\n");
  EXPECT_EQ(error.context(),
            "p.toml:4:14: filesystem.protected[0]: \"/srv/x\" is outside every writable root; an "
            "absolute protected path must lie inside one of: (no writable roots) (a relative name "
            "such as \".git\" applies under every root)");
}

TEST(ParsePolicy, DenyReadDuplicateAndEmpty) {
  EXPECT_EQ(ParseError("version = 1\n[filesystem]\ndeny_read = ['~/.ssh', '~//.ssh']\n").context(),
            "p.toml:3:24: filesystem.deny_read[1]: \"~//.ssh\" is listed twice (first as "
            "\"~/.ssh\" at 3:14)");
  EXPECT_EQ(ParseError("version = 1\n[filesystem]\ndeny_read = ['']\n").context(),
            "p.toml:3:14: filesystem.deny_read[0]: empty path; expected an absolute path or one "
            "starting with {workspace}, {temp}, ~, %NAME% or ${NAME}");
}

TEST(ParsePolicy, TildeUserFormIsRefusedWithTheExpanderReason) {
  Error error = ParseError("version = 1\n[filesystem]\ndeny_read = ['~root/.ssh']\n");
  EXPECT_EQ(error.code(), ErrorCode::kPolicyInvalid);
  EXPECT_EQ(error.context().rfind("p.toml:3:14: filesystem.deny_read[0]: ", 0), 0u)
      << error.context();
  EXPECT_NE(error.context().find("~user form is not supported"), std::string::npos)
      << error.context();
}

TEST(ParsePolicy, TooManyPathEntries) {
  std::string text = "version = 1\n[filesystem]\ndeny_read = [";
  for (int i = 0; i < 1025; ++i) text += "'/d/" + std::to_string(i) + "',";
  text += "]\n";
  EXPECT_EQ(ParseError(text).context(),
            "p.toml:3:13: filesystem.deny_read: 1025 entries; at most 1024 are supported");
}

TEST(ParsePolicy, UnknownKeyReportsTheFirstInTheText) {
  // toml++ keeps keys sorted; the error must still name the first one an editor would reach.
  Error error = ParseError("version = 1\n[limits]\nzzz = 1\naaa = 2\n");
  EXPECT_EQ(
      error.context(),
      "p.toml:3:1: unknown key \"zzz\" in [limits]; valid keys are: max_processes, memory_mb");
}

TEST(ParsePolicy, FutureVersionWinsOverUnknownKeys) {
  Error error = ParseError("version = 7\n[sandbox2]\nnew_feature = true\n");
  EXPECT_EQ(error.code(), ErrorCode::kPolicyVersion);
  EXPECT_EQ(error.context(),
            "p.toml:1:11: version: 7 is newer than this Stockade supports (1); upgrade Stockade "
            "or write a version 1 policy");
}

TEST(ParsePolicy, IntegerBeyondSixtyFourBitsIsATomlError) {
  Error error = ParseError("version = 1\n[limits]\nmemory_mb = 99999999999999999999\n");
  EXPECT_EQ(error.code(), ErrorCode::kPolicyParse);
  EXPECT_EQ(error.context(),
            "p.toml:3:33: invalid TOML: error while parsing decimal integer: "
            "'99999999999999999999' is not representable in 64 bits");
}

TEST(ParsePolicy, LimitsAtTheirBounds) {
  Expected<Policy> low = ParsePolicy(
      "version = 1\n[limits]\nmax_processes = 1\nmemory_mb = 16\n[audit]\nretention_days = 1\n",
      "p.toml");
  ASSERT_TRUE(low.ok()) << low.error().ToString();
  EXPECT_EQ(low->limits.max_processes, 1u);
  EXPECT_EQ(low->limits.memory_mb, 16u);
  EXPECT_EQ(low->audit.retention_days, 1u);
  EXPECT_EQ(ParseError("version = 1\n[limits]\nmemory_mb = 15\n").context(),
            "p.toml:3:13: limits.memory_mb: 15 is out of range; expected 16 to 16777216 "
            "(megabytes of memory for the whole process tree)");
  EXPECT_EQ(ParseError("version = 1\n[audit]\nretention_days = 36501\n").context(),
            "p.toml:3:18: audit.retention_days: 36501 is out of range; expected 1 to 36500 (audit "
            "records are kept at least a day)");
}

// ---------------------------------------------------------------------------------------------
// Valid files: every value read back.

TEST(LoadPolicyFile, CustomPolicySetsEveryKey) {
  std::string path = PolicyData("valid/custom.toml");
  Expected<Policy> policy = LoadPolicyFile(path);
  ASSERT_TRUE(policy.ok()) << policy.error().ToString();
  const Policy& p = *policy;
  EXPECT_EQ(p.source, path);
  EXPECT_EQ(p.version, 1);
  EXPECT_EQ(p.identity_prefix, "ci-agent");
  EXPECT_EQ(p.IdentityName(IdentityKind::kOnline), "ci-agent-online");
  EXPECT_EQ(p.GroupName(), "ci-agent-users");
  EXPECT_EQ(p.offline.mode, NetworkMode::kBlocked);
  EXPECT_EQ(p.offline.loopback_ports, (std::vector<std::uint16_t>{8080, 5432}));
  EXPECT_EQ(p.online.mode, NetworkMode::kBlocked);
  EXPECT_TRUE(p.online.loopback_ports.empty());
  EXPECT_EQ(p.filesystem.writable_roots,
            (std::vector<std::string>{"{workspace}", "{temp}", "/srv/cache", "C:\\BuildCache"}));
  EXPECT_EQ(p.filesystem.protected_paths,
            (std::vector<std::string>{".git", ".hg", "{workspace}/secrets", "/srv/cache/keys"}));
  EXPECT_EQ(p.filesystem.deny_read,
            (std::vector<std::string>{"~/.ssh", "%APPDATA%\\gnupg", "${HOME}/.netrc"}));
  EXPECT_EQ(p.limits.max_processes, 64u);
  EXPECT_EQ(p.limits.memory_mb, 2048u);
  EXPECT_EQ(p.audit.retention_days, 30u);
  EXPECT_TRUE(p.audit.fail_open);
  EXPECT_FALSE(p.audit.fsync);
}

TEST(LoadPolicyFile, PartialPolicyTakesTheRestFromTheDefault) {
  Expected<Policy> policy = LoadPolicyFile(PolicyData("valid/partial.toml"));
  ASSERT_TRUE(policy.ok()) << policy.error().ToString();
  Policy expected = DefaultPolicy();
  expected.source = policy->source;
  expected.offline.mode = NetworkMode::kAllowed;
  // The default's loopback ports mean nothing once the offline identity may go anywhere.
  expected.offline.loopback_ports.clear();
  expected.limits.memory_mb = 512;
  EXPECT_EQ(*policy, expected);
}

TEST(LoadPolicyFile, MinimalPolicyIsTheDefault) {
  Expected<Policy> policy = LoadPolicyFile(PolicyData("valid/minimal.toml"));
  ASSERT_TRUE(policy.ok()) << policy.error().ToString();
  EXPECT_EQ(PolicyToJson(*policy), PolicyToJson(DefaultPolicy()));
  EXPECT_NE(policy->source, DefaultPolicy().source);
}

TEST(LoadPolicyFile, ByteOrderMarkCrlfAndNonAsciiText) {
  Expected<Policy> policy = LoadPolicyFile(PolicyData("valid/bom_crlf_utf8.toml"));
  ASSERT_TRUE(policy.ok()) << policy.error().ToString();
  EXPECT_EQ(policy->filesystem.writable_roots, (std::vector<std::string>{"{workspace}",
                                                                         "/srv/donn\xC3\xA9"
                                                                         "es"}));
}

TEST(ParsePolicy, PositionsCountCodePointsAfterNonAsciiText) {
  // "é" is two bytes but one column, as toml++ counts.
  Error error = ParseError("version = 1\n[limits] # \xC3\xA9\nmax_processes = 'x'\n");
  EXPECT_EQ(error.context(),
            "p.toml:3:17: limits.max_processes: expected an integer, got a "
            "string (\"x\")");
  Error utf8 = ParseError("version = 1 # \xC3\xA9\xC3\xA9 \xFF\n");
  EXPECT_EQ(utf8.context(),
            "p.toml:1:18: byte 0xFF is not valid UTF-8; policy files must be UTF-8 encoded");
}

TEST(ParsePolicy, InlineTablesAndDottedKeysAreTheSameSchema) {
  Expected<Policy> policy = ParsePolicy(
      "version = 1\nnetwork = { offline = { mode = 'allowed' } }\nlimits.max_processes = 9\n",
      "p.toml");
  ASSERT_TRUE(policy.ok()) << policy.error().ToString();
  EXPECT_EQ(policy->offline.mode, NetworkMode::kAllowed);
  EXPECT_EQ(policy->limits.max_processes, 9u);
}

TEST(ParsePolicy, SiblingRootsAndCrossStyleRootsAreNotOverlaps) {
  Expected<Policy> policy = ParsePolicy(
      "version = 1\n[filesystem]\nwritable_roots = ['/srv/app', '/srv/application', "
      "'{workspace}', '{workspace}-cache', 'D:\\srv\\app', '~/build']\n",
      "p.toml");
  ASSERT_TRUE(policy.ok()) << policy.error().ToString();
  EXPECT_EQ(policy->filesystem.writable_roots.size(), 6u);
}

// ---------------------------------------------------------------------------------------------
// Choosing the policy.

TEST(LoadPolicyOrDefault, EmptyPathIsTheEmbeddedDefault) {
  Expected<Policy> policy = LoadPolicyOrDefault("");
  ASSERT_TRUE(policy.ok());
  EXPECT_EQ(*policy, DefaultPolicy());
  EXPECT_EQ(policy->source, "<embedded default>");
}

TEST(LoadPolicyOrDefault, PathIsLoaded) {
  Expected<Policy> policy = LoadPolicyOrDefault(PolicyData("valid/custom.toml"));
  ASSERT_TRUE(policy.ok()) << policy.error().ToString();
  EXPECT_EQ(policy->identity_prefix, "ci-agent");
  Expected<Policy> bad = LoadPolicyOrDefault(PolicyData("invalid/version_zero.toml"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kPolicyVersion);
}

TEST(LoadEffectivePolicy, FlagWinsAndMustExist) {
  TempDir dir;
  std::string custom = PolicyData("valid/custom.toml");
  std::string partial = PolicyData("valid/partial.toml");
  Expected<Policy> flag = LoadEffectivePolicy(custom, partial, partial);
  ASSERT_TRUE(flag.ok()) << flag.error().ToString();
  EXPECT_EQ(flag->source, custom);

  std::string missing = ToUtf8(dir.path() / "missing.toml");
  Expected<Policy> absent = LoadEffectivePolicy(missing, partial, partial);
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.error().code(), ErrorCode::kNotFound);
}

TEST(LoadEffectivePolicy, EnvironmentComesNextAndMustExist) {
  TempDir dir;
  std::string custom = PolicyData("valid/custom.toml");
  std::string partial = PolicyData("valid/partial.toml");
  Expected<Policy> env = LoadEffectivePolicy("", custom, partial);
  ASSERT_TRUE(env.ok()) << env.error().ToString();
  EXPECT_EQ(env->source, custom);

  std::string missing = ToUtf8(dir.path() / "missing.toml");
  Expected<Policy> absent = LoadEffectivePolicy("", missing, partial);
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.error().context(), missing + ": cannot read the policy: no such file");
}

TEST(LoadEffectivePolicy, DefaultLocationIsUsedWhenPresentAndMustBeValid) {
  TempDir dir;
  std::string at_default = dir.Write("policy.toml", "version = 1\n[limits]\nmax_processes = 5\n");
  Expected<Policy> present = LoadEffectivePolicy("", "", at_default);
  ASSERT_TRUE(present.ok()) << present.error().ToString();
  EXPECT_EQ(present->source, at_default);
  EXPECT_EQ(present->limits.max_processes, 5u);

  std::string broken = dir.Write("broken.toml", "version = 1\n[limits]\nmax_processes = 0\n");
  Expected<Policy> invalid = LoadEffectivePolicy("", "", broken);
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.error().code(), ErrorCode::kPolicyInvalid);

  // A folder where the file should be is reported, not skipped.
  Expected<Policy> folder = LoadEffectivePolicy("", "", ToUtf8(dir.path()));
  ASSERT_FALSE(folder.ok());
  EXPECT_EQ(folder.error().code(), ErrorCode::kIo);
}

TEST(LoadEffectivePolicy, NothingAnywhereMeansTheEmbeddedDefault) {
  TempDir dir;
  std::string missing = ToUtf8(dir.path() / "policy.toml");
  ASSERT_FALSE(std::filesystem::exists(FromUtf8(missing)));
  Expected<Policy> policy = LoadEffectivePolicy("", "", missing);
  ASSERT_TRUE(policy.ok()) << policy.error().ToString();
  EXPECT_EQ(policy->source, "<embedded default>");
  EXPECT_EQ(*policy, DefaultPolicy());
}

}  // namespace
}  // namespace stockade
