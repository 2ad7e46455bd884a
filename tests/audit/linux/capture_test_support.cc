#include "tests/audit/linux/capture_test_support.h"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <thread>

#include "audit/linux/audit_netlink.h"
#include "runner/linux/cgroup.h"
#include "tests/support/linux/run_tool.h"

namespace stockade::audit::testing {
namespace {

void KillUidProcesses(uid_t uid) {
  for (int round = 0; round < 50; ++round) {
    bool any = false;
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
      const std::string name = e.path().filename();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      struct stat st {};
      if (::stat(e.path().c_str(), &st) != 0 || st.st_uid != uid) continue;
      ::kill(std::stoi(name), SIGKILL);
      any = true;
    }
    if (!any) return;
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
  static const std::regex kName("^stcap([0-9]+):");
  std::vector<std::string> stale;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, kName) && ::access(("/proc/" + m[1].str()).c_str(), F_OK) != 0) {
      stale.push_back("stcap" + m[1].str());
    }
  }
  for (const auto& name : stale) DeleteUser(name);
}

CaptureTestUser* g_user = nullptr;
void RemoveUserAtExit() {
  if (g_user != nullptr) DeleteUser(g_user->name);
}

}  // namespace

const CaptureTestUser& CaptureUser() {
  static std::once_flag once;
  std::call_once(once, [] {
    SweepStaleUsers();
    auto* user = new CaptureTestUser;
    user->name = "stcap" + std::to_string(::getpid());
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
  static const CaptureTestUser kNone;
  return g_user != nullptr ? *g_user : kNone;
}

void EventCollector::Add(Event e) {
  std::lock_guard lock(mu_);
  events_.push_back(std::move(e));
  cv_.notify_all();
}

std::vector<Event> EventCollector::Events(const std::string& session_id) const {
  std::lock_guard lock(mu_);
  std::vector<Event> out;
  for (const Event& e : events_) {
    if (e.session_id == session_id) out.push_back(e);
  }
  return out;
}

std::vector<Event> EventCollector::All() const {
  std::lock_guard lock(mu_);
  return events_;
}

bool EventCollector::WaitFor(const std::string& session_id,
                             const std::function<bool(const std::vector<Event>&)>& pred,
                             std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred(Events(session_id))) return true;
    std::unique_lock lock(mu_);
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      lock.unlock();
      return pred(Events(session_id));
    }
  }
}

void CaptureTest::SetUp() {
  if (::geteuid() != 0) GTEST_SKIP() << "the capture tests need root (kernel audit, users)";
  user_ = CaptureUser();
  ASSERT_NE(user_.uid, 0u) << "no test user";
  auto socket = linux_os::AuditSocket::Open(linux_os::AuditSocket::Mode::kCommand);
  ASSERT_TRUE(socket.ok()) << socket.error().ToString();
  auto snap = linux_os::TakeKernelAuditSnapshot(*socket);
  ASSERT_TRUE(snap.ok()) << snap.error().ToString();
  before_ = *snap;
  have_before_ = true;
  char tmpl[] = "/tmp/stcap-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  base_ = tmpl;
  ::chmod(base_.c_str(), 0755);
  ws_ = base_ + "/ws";
  outside_ = base_ + "/outside";
  ASSERT_EQ(::mkdir(ws_.c_str(), 0755), 0);
  ASSERT_EQ(::chown(ws_.c_str(), user_.uid, user_.gid), 0);
  ASSERT_EQ(::mkdir(outside_.c_str(), 0777), 0);
  ::chmod(outside_.c_str(), 0777);
  options_.cgroup.parent_name = "stockade-audit-test-" + std::to_string(::getpid());
  options_.runtime_dir = base_ + "/run";
}

void CaptureTest::TearDown() {
  if (capture_) {
    const Status s = capture_->Stop();
    EXPECT_TRUE(s.ok()) << s.error().ToString();
    capture_.reset();
  }
  if (have_before_) {
    auto socket = linux_os::AuditSocket::Open(linux_os::AuditSocket::Mode::kCommand);
    ASSERT_TRUE(socket.ok()) << socket.error().ToString();
    auto after = linux_os::TakeKernelAuditSnapshot(*socket);
    ASSERT_TRUE(after.ok()) << after.error().ToString();
    EXPECT_EQ(linux_os::DescribeSnapshotDifference(before_, *after), "")
        << "the kernel audit configuration differs from what the test found";
  }
  if (!base_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(base_, ec);
  }
  auto layout = runner::linux_os::DetectCgroupLayout();
  if (layout.ok()) {
    const Status removed = runner::linux_os::RemoveCgroupParent(*layout, options_.cgroup);
    EXPECT_TRUE(removed.ok()) << removed.error().ToString();
  }
}

void CaptureTest::StartCapture(std::optional<std::uint16_t> nflog_group) {
  linux_os::CaptureOptions o;
  o.uids = {user_.uid};
  o.nflog_group = nflog_group;
  o.runtime_dir = RuntimeDir();
  auto c = linux_os::Capture::Start(o, [this](Event e) { events_.Add(std::move(e)); });
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  capture_ = std::move(*c);
}

runner::LaunchSpec CaptureTest::ShellSpec(const std::string& script) const {
  runner::LaunchSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  spec.env = {"PATH=/usr/bin:/bin", "LANG=C"};
  spec.cwd = ws_;
  spec.identity.name = user_.name;
  spec.identity.uid = user_.uid;
  spec.identity.gid = user_.gid;
  spec.writable_roots = {ws_};
  spec.network = runner::NetworkAccess::kBlocked;
  spec.limits.max_processes = 0;
  spec.limits.memory_bytes = 0;
  spec.timeout = std::chrono::minutes(5);
  return spec;
}

runner::linux_os::ExitStatus CaptureTest::RunSession(const std::string& session_id,
                                                     const runner::LaunchSpec& spec) {
  runner::linux_os::ExitStatus status;
  runner::linux_os::LaunchOptions options = options_;
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  options.stdin_fd = null;
  options.stdout_fd = null;
  options.stderr_fd = null;
  auto tree = runner::linux_os::ProcessTree::Launch(spec, options);
  ::close(null);
  EXPECT_TRUE(tree.ok()) << tree.error().ToString();
  if (!tree.ok()) return status;
  capture_->AddSession(session_id, tree->pid(), user_.uid);
  auto exit = tree->Wait();
  EXPECT_TRUE(exit.ok()) << exit.error().ToString();
  if (exit.ok()) status = *exit;
  const Status ended = capture_->EndSession(session_id, std::chrono::seconds(120));
  EXPECT_TRUE(ended.ok()) << ended.error().ToString();
  return status;
}

std::vector<const ProcessEvent*> ProcessEvents(const std::vector<Event>& events,
                                               ProcessPhase phase) {
  std::vector<const ProcessEvent*> out;
  for (const Event& e : events) {
    if (const auto* p = std::get_if<ProcessEvent>(&e.body); p != nullptr && p->phase == phase) {
      out.push_back(p);
    }
  }
  return out;
}

std::vector<const DenialEvent*> DenialEvents(const std::vector<Event>& events) {
  std::vector<const DenialEvent*> out;
  for (const Event& e : events) {
    if (const auto* d = std::get_if<DenialEvent>(&e.body)) out.push_back(d);
  }
  return out;
}

}  // namespace stockade::audit::testing
