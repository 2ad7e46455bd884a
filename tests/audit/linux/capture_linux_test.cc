// The Linux capture for real, as root: sandboxed trees run as a test identity through the
// launcher, the capture reads the kernel's audit records and an NFLOG group, and the tests
// check the events it delivers against what the trees did. Every test also checks (in
// TearDown) that the kernel audit configuration is byte-identical to what it found.
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "audit/linux/audit_netlink.h"
#include "audit/linux/audit_rules.h"
#include "provision/linux/nft.h"
#include "provision/linux/nft_step.h"
#include "provision/step.h"
#include "tests/audit/linux/capture_test_support.h"

namespace stockade::audit::testing {
namespace {

using linux_os::AuditSocket;

// 1 root sh + 99 second-level sh + 99 x 100 /bin/true = 10,000 execs. Each second-level sh runs
// its loop in a subshell (a fork that never exec's), so /bin/true's parent process has no
// exec of its own: the capture must link it through the fork to the sh image it runs.
constexpr int kLevel1 = 99;
constexpr int kLevel2 = 100;
constexpr char kLevel1Script[] =
    "( j=0; while [ $j -lt 100 ]; do j=$((j+1)); /bin/true L2 \"$0\" \"$j\" & done; wait )";

std::string StormScript() {
  return "i=0; while [ $i -lt " + std::to_string(kLevel1) + " ]; do i=$((i+1)); /bin/sh -c '" +
         kLevel1Script + "' \"$i\" & done; wait";
}

TEST_F(CaptureTest, SpawnStormOfTenThousandExecsIsCapturedCompletely) {
  StartCapture();
  const runner::LaunchSpec spec = ShellSpec(StormScript());
  const auto start = std::chrono::steady_clock::now();
  const auto status = RunSession("storm", spec);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(status.code, 0);
  const linux_os::CaptureStats stats = capture_->Stats();
  const std::vector<Event> events = events_.Events("storm");
  const auto execs = ProcessEvents(events, ProcessPhase::kExec);
  const auto exits = ProcessEvents(events, ProcessPhase::kExit);
  std::printf(
      "[ storm    ] %zu exec / %zu exit events for %d spawned in %.2f s; audit daemon=%d "
      "records=%llu kernel lost=%llu socket overruns=%llu backlog_limit=%u pending=%llu "
      "unattributed=%llu\n",
      execs.size(), exits.size(), 1 + kLevel1 + kLevel1 * kLevel2, seconds,
      stats.audit_daemon ? 1 : 0, static_cast<unsigned long long>(stats.records),
      static_cast<unsigned long long>(stats.kernel_lost),
      static_cast<unsigned long long>(stats.socket_overruns), stats.backlog_limit,
      static_cast<unsigned long long>(stats.correlator.pending),
      static_cast<unsigned long long>(stats.correlator.unattributed));
  EXPECT_EQ(stats.kernel_lost, 0u);
  // As the registered audit daemon, a full socket buffer (ENOBUFS, counted as an overrun) makes
  // the kernel hold the record and send it again rather than drop it, so an overrun on a loaded
  // machine is not a loss: the exact counts below are what prove nothing was lost.
  if (stats.audit_daemon) {
    EXPECT_EQ(stats.kernel_lost, 0u);
  } else {
    EXPECT_EQ(stats.socket_overruns, 0u);  // a multicast reader really loses what overruns
  }
  ASSERT_EQ(execs.size(), static_cast<std::size_t>(1 + kLevel1 + kLevel1 * kLevel2));

  // The root: the spec's argv, no parent GUID.
  std::map<std::string, const ProcessEvent*> by_guid;
  const ProcessEvent* root = nullptr;
  std::map<std::string, const ProcessEvent*> level1;  // by i
  std::set<std::pair<std::string, std::string>> level2_seen;
  for (const ProcessEvent* p : execs) {
    EXPECT_TRUE(by_guid.emplace(p->process_guid, p).second) << "duplicate GUID";
    EXPECT_EQ(p->uid, static_cast<std::int64_t>(user_.uid));
    EXPECT_EQ(p->cwd, ws_);
  }
  for (const ProcessEvent* p : execs) {
    if (p->argv == spec.argv) {
      EXPECT_EQ(root, nullptr) << "two roots";
      root = p;
      EXPECT_EQ(p->parent_guid, "");
      EXPECT_EQ(p->image, "/usr/bin/dash");
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
  int wrong_parent = 0;
  for (const auto& [i, p] : level1) {
    EXPECT_EQ(p->parent_guid, root->process_guid) << "level 1 #" << i;
    EXPECT_EQ(p->parent_pid, root->pid);
  }
  for (const ProcessEvent* p : execs) {
    if (p->argv.size() != 4 || p->argv[0] != "/bin/true") continue;
    const auto parent = level1.find(p->argv[2]);
    if (parent == level1.end() || p->parent_guid != parent->second->process_guid ||
        p->parent_pid != parent->second->pid) {
      ++wrong_parent;
    }
  }
  EXPECT_EQ(wrong_parent, 0) << "of " << kLevel1 * kLevel2 << " /bin/true processes";

  // Every exec'd process exited through exit_group with status 0, once.
  std::map<std::string, int> exit_count;
  for (const ProcessEvent* x : exits) {
    ++exit_count[x->process_guid];
    EXPECT_EQ(x->exit.code, 0) << x->image;
    EXPECT_TRUE(by_guid.contains(x->process_guid));
    EXPECT_GE(x->end_time, x->start_time);
  }
  EXPECT_EQ(exit_count.size(), execs.size());
  for (const auto& [guid, n] : exit_count) EXPECT_EQ(n, 1) << guid;
}

TEST_F(CaptureTest, LandlockWriteOutsideTheRootsIsADenialWithThePath) {
  const std::string target = outside_ + "/existing.txt";
  std::ofstream(target) << "before";
  ::chmod(target.c_str(), 0666);  // the file mode allows it: only Landlock refuses
  const std::string created = outside_ + "/new.txt";
  StartCapture();
  const auto status =
      RunSession("landlock", ShellSpec("echo x > " + target + "; echo y > " + created + "; :"));
  EXPECT_EQ(status.code, 0);
  std::ifstream in(target);
  std::string content;
  std::getline(in, content);
  EXPECT_EQ(content, "before");  // the write really was refused
  EXPECT_FALSE(std::filesystem::exists(created));

  const auto events = events_.Events("landlock");
  const auto execs = ProcessEvents(events, ProcessPhase::kExec);
  ASSERT_EQ(execs.size(), 1u);
  const DenialEvent* write = nullptr;
  const DenialEvent* create = nullptr;
  for (const DenialEvent* d : DenialEvents(events)) {
    if (d->source != DenialSource::kLandlock) continue;
    if (d->target == target) write = d;
    if (d->target == outside_ && d->access.find("fs.make_reg") != std::string::npos) create = d;
  }
  ASSERT_NE(write, nullptr) << "no Landlock denial for " << target;
  EXPECT_EQ(write->category, DenialCategory::kFileWrite);
  EXPECT_NE(write->access.find("fs.write_file"), std::string::npos) << write->access;
  EXPECT_EQ(write->process_guid, execs[0]->process_guid);
  EXPECT_EQ(write->pid, execs[0]->pid);
  EXPECT_NE(write->evidence.find("type=1423"), std::string::npos) << write->evidence;
  // Creating a file: Landlock names the folder it was refused in (the new name is not known to
  // the kernel's record).
  ASSERT_NE(create, nullptr) << "no Landlock denial for creating in " << outside_;
  EXPECT_EQ(create->category, DenialCategory::kFileWrite);
}

TEST_F(CaptureTest, DacRefusalOfARootOwnedFileIsAnEaccesDenial) {
  const std::string target = ws_ + "/root-owned.txt";
  std::ofstream(target) << "root";
  ASSERT_EQ(::chown(target.c_str(), 0, 0), 0);
  ::chmod(target.c_str(), 0644);  // inside the writable root: Landlock allows, the mode refuses
  StartCapture();
  const auto status = RunSession("dac", ShellSpec("echo x > " + target + "; :"));
  EXPECT_EQ(status.code, 0);
  const auto events = events_.Events("dac");
  const auto execs = ProcessEvents(events, ProcessPhase::kExec);
  ASSERT_EQ(execs.size(), 1u);
  const DenialEvent* found = nullptr;
  for (const DenialEvent* d : DenialEvents(events)) {
    if (d->target == target) found = d;
  }
  ASSERT_NE(found, nullptr) << "no denial for " << target;
  EXPECT_EQ(found->source, DenialSource::kAuditSyscall);
  EXPECT_EQ(found->category, DenialCategory::kFileWrite);
  EXPECT_EQ(found->access, "openat (EACCES)");
  EXPECT_EQ(found->process_guid, execs[0]->process_guid);
  EXPECT_NE(found->evidence.find("exit=-13"), std::string::npos) << found->evidence;
}

TEST_F(CaptureTest, TcpConnectRejectedByNftablesIsANetworkDenial) {
  // The provisioner's own step, for this test's identity, with a group of its own.
  const std::string prefix = "stcap" + std::to_string(::getpid());
  const int group = 7600 + ::getpid() % 300;
  auto before_ruleset = provision::linux_os::RunNft("list ruleset");
  ASSERT_TRUE(before_ruleset.ok()) << before_ruleset.error().ToString();
  provision::StepSpec step_spec{provision::kind::kNetworkRules,
                                "network rules " + prefix,
                                {{"prefix", prefix},
                                 {"user", user_.name},
                                 {"loopback_ports", std::vector<int>{}},
                                 {"nflog_group", group}}};
  auto step = provision::linux_os::NftStep::Create(step_spec);
  ASSERT_TRUE(step.ok()) << step.error().ToString();
  auto undo = (*step)->CaptureBefore();
  ASSERT_TRUE(undo.ok()) << undo.error().ToString();
  const Status applied = (*step)->Apply();
  ASSERT_TRUE(applied.ok()) << applied.error().ToString();

  // A loopback listener the tree tries to reach; the tree's Landlock/seccomp let TCP through
  // (network allowed), so only the nftables rule refuses it.
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::listen(listener, 8);
  socklen_t len = sizeof(addr);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);

  StartCapture(static_cast<std::uint16_t>(group));
  runner::LaunchSpec spec = ShellSpec("");
  spec.argv = {"/bin/bash", "-c", "echo hi > /dev/tcp/127.0.0.1/" + std::to_string(port)};
  spec.network = runner::NetworkAccess::kAllowed;
  const auto status = RunSession("nft", spec);
  EXPECT_NE(status.code, 0);  // bash: connection refused
  pollfd p{listener, POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0) << "the connection reached the listener";
  ::close(listener);

  const auto events = events_.Events("nft");
  const DenialEvent* found = nullptr;
  for (const DenialEvent* d : DenialEvents(events)) {
    if (d->source == DenialSource::kNflog) found = d;
  }
  const linux_os::CaptureStats stats = capture_->Stats();
  auto table = provision::linux_os::RunNft("list table inet " +
                                           provision::linux_os::NftTableNameForPrefix(prefix));
  const Status stopped = capture_->Stop();
  EXPECT_TRUE(stopped.ok()) << stopped.error().ToString();
  capture_.reset();
  const Status undone = (*step)->Undo(*undo);
  EXPECT_TRUE(undone.ok()) << undone.error().ToString();
  auto after_ruleset = provision::linux_os::RunNft("list ruleset");
  ASSERT_TRUE(after_ruleset.ok());
  EXPECT_EQ(*after_ruleset, *before_ruleset);

  ASSERT_NE(found, nullptr) << "no NFLOG denial; packets read " << stats.nflog_packets
                            << ", unattributed " << stats.correlator.unattributed << ", table:\n"
                            << (table.ok() ? *table : table.error().ToString());
  EXPECT_EQ(found->category, DenialCategory::kNetwork);
  EXPECT_EQ(found->target, "127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(found->access, "connect tcp");
  EXPECT_NE(found->evidence.find("uid=" + std::to_string(user_.uid)), std::string::npos)
      << found->evidence;
}

TEST_F(CaptureTest, KilledCaptureIsCleanedUpByTheNextStart) {
  // A child starts a capture and is killed with SIGKILL: its rules, the enabled flag, the
  // backlog limit and the daemon registration stay behind.
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    linux_os::CaptureOptions o;
    o.uids = {user_.uid};
    o.runtime_dir = RuntimeDir();
    auto c = linux_os::Capture::Start(o, [](Event) {});
    const char ok = c.ok() ? '1' : '0';
    if (::write(ready[1], &ok, 1) != 1) ::_exit(2);
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  ::close(ready[0]);
  ASSERT_EQ(ok, '1');
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);

  auto socket = AuditSocket::Open(AuditSocket::Mode::kCommand);
  ASSERT_TRUE(socket.ok());
  auto left = linux_os::TakeKernelAuditSnapshot(*socket);
  ASSERT_TRUE(left.ok());
  int child_rules = 0;
  for (const std::string& r : left->rules) {
    if (linux_os::KeyOfRule(r) == linux_os::RuleKeyForPid(child)) ++child_rules;
  }
  EXPECT_EQ(child_rules, 5) << "the killed capture's rules";
  EXPECT_EQ(left->status.enabled, 1u);
  std::printf("[ killed   ] left behind: %d rules, status {%s}\n", child_rules,
              left->status.Describe().c_str());
  EXPECT_TRUE(std::filesystem::exists(RuntimeDir() + "/audit-capture.saved"));

  // The next start repairs; its stop then leaves the configuration as first found (TearDown).
  linux_os::CaptureOptions o;
  o.uids = {user_.uid};
  o.runtime_dir = RuntimeDir();
  auto c = linux_os::Capture::Start(o, [](Event) {});
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(linux_os::DescribeSnapshotDifference(before_, (*c)->found()), "")
      << "the configuration found after the repair";
  const Status stopped = (*c)->Stop();
  EXPECT_TRUE(stopped.ok()) << stopped.error().ToString();
  EXPECT_FALSE(std::filesystem::exists(RuntimeDir() + "/audit-capture.saved"));
}

TEST_F(CaptureTest, ASecondCaptureIsRefusedWhileOneRuns) {
  StartCapture();
  linux_os::CaptureOptions o;
  o.uids = {user_.uid};
  o.runtime_dir = RuntimeDir();
  auto second = linux_os::Capture::Start(o, [](Event) {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code(), ErrorCode::kAlreadyExists) << second.error().ToString();
}

}  // namespace
}  // namespace stockade::audit::testing
