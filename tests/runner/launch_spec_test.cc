#include "runner/launch_spec.h"

#include <gtest/gtest.h>

namespace stockade::runner {
namespace {

LaunchSpec Valid() {
  LaunchSpec spec;
  spec.argv = {"/bin/true"};
  spec.env = {"PATH=/usr/bin:/bin"};
  spec.cwd = "/work/ws";
  spec.identity.name = "stockade-offline";
  spec.identity.uid = 990;
  spec.identity.gid = 990;
  spec.writable_roots = {"/work/ws", "/tmp"};
  spec.protected_paths = {".git", "/work/ws/.codex"};
  spec.deny_read = {"/home/u/.ssh"};
  spec.loopback_ports = {3128};
  return spec;
}

TEST(LaunchSpecTest, AcceptsAWellFormedSpec) { EXPECT_TRUE(ValidateLaunchSpec(Valid()).ok()); }

TEST(LaunchSpecTest, RejectsEachMalformedField) {
  struct Case {
    const char* name;
    void (*mutate)(LaunchSpec*);
    const char* expect_in_context;
  };
  const Case cases[] = {
      {"empty argv", [](LaunchSpec* s) { s->argv.clear(); }, "argv is empty"},
      {"env without =", [](LaunchSpec* s) { s->env.push_back("JUSTNAME"); }, "NAME=VALUE"},
      {"env with empty name", [](LaunchSpec* s) { s->env.push_back("=x"); }, "NAME=VALUE"},
      {"relative cwd", [](LaunchSpec* s) { s->cwd = "ws"; }, "cwd"},
      {"root uid", [](LaunchSpec* s) { s->identity.uid = 0; }, "root"},
      {"dotdot root", [](LaunchSpec* s) { s->writable_roots.push_back("/a/../etc"); },
       "writable root"},
      {"trailing slash", [](LaunchSpec* s) { s->writable_roots.push_back("/a/"); },
       "writable root"},
      {"nested protected", [](LaunchSpec* s) { s->protected_paths.push_back("a/b"); },
       "one plain name"},
      {"deny root", [](LaunchSpec* s) { s->deny_read.push_back("/"); }, "deny-read"},
      {"port 0", [](LaunchSpec* s) { s->loopback_ports.push_back(0); }, "loopback port"},
  };
  for (const auto& c : cases) {
    LaunchSpec spec = Valid();
    c.mutate(&spec);
    const Status st = ValidateLaunchSpec(spec);
    ASSERT_FALSE(st.ok()) << c.name;
    EXPECT_EQ(st.error().code(), ErrorCode::kInvalidArgument) << c.name;
    EXPECT_NE(st.error().context().find(c.expect_in_context), std::string::npos)
        << c.name << ": " << st.error().context();
  }
}

TEST(LaunchSpecTest, SameUserNeedsNoUid) {
  LaunchSpec spec = Valid();
  spec.identity = {};
  spec.identity.same_user = true;
  EXPECT_TRUE(ValidateLaunchSpec(spec).ok());
}

TEST(LaunchSpecTest, CleanAbsolutePaths) {
  EXPECT_TRUE(IsCleanAbsolutePath("/"));
  EXPECT_TRUE(IsCleanAbsolutePath("/a/b.c/..d"));
  EXPECT_FALSE(IsCleanAbsolutePath(""));
  EXPECT_FALSE(IsCleanAbsolutePath("a"));
  EXPECT_FALSE(IsCleanAbsolutePath("//a"));
  EXPECT_FALSE(IsCleanAbsolutePath("/a//b"));
  EXPECT_FALSE(IsCleanAbsolutePath("/a/./b"));
  EXPECT_FALSE(IsCleanAbsolutePath("/a/.."));
  EXPECT_FALSE(IsCleanAbsolutePath(std::string("/a\0b", 4)));
}

}  // namespace
}  // namespace stockade::runner
