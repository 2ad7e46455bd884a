// stockaded with the kernel audit capture, for real, as root: a server started by the test with
// a real audit store and `audit_capture` and `reap_orphans` on (as `stockaded serve` runs), its
// own sandbox identities and a granted workspace, all removed afterwards. Runs go through the
// service's socket; what was recorded is read back with the store's query API (audit/query.h).
//  - a tree of 10,000 processes (nested, parallel, short-lived) -> 10,000 exec and 10,000 exit
//    events in the store, with the exact argv and the right parents;
//  - deaths by signal -> exit events that carry the signal; the session end carries it too;
//  - orphans of a tree are reaped by the service (no zombie left) and never the tree's root:
//    the exit status the launcher reports stays right;
//  - a second service whose capture cannot start (the first holds the machine's capture lock)
//    refuses runs with E_AUDIT_UNAVAILABLE, and runs them unrecorded with audit.fail_open;
//  - the kernel audit configuration is byte-identical after the service stopped.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "audit/linux/audit_netlink.h"
#include "audit/linux/kernel_audit_config.h"
#include "audit/query.h"
#include "audit/store.h"
#include "provision/journal/journal.h"
#include "provision/step.h"
#include "runner/protocol/linux/connection.h"
#include "runner/service/linux/server.h"
#include "tests/support/linux/run_tool.h"

namespace stockade::runner::testing {
namespace {

namespace proto = stockade::runner::protocol;
namespace pio = stockade::runner::protocol::linux_os;
using linux_os::UniqueFd;
using service::linux_os::Server;
using service::linux_os::ServerOptions;

// 1 root sh + 99 second-level sh + 99 x 100 /bin/true = 10,000 execs (as in the capture's own
// storm test, tests/audit/linux/capture_linux_test.cc): each second-level sh runs its loop in a
// subshell (a fork without exec), so the capture must link /bin/true through that fork.
constexpr int kLevel1 = 99;
constexpr int kLevel2 = 100;
constexpr char kLevel1Script[] =
    "( j=0; while [ $j -lt 100 ]; do j=$((j+1)); /bin/true L2 \"$0\" \"$j\" & done; wait )";

std::string StormScript() {
  return "i=0; while [ $i -lt " + std::to_string(kLevel1) + " ]; do i=$((i+1)); /bin/sh -c '" +
         kLevel1Script + "' \"$i\" & done; wait";
}

using ::stockade::testing::RunQuiet;
using ::stockade::testing::RunShadowTool;

uid_t CreateUser(const std::string& name) {
  RunShadowTool({"/usr/sbin/useradd", "--system", "-M", "-d", "/nonexistent", "-s",
                 "/usr/sbin/nologin", "-U", name});
  passwd* pw = ::getpwnam(name.c_str());
  return pw != nullptr ? pw->pw_uid : 0;
}

// Live processes of `uid` (from /proc), for the clean-up before userdel.
std::vector<pid_t> ProcessesOf(uid_t uid) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    struct stat st {};
    if (::stat(("/proc/" + std::string(e->d_name)).c_str(), &st) == 0 && st.st_uid == uid) {
      out.push_back(pid);
    }
  }
  ::closedir(d);
  return out;
}

void DeleteUser(const std::string& name) {
  if (passwd* pw = ::getpwnam(name.c_str())) {
    const uid_t uid = pw->pw_uid;
    for (int i = 0; i < 50 && !ProcessesOf(uid).empty(); ++i) {
      for (pid_t p : ProcessesOf(uid)) ::kill(p, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    RunShadowTool({"/usr/sbin/userdel", name});
  }
  RunShadowTool({"/usr/sbin/groupdel", name});
}

// Zombie children of this (the test's) process: "State: Z" and "PPid: <us>" in /proc.
std::vector<pid_t> OurZombies() {
  std::vector<pid_t> out;
  const std::string us = std::to_string(::getpid());
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    std::ifstream status("/proc/" + std::string(e->d_name) + "/status");
    std::string line;
    bool zombie = false, ours = false;
    while (std::getline(status, line)) {
      if (line.rfind("State:", 0) == 0) zombie = line.find('Z') != std::string::npos;
      if (line.rfind("PPid:", 0) == 0) {
        std::istringstream in(line.substr(5));
        std::string ppid;
        in >> ppid;
        ours = ppid == us;
      }
    }
    if (zombie && ours) out.push_back(pid);
  }
  ::closedir(d);
  return out;
}

class ServiceAuditTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    prefix_ = "sva" + std::to_string(::getpid());
    offline_uid_ = CreateUser(prefix_ + "-offline");
    online_uid_ = CreateUser(prefix_ + "-online");
    char tmpl[] = "/tmp/stsva-XXXXXX";
    root_ = ::mkdtemp(tmpl);
    ::chmod(root_.c_str(), 0755);
    state_ = root_ + "/state";
    ::mkdir(state_.c_str(), 0711);
    ws_ = root_ + "/ws";
    ::mkdir(ws_.c_str(), 0777);
    ::chmod(ws_.c_str(), 0777);  // the identities write here (ACLs are not the subject)
    Grant(ws_);

    policy_.identity_prefix = prefix_;
    policy_.source = "<service audit test>";
    policy_.filesystem.writable_roots = {"{workspace}", "{temp}"};
    policy_.filesystem.protected_paths = {".git"};
    policy_.limits.max_processes = 20000;  // the storm runs ~10,000 at once
    policy_.limits.memory_mb = 4096;

    // The kernel audit configuration as found: it must be exactly this again at the end.
    if (auto socket =
            audit::linux_os::AuditSocket::Open(audit::linux_os::AuditSocket::Mode::kCommand);
        socket.ok()) {
      if (auto snap = audit::linux_os::TakeKernelAuditSnapshot(*socket); snap.ok()) before_ = *snap;
    }

    audit::StoreOptions store_options;
    store_options.path = audit::DefaultStorePath(state_);
    auto store = audit::Store::Open(store_options);
    if (!store.ok()) {
      start_error_ = store.error().ToString();
      return;
    }
    store_ = std::move(*store);
    auto server = Server::Start(Options(state_ + "/stockaded.sock", policy_, store_.get()));
    if (!server.ok()) {
      start_error_ = server.error().ToString();
      return;
    }
    server_ = std::move(*server);
  }

  static ServerOptions Options(const std::string& socket, const Policy& policy,
                               audit::Recorder* recorder, const std::string& cgroup_tag = "") {
    ServerOptions options;
    options.state_dir = state_;
    options.socket_path = socket;
    options.policy = policy;
    options.temp_root = root_ + "/sessions";
    // Each server removes its cgroup parent at stop: never share one.
    options.cgroup.parent_name = "stockade-svaudit" + cgroup_tag + "-" + std::to_string(::getpid());
    options.recorder = recorder;
    options.audit_capture = true;
    options.reap_orphans = true;
    options.capture.end_timeout = std::chrono::seconds(60);  // the storm's records drain slowly
    return options;
  }

  static void TearDownTestSuite() {
    if (server_) server_->Stop();
    server_.reset();
    if (store_) (void)store_->Close();
    store_.reset();
    if (::geteuid() == 0) {
      if (auto socket =
              audit::linux_os::AuditSocket::Open(audit::linux_os::AuditSocket::Mode::kCommand);
          socket.ok()) {
        auto after = audit::linux_os::TakeKernelAuditSnapshot(*socket);
        EXPECT_TRUE(after.ok());
        if (after.ok()) {
          EXPECT_EQ(audit::linux_os::DescribeSnapshotDifference(before_, *after), "")
              << "the service left the kernel audit configuration changed";
        }
      }
    }
    for (const char* suffix : {"-offline", "-online"}) DeleteUser(prefix_ + suffix);
    std::error_code ec;
    if (!root_.empty()) std::filesystem::remove_all(root_, ec);
  }

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    ASSERT_NE(server_, nullptr) << start_error_;
    ASSERT_NE(offline_uid_, 0u);
    ASSERT_NE(server_->capture(), nullptr);
    // One capture per machine: another Stockade service or capture test (another build folder)
    // may hold it for a while. Wait as `stockaded serve` does (Maintain retries the start).
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(180);
    while (!server_->capture()->running() && std::chrono::steady_clock::now() < give_up) {
      server_->Maintain();
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    ASSERT_TRUE(server_->capture()->running()) << server_->capture()->Start().error().ToString();
  }

  // Journals a live grant of `path` for root, as `stockade-provision grant` does.
  static void Grant(const std::string& path) {
    auto journal = provision::Journal::Open(state_);
    ASSERT_TRUE(journal.ok()) << journal.error().ToString();
    auto txn = journal->BeginTransaction(provision::txn_kind::kGrant, {{"path", path}}, 1);
    ASSERT_TRUE(txn.ok());
    provision::StepSpec spec{provision::kind::kWorkspaceGrant,
                             "workspace " + path,
                             {{"path", path},
                              {"protected", {".git"}},
                              {"users", {prefix_ + "-offline", prefix_ + "-online"}},
                              {"owner_uid", 0}}};
    ASSERT_TRUE(journal->InsertIntendedStep(*txn, 1, spec, nlohmann::json::object()).ok());
    ASSERT_TRUE(journal->MarkStepApplied(*txn, 1).ok());
    ASSERT_TRUE(journal->FinishTransaction(*txn, provision::TxnState::kCommitted).ok());
  }

  static proto::RunRequest Request(std::vector<std::string> argv) {
    proto::RunRequest r;
    r.identity = "offline";
    r.workspace = ws_;
    r.cwd = ws_;
    r.argv = std::move(argv);
    r.env = {"PATH=/usr/bin:/bin"};
    r.stdio = {proto::StdioKind::kNull, proto::StdioKind::kNull, proto::StdioKind::kNull};
    return r;
  }

  struct Outcome {
    std::string session;  // from Started
    std::optional<proto::ExitMessage> exit;
    std::optional<proto::ErrorMessage> error;
  };

  // Runs `request` as root through `socket` (default: the test's service).
  static Outcome Run(const proto::RunRequest& request, const std::string& socket = "") {
    Outcome o;
    auto conn = pio::Connection::Connect(socket.empty() ? server_->socket_path() : socket);
    EXPECT_TRUE(conn.ok()) << conn.error().ToString();
    if (!conn.ok()) return o;
    EXPECT_TRUE(conn->Send(request, {}).ok());
    for (;;) {
      auto reply = conn->Receive(std::chrono::seconds(170));
      if (!reply.ok()) {
        ADD_FAILURE() << reply.error().ToString();
        break;
      }
      if (auto* started = std::get_if<proto::StartedMessage>(&*reply)) {
        o.session = started->session_id;
        continue;
      }
      if (auto* exit = std::get_if<proto::ExitMessage>(&*reply)) o.exit = *exit;
      if (auto* error = std::get_if<proto::ErrorMessage>(&*reply)) o.error = *error;
      break;
    }
    return o;
  }

  // Every event of `session` in the store, through the query API.
  static std::vector<audit::Event> SessionEvents(const std::string& session) {
    auto reader = audit::AuditReader::Open(audit::DefaultStorePath(state_));
    EXPECT_TRUE(reader.ok()) << reader.error().ToString();
    if (!reader.ok()) return {};
    audit::QueryFilter filter;
    filter.session_id = session;
    auto events = reader->Query(filter);
    EXPECT_TRUE(events.ok()) << events.error().ToString();
    return events.ok() ? *events : std::vector<audit::Event>{};
  }

  static std::vector<const audit::ProcessEvent*> Processes(const std::vector<audit::Event>& events,
                                                           audit::ProcessPhase phase) {
    std::vector<const audit::ProcessEvent*> out;
    for (const audit::Event& e : events) {
      const auto* p = std::get_if<audit::ProcessEvent>(&e.body);
      if (p != nullptr && p->phase == phase) out.push_back(p);
    }
    return out;
  }

  static const audit::SessionEvent* SessionEnd(const std::vector<audit::Event>& events) {
    for (const audit::Event& e : events) {
      const auto* s = std::get_if<audit::SessionEvent>(&e.body);
      if (s != nullptr && s->phase == audit::SessionPhase::kEnd) return s;
    }
    return nullptr;
  }

  static inline std::string prefix_, root_, state_, ws_, start_error_;
  static inline uid_t offline_uid_ = 0, online_uid_ = 0;
  static inline Policy policy_;
  static inline audit::linux_os::KernelAuditSnapshot before_;
  static inline std::unique_ptr<audit::Store> store_;
  static inline std::unique_ptr<Server> server_;
};

TEST_F(ServiceAuditTest, SpawnStormOfTenThousandProcessesIsInTheStore) {
  const std::vector<std::string> argv = {"/bin/sh", "-c", StormScript()};
  const auto start = std::chrono::steady_clock::now();
  const Outcome o = Run(Request(argv));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(o.exit.has_value()) << (o.error ? o.error->message : "no reply");
  ASSERT_EQ(o.exit->code, 0);
  // The session end is committed before the client hears the exit, and the run's events were
  // queued before it: the store holds them all now.
  const std::vector<audit::Event> events = SessionEvents(o.session);
  const auto execs = Processes(events, audit::ProcessPhase::kExec);
  const auto exits = Processes(events, audit::ProcessPhase::kExit);
  const auto stats = server_->capture()->Stats();
  constexpr int kSpawned = 1 + kLevel1 + kLevel1 * kLevel2;
  std::printf(
      "[ storm    ] through the service: %zu exec / %zu exit events in the store for %d spawned "
      "in %.2f s; records=%llu kernel lost=%llu unattributed=%llu store refusals=%llu\n",
      execs.size(), exits.size(), kSpawned, seconds, static_cast<unsigned long long>(stats.records),
      static_cast<unsigned long long>(stats.kernel_lost),
      static_cast<unsigned long long>(stats.correlator.unattributed),
      static_cast<unsigned long long>(server_->capture()->record_failures()));
  EXPECT_EQ(stats.kernel_lost, 0u);
  EXPECT_EQ(server_->capture()->record_failures(), 0u);
  ASSERT_EQ(execs.size(), static_cast<std::size_t>(kSpawned));

  std::map<std::string, const audit::ProcessEvent*> by_guid;
  const audit::ProcessEvent* root = nullptr;
  std::map<std::string, const audit::ProcessEvent*> level1;  // by i
  std::set<std::pair<std::string, std::string>> level2_seen;
  for (const audit::ProcessEvent* p : execs) {
    EXPECT_TRUE(by_guid.emplace(p->process_guid, p).second) << "duplicate GUID";
    EXPECT_EQ(p->uid, static_cast<std::int64_t>(offline_uid_));
    EXPECT_EQ(p->cwd, ws_);
    if (p->argv == argv) {
      EXPECT_EQ(root, nullptr) << "two roots";
      root = p;
      EXPECT_EQ(p->parent_guid, "");
    } else if (p->argv.size() == 4 && p->argv[0] == "/bin/sh") {
      EXPECT_EQ(p->argv[1], "-c");
      EXPECT_EQ(p->argv[2], kLevel1Script);
      EXPECT_TRUE(level1.emplace(p->argv[3], p).second) << "level 1 #" << p->argv[3] << " twice";
    } else {
      ASSERT_EQ(p->argv.size(), 4u) << p->image;
      EXPECT_EQ(p->argv[0], "/bin/true");
      EXPECT_EQ(p->argv[1], "L2");
      EXPECT_TRUE(level2_seen.emplace(p->argv[2], p->argv[3]).second)
          << "true " << p->argv[2] << " " << p->argv[3] << " twice";
    }
  }
  ASSERT_NE(root, nullptr);
  ASSERT_EQ(level1.size(), static_cast<std::size_t>(kLevel1));
  EXPECT_EQ(level2_seen.size(), static_cast<std::size_t>(kLevel1 * kLevel2));
  for (const auto& [i, p] : level1) {
    EXPECT_EQ(p->parent_guid, root->process_guid) << "level 1 #" << i;
    EXPECT_EQ(p->parent_pid, root->pid);
  }
  int wrong_parent = 0;
  for (const audit::ProcessEvent* p : execs) {
    if (p->argv.size() != 4 || p->argv[0] != "/bin/true") continue;
    const auto parent = level1.find(p->argv[2]);
    if (parent == level1.end() || p->parent_guid != parent->second->process_guid ||
        p->parent_pid != parent->second->pid) {
      ++wrong_parent;
    }
  }
  EXPECT_EQ(wrong_parent, 0) << "of " << kLevel1 * kLevel2 << " /bin/true processes";
  std::map<std::string, int> exit_count;
  for (const audit::ProcessEvent* x : exits) {
    ++exit_count[x->process_guid];
    EXPECT_EQ(x->exit.code, 0) << x->image;
    EXPECT_FALSE(x->exit.signal.has_value()) << x->image;
    EXPECT_TRUE(by_guid.contains(x->process_guid));
  }
  EXPECT_EQ(exit_count.size(), execs.size());
  const audit::SessionEvent* end = SessionEnd(events);
  ASSERT_NE(end, nullptr);
  EXPECT_EQ(end->exit.code, 0);
}

TEST_F(ServiceAuditTest, DeathsBySignalHaveExitEventsWithTheSignal) {
  // The tree's own sleep is killed with SIGKILL; then the root shell kills itself with SIGTERM.
  const std::vector<std::string> argv = {
      "/bin/sh", "-c",
      // Killed only once sleep sleeps: a fork child killed before its exec is the shell's image
      // and has no process event of its own, and one killed while execve is still loading sleep
      // (its comm already "sleep") ends that execve as a failure, not as an exec of sleep.
      "/bin/sleep 30 & p=$!; "
      "until read -r _ c st _ </proc/$p/stat && [ \"$c\" = '(sleep)' ] && [ \"$st\" = S ]; "
      "do :; done; "
      "kill -KILL $p; wait $p; kill -TERM $$; exit 0"};
  const Outcome o = Run(Request(argv));
  ASSERT_TRUE(o.exit.has_value()) << (o.error ? o.error->message : "no reply");
  EXPECT_EQ(o.exit->signal, SIGTERM);
  const std::vector<audit::Event> events = SessionEvents(o.session);
  std::map<std::string, const audit::ProcessEvent*> exit_by_image;
  for (const audit::ProcessEvent* x : Processes(events, audit::ProcessPhase::kExit)) {
    exit_by_image[x->image] = x;
  }
  std::string seen;
  for (const audit::Event& e : events) {
    if (const auto* p = std::get_if<audit::ProcessEvent>(&e.body)) {
      seen += std::string(p->phase == audit::ProcessPhase::kExit ? " exit " : " exec ") + p->image;
    } else {
      seen += " " + std::to_string(static_cast<int>(e.body.index()));
    }
  }
  ASSERT_TRUE(exit_by_image.contains("/usr/bin/sleep")) << events.size() << " events:" << seen;
  const audit::ProcessEvent* sleep = exit_by_image["/usr/bin/sleep"];
  EXPECT_EQ(sleep->exit.signal, SIGKILL);
  EXPECT_FALSE(sleep->exit.code.has_value());
  EXPECT_EQ(sleep->uid, static_cast<std::int64_t>(offline_uid_));
  const audit::ProcessEvent* root = nullptr;
  for (const audit::ProcessEvent* x : Processes(events, audit::ProcessPhase::kExit)) {
    if (x->argv == argv) root = x;
  }
  ASSERT_NE(root, nullptr) << "no exit event for the root shell killed by SIGTERM";
  EXPECT_EQ(root->exit.signal, SIGTERM);
  EXPECT_FALSE(root->exit.code.has_value());
  const audit::SessionEvent* end = SessionEnd(events);
  ASSERT_NE(end, nullptr);
  EXPECT_EQ(end->exit.signal, SIGTERM);
  EXPECT_FALSE(end->exit.code.has_value());
}

TEST_F(ServiceAuditTest, OrphansAreReapedAndTheRootStatusIsKept) {
  EXPECT_TRUE(OurZombies().empty());
  const std::uint64_t reaped_before = server_->orphans_reaped();
  // Each run leaves orphans: one that dies during the run and a daemon that outlives the root
  // (killed with the tree). The root's status must still reach its launcher every time.
  constexpr int kRuns = 8;
  for (int i = 0; i < kRuns; ++i) {
    const Outcome o = Run(Request(
        {"/bin/sh", "-c",
         "(/bin/sleep 0.1 &); (/bin/sleep 30 &); /bin/sleep 0.6; exit " + std::to_string(40 + i)}));
    ASSERT_TRUE(o.exit.has_value()) << (o.error ? o.error->message : "no reply");
    EXPECT_EQ(o.exit->code, 40 + i) << "the root's exit status was taken by the reaper";
    EXPECT_EQ(o.exit->signal, 0);
  }
  // The kernel gave the orphans to this process's first thread, the test's main thread here:
  // it reaps them as `stockaded serve`'s main thread does on SIGCHLD.
  std::vector<pid_t> zombies;
  for (int i = 0; i < 50; ++i) {
    server_->ReapAdopted();
    zombies = OurZombies();
    if (zombies.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(zombies.empty()) << zombies.size() << " zombie(s) left, first pid " << zombies[0];
  EXPECT_GE(server_->orphans_reaped() - reaped_before, static_cast<std::uint64_t>(2 * kRuns));
}

TEST_F(ServiceAuditTest, RunsAreRefusedWhenTheCaptureCannotStart) {
  // The first service holds the machine's capture lock: a second one cannot capture.
  auto refused = Server::Start(Options(root_ + "/second.sock", policy_, store_.get(), "b"));
  ASSERT_TRUE(refused.ok()) << refused.error().ToString();
  ASSERT_FALSE((*refused)->capture()->running());
  const Outcome o = Run(Request({"/bin/true"}), (*refused)->socket_path());
  ASSERT_TRUE(o.error.has_value()) << "a run started without audit capture";
  EXPECT_EQ(o.error->code, "E_AUDIT_UNAVAILABLE") << o.error->message;
  EXPECT_EQ(o.error->stage, proto::ErrorStage::kService);
  (*refused)->Stop();

  Policy open = policy_;
  open.audit.fail_open = true;
  auto relaxed = Server::Start(Options(root_ + "/third.sock", open, store_.get(), "c"));
  ASSERT_TRUE(relaxed.ok()) << relaxed.error().ToString();
  const Outcome ran = Run(Request({"/bin/sh", "-c", "exit 5"}), (*relaxed)->socket_path());
  ASSERT_TRUE(ran.exit.has_value()) << (ran.error ? ran.error->message : "no reply");
  EXPECT_EQ(ran.exit->code, 5);
  (*relaxed)->Stop();
  // The first service's capture was not disturbed.
  EXPECT_TRUE(server_->capture()->running());
  const Outcome after = Run(Request({"/bin/sh", "-c", "exit 6"}));
  ASSERT_TRUE(after.exit.has_value());
  EXPECT_EQ(after.exit->code, 6);
  EXPECT_EQ(Processes(SessionEvents(after.session), audit::ProcessPhase::kExec).size(), 1u);
}

}  // namespace
}  // namespace stockade::runner::testing
