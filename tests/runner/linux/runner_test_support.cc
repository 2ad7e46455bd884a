#include "tests/runner/linux/runner_test_support.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include "runner/linux/cgroup.h"
#include "tests/support/linux/run_tool.h"

namespace stockade::runner::testing {

namespace {

void KillUidProcesses(uid_t uid) {
  for (int round = 0; round < 50; ++round) {
    const auto pids = ProcessesOfUid(uid);
    if (pids.empty()) return;
    for (pid_t p : pids) ::kill(p, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void DeleteUser(const std::string& name) {
  if (struct passwd* pw = ::getpwnam(name.c_str())) KillUidProcesses(pw->pw_uid);
  ::stockade::testing::RunShadowTool({"/usr/sbin/userdel", name});
}

void SweepStaleUsers() {
  std::ifstream in("/etc/passwd");
  std::string line;
  static const std::regex kName("^strun([0-9]+):");
  std::vector<std::string> stale;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, kName)) {
      const std::string pid = m[1];
      if (::access(("/proc/" + pid).c_str(), F_OK) != 0) stale.push_back("strun" + pid);
    }
  }
  for (const auto& name : stale) DeleteUser(name);
}

TestUser* g_user = nullptr;

void RemoveUserAtExit() {
  if (g_user != nullptr) DeleteUser(g_user->name);
}

void WriteText(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
}

std::string ReadFd(int fd) {
  std::string out;
  ::lseek(fd, 0, SEEK_SET);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<std::size_t>(n));
  return out;
}

}  // namespace

const TestUser& SandboxUser() {
  static std::once_flag once;
  std::call_once(once, [] {
    SweepStaleUsers();
    auto* user = new TestUser;
    user->name = "strun" + std::to_string(::getpid());
    const int rc = ::stockade::testing::RunShadowTool({"/usr/sbin/useradd", "--system",
                                                       "--user-group", "-M", "-d", "/nonexistent",
                                                       "-s", "/usr/sbin/nologin", user->name});
    struct passwd* pw = ::getpwnam(user->name.c_str());
    if (rc != 0 || pw == nullptr) {
      ADD_FAILURE() << "useradd " << user->name << " failed with status " << rc;
      return;
    }
    user->uid = pw->pw_uid;
    user->gid = pw->pw_gid;
    g_user = user;
    std::atexit(RemoveUserAtExit);
  });
  static const TestUser kNone;
  return g_user != nullptr ? *g_user : kNone;
}

int ErrnoIn(const std::string& out) {
  static const std::regex kErrno("errno=([0-9]+)");
  std::smatch m;
  if (std::regex_search(out, m, kErrno)) return std::stoi(m[1]);
  return -1;
}

std::vector<pid_t> ProcessesOfUid(uid_t uid) {
  std::vector<pid_t> pids;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return pids;
  while (dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    struct stat st {};
    if (::stat(("/proc/" + std::string(e->d_name)).c_str(), &st) != 0 || st.st_uid != uid) continue;
    if (ProcessAlive(static_cast<pid_t>(pid))) pids.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(dir);
  return pids;
}

bool ProcessAlive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return false;
  const std::size_t paren = text.rfind(')');
  if (paren == std::string::npos || paren + 2 >= text.size()) return false;
  const char state = text[paren + 2];
  return state != 'Z' && state != 'X';
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void RunnerTest::SetUp() {
  if (::geteuid() != 0) GTEST_SKIP() << "the launcher tests need root";
  user_ = SandboxUser();
  ASSERT_NE(user_.uid, 0u) << "no sandbox user";
  char tmpl[] = "/tmp/strun-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  base_ = tmpl;
  ::chmod(base_.c_str(), 0755);
  ws_ = base_ + "/ws";
  outside_ = base_ + "/outside";
  secret_dir_ = base_ + "/secret";
  secret_file_ = base_ + "/secret.txt";
  ASSERT_EQ(::mkdir(ws_.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((ws_ + "/.git").c_str(), 0755), 0);
  WriteText(ws_ + "/.git/config", "[core]\n", 0644);
  for (const auto& p : {ws_, ws_ + "/.git", ws_ + "/.git/config"}) {
    ASSERT_EQ(::chown(p.c_str(), user_.uid, user_.gid), 0) << p;
  }
  ASSERT_EQ(::mkdir(outside_.c_str(), 0777), 0);
  ::chmod(outside_.c_str(), 0777);
  ASSERT_EQ(::mkdir(secret_dir_.c_str(), 0755), 0);
  WriteText(secret_dir_ + "/key", "TOPSECRET", 0644);
  WriteText(secret_file_, "FILESECRET", 0644);
  options_.cgroup.parent_name = "stockade-test-" + std::to_string(::getpid());
  options_.runtime_dir = base_ + "/run";
}

void RunnerTest::TearDown() {
  if (base_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(base_, ec);
  // The per-test parent cgroups (the trees' own cgroups are removed by the launcher: the tests
  // check that they are gone).
  auto layout = linux_os::DetectCgroupLayout();
  if (layout.ok()) {
    const Status removed = linux_os::RemoveCgroupParent(*layout, options_.cgroup);
    EXPECT_TRUE(removed.ok()) << removed.error().ToString();
  }
}

LaunchSpec RunnerTest::ProbeSpec(const std::vector<std::string>& args) const {
  LaunchSpec spec;
  spec.argv = {STOCKADE_PROBE_PATH};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.env = {"PATH=/usr/bin:/bin", "LC_ALL=C"};
  spec.cwd = ws_;
  spec.identity.name = user_.name;
  spec.identity.uid = user_.uid;
  spec.identity.gid = user_.gid;
  spec.writable_roots = {ws_};
  spec.protected_paths = {".git"};
  spec.deny_read = {secret_dir_, secret_file_};
  spec.network = NetworkAccess::kBlocked;
  spec.limits.max_processes = 64;
  spec.timeout = std::chrono::seconds(30);
  return spec;
}

Expected<linux_os::ProcessTree> RunnerTest::Start(const LaunchSpec& spec, int* out_fd) {
  *out_fd = ::memfd_create("probe-out", MFD_CLOEXEC);
  linux_os::LaunchOptions options = options_;
  options.stdout_fd = *out_fd;
  options.stderr_fd = *out_fd;
  return linux_os::ProcessTree::Launch(spec, options);
}

ProbeResult RunnerTest::Run(const LaunchSpec& spec) {
  ProbeResult result;
  int fd = -1;
  auto tree = Start(spec, &fd);
  if (!tree.ok()) {
    ADD_FAILURE() << "launch failed: " << tree.error().ToString();
    ::close(fd);
    return result;
  }
  result.cgroups = tree->cgroup_paths();
  auto status = tree->Wait();
  if (!status.ok()) {
    ADD_FAILURE() << "wait failed: " << status.error().ToString();
  } else {
    result.status = *status;
  }
  result.out = ReadFd(fd);
  ::close(fd);
  return result;
}

ProbeResult RunnerTest::RunUnconfined(const std::vector<std::string>& args, uid_t uid, gid_t gid) {
  ProbeResult result;
  const int fd = ::memfd_create("probe-out", MFD_CLOEXEC);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    if (::setgroups(0, nullptr) != 0 || ::setresgid(gid, gid, gid) != 0 ||
        ::setresuid(uid, uid, uid) != 0 || ::chdir(ws_.c_str()) != 0) {
      ::_exit(126);
    }
    std::vector<char*> argv{const_cast<char*>(STOCKADE_PROBE_PATH)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(STOCKADE_PROBE_PATH, argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.status.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = ReadFd(fd);
  ::close(fd);
  return result;
}

}  // namespace stockade::runner::testing
