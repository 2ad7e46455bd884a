// The tree cgroup on its own: layout detection, limits written and read back from the kernel's
// files, processes listed, and every folder removed afterwards.
#include "runner/linux/cgroup.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace stockade::runner::linux_os {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(CgroupLayoutTest, FindsTheHierarchiesThisProcessIsIn) {
  auto layout = DetectCgroupLayout();
  ASSERT_TRUE(layout.ok()) << layout.error().ToString();
  ASSERT_FALSE(layout->v2_mount.empty() && layout->pids_v1_mount.empty());
  const std::string self = std::to_string(::getpid());
  // Our own pid must be listed in the cgroup the layout says we are in.
  if (!layout->v2_mount.empty()) {
    const std::string procs =
        layout->v2_mount + (layout->v2_own == "/" ? "" : layout->v2_own) + "/cgroup.procs";
    EXPECT_NE(("\n" + Read(procs)).find("\n" + self + "\n"), std::string::npos) << procs;
  }
  if (!layout->pids_v1_mount.empty()) {
    const std::string procs = layout->pids_v1_mount +
                              (layout->pids_v1_own == "/" ? "" : layout->pids_v1_own) +
                              "/cgroup.procs";
    EXPECT_NE(("\n" + Read(procs)).find("\n" + self + "\n"), std::string::npos) << procs;
  }
}

TEST(TreeCgroupTest, LimitsReadBackAndEverythingIsRemoved) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  auto layout = DetectCgroupLayout();
  ASSERT_TRUE(layout.ok());
  CgroupOptions options;
  options.parent_name = "stockade-test-cg-" + std::to_string(::getpid());
  LaunchLimits limits;
  limits.max_processes = 7;
  limits.memory_bytes = (32ULL << 20) + 1;  // rounded up to whole pages
  std::vector<std::string> paths;
  {
    auto tree = TreeCgroup::Create(*layout, options, limits);
    ASSERT_TRUE(tree.ok()) << tree.error().ToString();
    paths = tree->paths();
    ASSERT_FALSE(paths.empty());
    bool saw_pids = false, saw_memory = false;
    for (const auto& dir : paths) {
      if (std::filesystem::exists(dir + "/pids.max")) {
        EXPECT_EQ(Read(dir + "/pids.max"), "7\n");
        saw_pids = true;
      }
      if (std::filesystem::exists(dir + "/memory.limit_in_bytes")) {
        EXPECT_EQ(Read(dir + "/memory.limit_in_bytes"),
                  std::to_string((32ULL << 20) + 4096) + "\n");
        saw_memory = true;
      } else if (std::filesystem::exists(dir + "/memory.max")) {
        EXPECT_EQ(Read(dir + "/memory.max"), std::to_string((32ULL << 20) + 4096) + "\n");
        saw_memory = true;
      }
    }
    EXPECT_TRUE(saw_pids);
    EXPECT_TRUE(saw_memory);

    // A process put in by hand is listed, killed and gone before the folders are removed. It
    // says when it has joined every hierarchy (the launcher's child is born in the v2 one).
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    const pid_t child = ::fork();
    if (child == 0) {
      for (int fd : tree->join_fds()) {
        if (::write(fd, "0", 1) != 1) ::_exit(3);
      }
      if (tree->clone_into_fd() >= 0) {
        std::ofstream(paths.front() + "/cgroup.procs") << "0";
      }
      if (::write(ready[1], "r", 1) != 1) ::_exit(4);
      for (;;) ::pause();
    }
    ::close(ready[1]);
    char byte = 0;
    ASSERT_EQ(::read(ready[0], &byte, 1), 1);
    ::close(ready[0]);
    auto pids = tree->Processes();
    ASSERT_TRUE(pids.ok());
    ASSERT_EQ(pids->size(), 1u);
    EXPECT_EQ((*pids)[0], child);
    ASSERT_TRUE(tree->Kill().ok());
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    ASSERT_TRUE(tree->WaitUntilEmpty(std::chrono::seconds(5)).ok());
    ASSERT_TRUE(tree->Remove().ok());
  }
  for (const auto& dir : paths) {
    EXPECT_FALSE(std::filesystem::exists(dir)) << dir;
    EXPECT_EQ(::rmdir(std::filesystem::path(dir).parent_path().c_str()), 0) << dir;
  }
}

TEST(TreeCgroupTest, RejectsAParentNameThatIsAPath) {
  auto layout = DetectCgroupLayout();
  ASSERT_TRUE(layout.ok());
  CgroupOptions options;
  options.parent_name = "../escape";
  auto tree = TreeCgroup::Create(*layout, options, LaunchLimits{});
  ASSERT_FALSE(tree.ok());
  EXPECT_EQ(tree.error().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace stockade::runner::linux_os
