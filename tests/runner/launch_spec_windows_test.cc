// The Windows shape of a LaunchSpec (portable string checks; they run on every OS).
#include <gtest/gtest.h>

#include "runner/launch_spec.h"

namespace stockade::runner {
namespace {

LaunchSpec Valid() {
  LaunchSpec spec;
  spec.argv = {"git.exe", "status"};
  spec.env = {"PATH=C:\\Windows\\System32", "SystemRoot=C:\\Windows"};
  spec.cwd = "C:\\work\\ws";
  spec.identity.name = "stockade-offline";
  spec.writable_roots = {"C:\\work\\ws", "C:\\ProgramData\\Stockade\\tmp\\s1"};
  spec.protected_paths = {".git", "C:\\work\\ws\\.codex"};
  spec.deny_read = {"C:\\Users\\u\\.ssh"};
  spec.loopback_ports = {3128};
  return spec;
}

TEST(LaunchSpecWindowsTest, AcceptsAWellFormedSpec) {
  const Status st = ValidateWindowsLaunchSpec(Valid());
  EXPECT_TRUE(st.ok()) << st.error().ToString();
  LaunchSpec same_user = Valid();
  same_user.identity = {};
  same_user.identity.same_user = true;
  EXPECT_TRUE(ValidateWindowsLaunchSpec(same_user).ok());
}

TEST(LaunchSpecWindowsTest, RejectsEachMalformedField) {
  struct Case {
    const char* name;
    void (*mutate)(LaunchSpec*);
    const char* expect_in_context;
  };
  const Case cases[] = {
      {"empty argv", [](LaunchSpec* s) { s->argv.clear(); }, "argv is empty"},
      {"env without =", [](LaunchSpec* s) { s->env.push_back("JUSTNAME"); }, "NAME=VALUE"},
      {"posix cwd", [](LaunchSpec* s) { s->cwd = "/work/ws"; }, "cwd"},
      {"relative cwd", [](LaunchSpec* s) { s->cwd = "ws"; }, "cwd"},
      {"no identity", [](LaunchSpec* s) { s->identity.name.clear(); }, "identity"},
      {"dotdot root", [](LaunchSpec* s) { s->writable_roots.push_back("C:\\a\\..\\b"); },
       "writable root"},
      {"forward slash", [](LaunchSpec* s) { s->writable_roots.push_back("C:\\a/b"); },
       "writable root"},
      {"unc root", [](LaunchSpec* s) { s->writable_roots.push_back("\\\\srv\\share"); },
       "writable root"},
      {"stream name", [](LaunchSpec* s) { s->writable_roots.push_back("C:\\a:stream"); },
       "writable root"},
      {"nested protected", [](LaunchSpec* s) { s->protected_paths.push_back("a\\b"); },
       "one plain name"},
      {"deny drive", [](LaunchSpec* s) { s->deny_read.push_back("C:\\"); }, "deny-read"},
      {"port 0", [](LaunchSpec* s) { s->loopback_ports.push_back(0); }, "loopback port"},
  };
  for (const auto& c : cases) {
    LaunchSpec spec = Valid();
    c.mutate(&spec);
    const Status st = ValidateWindowsLaunchSpec(spec);
    ASSERT_FALSE(st.ok()) << c.name;
    EXPECT_EQ(st.error().code(), ErrorCode::kInvalidArgument) << c.name;
    EXPECT_NE(st.error().context().find(c.expect_in_context), std::string::npos)
        << c.name << ": " << st.error().context();
  }
}

TEST(LaunchSpecWindowsTest, CleanWindowsPaths) {
  EXPECT_TRUE(IsCleanWindowsPath("C:\\"));
  EXPECT_TRUE(IsCleanWindowsPath("d:\\a\\b.c\\..d"));
  EXPECT_FALSE(IsCleanWindowsPath(""));
  EXPECT_FALSE(IsCleanWindowsPath("C:"));
  EXPECT_FALSE(IsCleanWindowsPath("C:a"));
  EXPECT_FALSE(IsCleanWindowsPath("C:\\a\\"));
  EXPECT_FALSE(IsCleanWindowsPath("C:\\a\\\\b"));
  EXPECT_FALSE(IsCleanWindowsPath("C:\\a\\.\\b"));
  EXPECT_FALSE(IsCleanWindowsPath("\\\\?\\C:\\a"));
  EXPECT_FALSE(IsCleanWindowsPath("C:\\a*"));
  EXPECT_FALSE(IsCleanWindowsPath(std::string("C:\\a\0b", 6)));
}

#if defined(_WIN32)
TEST(LaunchSpecWindowsTest, WindowsBuildsCheckDrivePathSpecsByTheWindowsRules) {
  EXPECT_TRUE(ValidateLaunchSpec(Valid()).ok());  // uid 0 is no concern for a Windows spec
  LaunchSpec bad = Valid();
  bad.writable_roots.push_back("C:\\a\\..\\b");
  EXPECT_FALSE(ValidateLaunchSpec(bad).ok());
}
#endif

}  // namespace
}  // namespace stockade::runner
