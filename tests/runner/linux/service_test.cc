// stockaded's Unix-socket service for real, as root: a server started by the test on its own
// socket and state folder, with its own sandbox identities, callers and workspace grants
// (journaled through the provisioning journal, as `stockade-provision grant` does), all removed
// afterwards even when a test fails. Hostile messages are refused with the right E_* code while
// the next valid run still succeeds; 32 runs at once; a client that goes away takes its whole
// tree with it, checked from outside by uid and cgroup.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "audit/query.h"
#include "audit/store.h"
#include "core/policy/policy.h"
#include "provision/journal/journal.h"
#include "provision/step.h"
#include "runner/protocol/linux/connection.h"
#include "runner/protocol/linux/socket_io.h"
#include "runner/service/linux/server.h"
#include "tests/runner/linux/runner_test_support.h"
#include "tests/support/linux/run_tool.h"

namespace stockade::runner::testing {
namespace {

using namespace std::string_literals;
namespace proto = stockade::runner::protocol;
namespace pio = stockade::runner::protocol::linux_os;
using linux_os::UniqueFd;
using service::linux_os::Server;
using service::linux_os::ServerOptions;
using ::stockade::testing::RunQuiet;
using ::stockade::testing::RunShadowTool;

struct User {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

User CreateUser(const std::string& name) {
  RunShadowTool({"/usr/sbin/useradd", "--system", "-M", "-d", "/nonexistent", "-s",
                 "/usr/sbin/nologin", "-U", name});
  User u{name};
  if (passwd* pw = ::getpwnam(name.c_str())) {
    u.uid = pw->pw_uid;
    u.gid = pw->pw_gid;
  }
  return u;
}

void DeleteUser(const std::string& name) {
  if (passwd* pw = ::getpwnam(name.c_str())) {
    for (int i = 0; i < 50 && !ProcessesOfUid(pw->pw_uid).empty(); ++i) {
      for (pid_t p : ProcessesOfUid(pw->pw_uid)) ::kill(p, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    RunShadowTool({"/usr/sbin/userdel", name});
  }
}

// Users "sv<pid>..." of earlier runs that crashed (their pid is gone) are removed first.
void SweepStaleUsers() {
  std::ifstream in("/etc/passwd");
  std::string line;
  static const std::regex kName("^(sv([0-9]+)(-offline|-online|a|b)):");
  std::vector<std::string> stale;
  while (std::getline(in, line)) {
    std::smatch m;
    if (!std::regex_search(line, m, kName)) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(m[2]));
    if (pid != ::getpid() && ::kill(pid, 0) != 0) stale.push_back(m[1]);
  }
  for (const auto& name : stale) DeleteUser(name);
}

// Child cgroups "run-*" under the test's parent in every hierarchy.
std::vector<std::string> TreeCgroups(const std::string& parent) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const char* root : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified", "/sys/fs/cgroup/pids",
                           "/sys/fs/cgroup/memory"}) {
    std::filesystem::recursive_directory_iterator it(root, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      if (it.depth() > 6) it.disable_recursion_pending();
      if (!it->is_directory(ec)) continue;
      const std::string p = it->path().string();
      if (p.find("/" + parent + "/run-") != std::string::npos) out.push_back(p);
    }
    ec.clear();
  }
  return out;
}

class ServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    SweepStaleUsers();
    prefix_ = "sv" + std::to_string(::getpid());
    offline_ = CreateUser(prefix_ + "-offline");
    online_ = CreateUser(prefix_ + "-online");
    owner_ = CreateUser(prefix_ + "a");
    other_ = CreateUser(prefix_ + "b");
    char tmpl[] = "/tmp/stsvc-XXXXXX";
    root_ = ::mkdtemp(tmpl);
    ::chmod(root_.c_str(), 0755);
    state_ = root_ + "/state";
    ::mkdir(state_.c_str(), 0711);
    ws_ = root_ + "/ws";
    ws_other_ = root_ + "/ws-other";
    ws_ungranted_ = root_ + "/ws-ungranted";
    for (const auto& [dir, user] :
         {std::pair{ws_, owner_}, std::pair{ws_other_, other_}, std::pair{ws_ungranted_, owner_}}) {
      ::mkdir(dir.c_str(), 0777);
      ::chmod(dir.c_str(), 0777);  // the sandbox identities write here (ACLs are not the subject)
      ::chown(dir.c_str(), user.uid, user.gid);
    }
    ::mkdir((ws_ + "/sub").c_str(), 0755);
    Grant(ws_, owner_.uid);
    Grant(ws_other_, other_.uid);

    policy_.identity_prefix = prefix_;
    policy_.source = "<service test>";
    policy_.filesystem.writable_roots = {"{workspace}", "{temp}"};
    policy_.filesystem.protected_paths = {".git"};
    policy_.filesystem.deny_read = {"~/.ssh"};
    policy_.limits.max_processes = 64;
    policy_.limits.memory_mb = 512;

    ServerOptions options;
    options.state_dir = state_;
    options.socket_path = state_ + "/stockaded.sock";
    options.policy = policy_;
    options.temp_root = root_ + "/sessions";
    options.request_timeout = std::chrono::milliseconds(1500);
    options.cgroup.parent_name = cgroup_parent_ = "stockade-svctest-" + std::to_string(::getpid());
    auto server = Server::Start(options);
    if (!server.ok()) {
      start_error_ = server.error().ToString();
      return;
    }
    server_ = std::move(*server);
  }

  static void TearDownTestSuite() {
    if (server_) server_->Stop();
    server_.reset();
    for (const User* u : {&offline_, &online_, &owner_, &other_}) {
      if (!u->name.empty()) DeleteUser(u->name);
    }
    std::error_code ec;
    if (!root_.empty()) std::filesystem::remove_all(root_, ec);
  }

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    ASSERT_NE(server_, nullptr) << start_error_;
    ASSERT_NE(offline_.uid, 0u);
    ASSERT_NE(owner_.uid, 0u);
  }

  // Journals a live grant of `path` owned by `owner`, as `stockade-provision grant` does.
  static void Grant(const std::string& path, uid_t owner) {
    auto journal = provision::Journal::Open(state_);
    ASSERT_TRUE(journal.ok()) << journal.error().ToString();
    auto txn = journal->BeginTransaction(provision::txn_kind::kGrant, {{"path", path}}, 1);
    ASSERT_TRUE(txn.ok());
    provision::StepSpec spec{provision::kind::kWorkspaceGrant,
                             "workspace " + path,
                             {{"path", path},
                              {"protected", {".git"}},
                              {"users", {offline_.name, online_.name}},
                              {"owner_uid", owner}}};
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
    r.stdio = {proto::StdioKind::kNull, proto::StdioKind::kFd, proto::StdioKind::kFd};
    return r;
  }

  struct Outcome {
    std::vector<proto::Message> replies;  // Started, then Exit or Error
    std::string out;                      // the tree's stdout+stderr
  };

  // Runs `request` as root through the socket with a pipe as stdout/stderr.
  static Outcome Run(const proto::RunRequest& request, const std::string& socket = "") {
    Outcome o;
    auto conn = pio::Connection::Connect(socket.empty() ? server_->socket_path() : socket);
    EXPECT_TRUE(conn.ok()) << conn.error().ToString();
    if (!conn.ok()) return o;
    int p[2];
    EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
    UniqueFd r(p[0]), w(p[1]);
    std::vector<int> fds;
    for (auto k : request.stdio) {
      if (k == proto::StdioKind::kFd) fds.push_back(w.get());
    }
    EXPECT_TRUE(conn->Send(request, fds).ok());
    w.Reset();
    std::thread reader([&] {
      char buf[4096];
      ssize_t n;
      while ((n = ::read(r.get(), buf, sizeof buf)) > 0) o.out.append(buf, n);
    });
    for (;;) {
      auto reply = conn->Receive(std::chrono::seconds(60));
      if (!reply.ok()) {
        ADD_FAILURE() << reply.error().ToString();
        break;
      }
      o.replies.push_back(*reply);
      if (!std::holds_alternative<proto::StartedMessage>(*reply)) break;
    }
    conn = Error(ErrorCode::kOk, "");  // close the connection before joining
    reader.join();
    return o;
  }

  static const proto::ExitMessage* ExitOf(const Outcome& o) {
    if (o.replies.size() != 2 || !std::holds_alternative<proto::StartedMessage>(o.replies[0])) {
      return nullptr;
    }
    return std::get_if<proto::ExitMessage>(&o.replies[1]);
  }

  static const proto::ErrorMessage* ErrorOf(const Outcome& o) {
    if (o.replies.empty()) return nullptr;
    return std::get_if<proto::ErrorMessage>(&o.replies.back());
  }

  // The valid run every hostile test ends with: the service still serves.
  static void ExpectServiceStillServes() {
    const Outcome o = Run(Request({"/bin/sh", "-c", "echo alive; exit 7"}));
    const proto::ExitMessage* exit = ExitOf(o);
    ASSERT_NE(exit, nullptr) << "the service no longer runs requests";
    EXPECT_EQ(exit->code, 7);
    EXPECT_EQ(o.out, "alive\n");
  }

  // Sends raw bytes on a fresh connection and returns the service's reply (Error expected) and
  // whether the service closed the connection afterwards.
  static std::pair<std::optional<proto::ErrorMessage>, bool> SendRaw(const std::string& bytes,
                                                                     bool half_close) {
    auto conn = pio::Connection::Connect(server_->socket_path());
    EXPECT_TRUE(conn.ok());
    if (!conn.ok()) return {};
    EXPECT_TRUE(pio::WriteRaw(conn->fd(), bytes.data(), bytes.size()).ok());
    if (half_close) ::shutdown(conn->fd(), SHUT_WR);
    std::optional<proto::ErrorMessage> error;
    auto reply = pio::ReadMessage(conn->fd(), std::chrono::seconds(10), 0);
    if (reply.ok() && reply->has_value()) {
      if (auto* e = std::get_if<proto::ErrorMessage>(&(*reply)->message)) error = *e;
    }
    auto after = pio::ReadMessage(conn->fd(), std::chrono::seconds(10), 0);
    // End of stream, or a reset: the service closed with the rest of a broken frame unread.
    const bool closed = (after.ok() && !after->has_value()) ||
                        (!after.ok() && after.error().os_error() == ECONNRESET);
    return {error, closed};
  }

  static std::string Frame(std::uint16_t version, std::uint16_t type, const std::string& payload,
                           std::optional<std::uint32_t> length = std::nullopt) {
    std::string f = "STKD";
    f += static_cast<char>(version >> 8);
    f += static_cast<char>(version & 0xFF);
    f += static_cast<char>(type >> 8);
    f += static_cast<char>(type & 0xFF);
    const std::uint32_t len = length.value_or(static_cast<std::uint32_t>(payload.size()));
    for (int i = 0; i < 4; ++i) f += static_cast<char>((len >> (24 - 8 * i)) & 0xFF);
    return f + payload;
  }

  static std::string RequestPayload(const proto::RunRequest& r) {
    auto frame = proto::EncodeMessage(r);
    return std::string(frame->begin() + proto::kHeaderBytes, frame->end());
  }

  // Runs stockade_svc_client as `user` (setpriv); returns its result line.
  static std::string RunAs(const User& user, const std::string& identity,
                           const std::string& workspace, const std::string& cwd,
                           const std::vector<std::string>& argv) {
    const std::string result = root_ + "/result-" + std::to_string(++counter_);
    std::vector<std::string> cmd = {"/usr/bin/setpriv",
                                    "--reuid=" + std::to_string(user.uid),
                                    "--regid=" + std::to_string(user.gid),
                                    "--clear-groups",
                                    "--",
                                    STOCKADE_SVC_CLIENT_PATH,
                                    server_->socket_path(),
                                    result,
                                    identity,
                                    workspace,
                                    cwd,
                                    "--"};
    cmd.insert(cmd.end(), argv.begin(), argv.end());
    // The result file lives in root_ (0755): created by root for the user to write.
    { std::ofstream(result).flush(); }
    ::chown(result.c_str(), user.uid, user.gid);
    const int rc = RunQuiet(cmd);
    EXPECT_EQ(rc, 0) << "stockade_svc_client failed to run";
    std::string line = ReadFileOrEmpty(result);
    while (!line.empty() && line.back() == '\n') line.pop_back();
    return line;
  }

  static inline std::unique_ptr<Server> server_;
  static inline std::string start_error_;
  static inline std::string prefix_, root_, state_, ws_, ws_other_, ws_ungranted_, cgroup_parent_;
  static inline User offline_, online_, owner_, other_;
  static inline Policy policy_;
  static inline std::atomic<int> counter_{0};
};

TEST_F(ServiceTest, PingAnswersWithTheServicePid) {
  auto conn = pio::Connection::Connect(server_->socket_path());
  ASSERT_TRUE(conn.ok()) << conn.error().ToString();
  auto pong = conn->Ping();
  ASSERT_TRUE(pong.ok()) << pong.error().ToString();
  EXPECT_EQ(pong->version, proto::kProtocolVersion);
  EXPECT_EQ(pong->pid, ::getpid());  // the service runs inside this test process
  struct stat st {};
  ASSERT_EQ(::stat(server_->socket_path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0666u);
}

TEST_F(ServiceTest, RunsAsTheIdentityWithExitCodeAndOutput) {
  const Outcome o = Run(Request({"/bin/sh", "-c", "id -u; pwd; echo $TMPDIR; exit 3"}));
  const proto::ExitMessage* exit = ExitOf(o);
  ASSERT_NE(exit, nullptr) << (ErrorOf(o) ? ErrorOf(o)->message : "no reply");
  EXPECT_EQ(exit->code, 3);
  EXPECT_FALSE(exit->timed_out);
  std::istringstream lines(o.out);
  std::string uid, cwd, tmp;
  std::getline(lines, uid);
  std::getline(lines, cwd);
  std::getline(lines, tmp);
  EXPECT_EQ(uid, std::to_string(offline_.uid));
  EXPECT_EQ(cwd, ws_);
  EXPECT_EQ(tmp.rfind(root_ + "/sessions/", 0), 0u) << tmp;
  // The session temp folder is gone after the run.
  EXPECT_FALSE(std::filesystem::exists(tmp)) << tmp;
  const auto& started = std::get<proto::StartedMessage>(o.replies[0]);
  EXPECT_TRUE(std::regex_match(started.session_id,
                               std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                          "[0-9a-f]{12}")))
      << started.session_id;
}

TEST_F(ServiceTest, TheStateFolderIsHiddenFromTheTree) {
  // The state folder is 0711: without the deny-read cover, the identity could still open
  // journal.db by name (and stat it). Inside the tree the name must not resolve at all.
  ASSERT_TRUE(std::filesystem::exists(state_ + "/journal.db"));
  const Outcome o = Run(
      Request({"/bin/sh", "-c",
               "if test -e " + state_ + "/journal.db; then echo visible; else echo hidden; fi"}));
  ASSERT_NE(ExitOf(o), nullptr);
  EXPECT_EQ(o.out, "hidden\n");
  // Control: the same check outside the sandbox, as the identity, sees it.
  EXPECT_EQ(RunQuiet({"/usr/bin/setpriv", "--reuid=" + std::to_string(offline_.uid),
                      "--regid=" + std::to_string(offline_.gid), "--clear-groups", "--",
                      "/usr/bin/test", "-e", state_ + "/journal.db"}),
            0);
}

TEST_F(ServiceTest, SignalDeathAndTimeoutAreReported) {
  Outcome o = Run(Request({"/bin/sh", "-c", "kill -9 $$"}));
  ASSERT_NE(ExitOf(o), nullptr);
  EXPECT_EQ(ExitOf(o)->code, 137);
  EXPECT_EQ(ExitOf(o)->signal, SIGKILL);
  proto::RunRequest r = Request({"/bin/sleep", "30"});
  r.timeout_ms = 300;
  const auto start = std::chrono::steady_clock::now();
  o = Run(r);
  ASSERT_NE(ExitOf(o), nullptr);
  EXPECT_TRUE(ExitOf(o)->timed_out);
  EXPECT_EQ(ExitOf(o)->signal, SIGKILL);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(ServiceTest, CommandNotFoundAndNotExecutableAreExecStageErrors) {
  Outcome o = Run(Request({"no-such-command-xyz"}));
  ASSERT_NE(ErrorOf(o), nullptr);
  EXPECT_EQ(ErrorOf(o)->code, "E_NOT_FOUND");
  EXPECT_EQ(ErrorOf(o)->stage, proto::ErrorStage::kExec);
  const std::string script = ws_ + "/not-exec.sh";
  { std::ofstream(script) << "#!/bin/sh\necho hi\n"; }
  ::chmod(script.c_str(), 0644);
  o = Run(Request({script}));
  ASSERT_NE(ErrorOf(o), nullptr);
  EXPECT_EQ(ErrorOf(o)->stage, proto::ErrorStage::kExec) << ErrorOf(o)->message;
  ExpectServiceStillServes();
}

TEST_F(ServiceTest, HostileFramesAreRefusedAndTheServiceKeepsServing) {
  const std::string valid = RequestPayload(Request({"/bin/true"}));
  struct Case {
    const char* what;
    std::string bytes;
    bool half_close;
    const char* code;
    const char* needle;
  };
  std::string over_limit = valid;
  {
    nlohmann::json j = nlohmann::json::parse(valid);
    j["argv"] = {std::string(proto::kMaxArgBytes + 1, 'a')};
    over_limit = j.dump();
  }
  std::string bad_type = valid;
  {
    nlohmann::json j = nlohmann::json::parse(valid);
    j["timeout_ms"] = "soon";
    bad_type = j.dump();
  }
  const Case cases[] = {
      {"truncated header", "STKD\0\1"s, true, "E_PROTOCOL", "truncated frame"},
      {"truncated payload", Frame(1, 3, valid.substr(0, 20), valid.size()), true, "E_PROTOCOL",
       "truncated frame"},
      {"oversized", Frame(1, 3, "", proto::kMaxPayloadBytes + 1), false, "E_PROTOCOL",
       "exceeds the limit"},
      {"wrong version", Frame(2, 3, valid), false, "E_PROTOCOL_VERSION", "protocol version 2"},
      {"bad magic", "HTTP/1.1 GET /\r\n\r\n", false, "E_PROTOCOL", "frame magic"},
      {"bad JSON", Frame(1, 3, "{\"identity\": offline}"), false, "E_PROTOCOL", "invalid JSON"},
      {"unknown type", Frame(1, 42, "{}"), false, "E_PROTOCOL", "unknown message type 42"},
      {"reply type from a client", Frame(1, 6, "{}"), false, "E_PROTOCOL", "Exit.code: missing"},
      {"over-limit field", Frame(1, 3, over_limit), false, "E_PROTOCOL",
       "RunRequest.argv[0]: 131073 bytes"},
      {"wrong-typed field", Frame(1, 3, bad_type), false, "E_PROTOCOL",
       "RunRequest.timeout_ms: expected an unsigned integer"},
      {"descriptors missing", Frame(1, 3, valid), false, "E_PROTOCOL",
       "names 2 descriptor(s) but 0 were passed"},
      {"silent client", "STKD", false, "E_TIMEOUT", "timed out"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    auto [error, closed] = SendRaw(c.bytes, c.half_close);
    ASSERT_TRUE(error.has_value()) << "no Error reply";
    EXPECT_EQ(error->code, c.code) << error->message;
    EXPECT_NE(error->message.find(c.needle), std::string::npos) << error->message;
    EXPECT_TRUE(closed) << "the service kept the connection open";
    ExpectServiceStillServes();
  }
}

TEST_F(ServiceTest, RefusalsCarryTheirCodes) {
  struct Case {
    const char* what;
    proto::RunRequest request;
    const char* code;
    const char* needle;
  };
  proto::RunRequest unknown_identity = Request({"/bin/true"});
  unknown_identity.identity = "admin";
  proto::RunRequest ungranted = Request({"/bin/true"});
  ungranted.workspace = ungranted.cwd = ws_ungranted_;
  proto::RunRequest outside_cwd = Request({"/bin/true"});
  outside_cwd.cwd = root_;
  proto::RunRequest relative = Request({"/bin/true"});
  relative.workspace = "ws";
  proto::RunRequest missing = Request({"/bin/true"});
  missing.workspace = missing.cwd = root_ + "/nope";
  const Case cases[] = {
      {"unknown identity", unknown_identity, "E_INVALID_ARGUMENT", "'admin' is not a sandbox"},
      {"ungranted workspace", ungranted, "E_NOT_GRANTED", "is not granted"},
      {"cwd outside the workspace", outside_cwd, "E_PERMISSION_DENIED", "outside the workspace"},
      {"relative workspace", relative, "E_INVALID_ARGUMENT", "not an absolute path"},
      {"missing workspace", missing, "E_NOT_FOUND", "realpath"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const Outcome o = Run(c.request);
    ASSERT_NE(ErrorOf(o), nullptr);
    EXPECT_EQ(ErrorOf(o)->code, c.code) << ErrorOf(o)->message;
    EXPECT_EQ(ErrorOf(o)->stage, proto::ErrorStage::kAuthorize);
    EXPECT_NE(ErrorOf(o)->message.find(c.needle), std::string::npos) << ErrorOf(o)->message;
    ExpectServiceStillServes();
  }
}

TEST_F(ServiceTest, AnIdentityThatIsNotProvisionedIsRefused) {
  // The online account goes away for a moment: E_NOT_PROVISIONED; back, and it runs.
  ASSERT_EQ(RunShadowTool({"/usr/sbin/userdel", online_.name}), 0);
  proto::RunRequest r = Request({"/bin/true"});
  r.identity = "online";
  Outcome o = Run(r);
  ASSERT_NE(ErrorOf(o), nullptr);
  EXPECT_EQ(ErrorOf(o)->code, "E_NOT_PROVISIONED") << ErrorOf(o)->message;
  online_ = CreateUser(online_.name);
  ASSERT_NE(online_.uid, 0u);
  o = Run(r);
  ASSERT_NE(ExitOf(o), nullptr) << (ErrorOf(o) ? ErrorOf(o)->message : "");
  EXPECT_EQ(ExitOf(o)->code, 0);
}

TEST_F(ServiceTest, CallersAreAuthorisedByTheirUid) {
  // The owner runs in its own workspace, as the identity.
  EXPECT_EQ(RunAs(owner_, "offline", ws_, ws_ + "/sub", {"/bin/sh", "-c", "exit 5"}),
            "exit code=5 signal=0 timed_out=0 killed=0");
  // Another user may not use it, nor may the owner use the other user's workspace.
  std::string line = RunAs(other_, "offline", ws_, ws_, {"/bin/true"});
  EXPECT_EQ(line.rfind("error E_PERMISSION_DENIED authorize", 0), 0u) << line;
  EXPECT_NE(line.find("granted to uid " + std::to_string(owner_.uid)), std::string::npos) << line;
  line = RunAs(owner_, "offline", ws_other_, ws_other_, {"/bin/true"});
  EXPECT_EQ(line.rfind("error E_PERMISSION_DENIED authorize", 0), 0u) << line;
  // A sandbox identity as the caller is refused whatever it asks for.
  line = RunAs(offline_, "online", ws_, ws_, {"/bin/true"});
  EXPECT_EQ(line.rfind("error E_PERMISSION_DENIED authorize", 0), 0u) << line;
  EXPECT_NE(line.find("is the sandbox identity"), std::string::npos) << line;
  ExpectServiceStillServes();
}

TEST_F(ServiceTest, ATreeCannotAskTheServiceForAnotherTree) {
  // A second service whose socket sits outside the state folder, so that a tree can reach it.
  ServerOptions options;
  options.state_dir = state_;
  options.socket_path = root_ + "/reachable.sock";
  options.policy = policy_;
  options.temp_root = root_ + "/sessions";
  options.cgroup.parent_name = cgroup_parent_;
  auto reachable = Server::Start(options);
  ASSERT_TRUE(reachable.ok()) << reachable.error().ToString();
  const std::string hidden_result = ws_ + "/hidden-result";
  const std::string reachable_result = ws_ + "/reachable-result";
  const std::string client = STOCKADE_SVC_CLIENT_PATH;
  const std::string tail = " offline " + ws_ + " " + ws_ + " -- /bin/true";
  const Outcome o =
      Run(Request({"/bin/sh", "-c",
                   client + " " + server_->socket_path() + " " + hidden_result + tail + "; " +
                       client + " " + options.socket_path + " " + reachable_result + tail}));
  ASSERT_NE(ExitOf(o), nullptr) << (ErrorOf(o) ? ErrorOf(o)->message : "");
  // The suite's socket is in the state folder, which the tree cannot see at all.
  std::string line = ReadFileOrEmpty(hidden_result);
  EXPECT_EQ(line.rfind("error E_SERVICE_UNAVAILABLE", 0), 0u) << line << o.out;
  // The reachable one refuses the tree: it runs inside a Stockade cgroup.
  line = ReadFileOrEmpty(reachable_result);
  EXPECT_EQ(line.rfind("error E_PERMISSION_DENIED authorize", 0), 0u) << line << o.out;
  EXPECT_NE(line.find("runs inside a sandboxed tree (cgroup "), std::string::npos) << line;
  (*reachable)->Stop();
}

TEST_F(ServiceTest, ThirtyTwoConcurrentRunsAllGetTheirOwnExitCode) {
  constexpr int kRuns = 32;
  std::vector<Outcome> outcomes(kRuns);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRuns; ++i) {
    threads.emplace_back([&, i] {
      outcomes[i] = Run(Request(
          {"/bin/sh", "-c",
           "sleep 0.2; echo run" + std::to_string(i) + "; exit " + std::to_string(i + 10)}));
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> sessions;
  for (int i = 0; i < kRuns; ++i) {
    SCOPED_TRACE(i);
    const proto::ExitMessage* exit = ExitOf(outcomes[i]);
    ASSERT_NE(exit, nullptr) << (ErrorOf(outcomes[i]) ? ErrorOf(outcomes[i])->message : "");
    EXPECT_EQ(exit->code, i + 10);
    EXPECT_EQ(outcomes[i].out, "run" + std::to_string(i) + "\n");
    sessions.insert(std::get<proto::StartedMessage>(outcomes[i].replies[0]).session_id);
  }
  EXPECT_EQ(sessions.size(), static_cast<std::size_t>(kRuns));
  EXPECT_TRUE(TreeCgroups(cgroup_parent_).empty());
}

// Starts a tree that leaves daemons behind (double fork + setsid, nohup) and returns the open
// connection once they all run.
pio::Connection StartDaemonTree(const std::string& socket, const proto::RunRequest& request,
                                uid_t uid, std::size_t processes) {
  auto conn = pio::Connection::Connect(socket);
  EXPECT_TRUE(conn.ok());
  EXPECT_TRUE(conn->Send(request).ok());
  auto started = conn->Receive(std::chrono::seconds(10));
  EXPECT_TRUE(started.ok() && std::holds_alternative<proto::StartedMessage>(*started));
  for (int i = 0; i < 500 && ProcessesOfUid(uid).size() < processes; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return std::move(*conn);
}

TEST_F(ServiceTest, ClientDisconnectKillsTheWholeTree) {
  proto::RunRequest r = Request(
      {"/bin/sh", "-c", "(setsid sh -c 'sleep 300 & sleep 300') & nohup sleep 300 & sleep 300"});
  r.stdio = {proto::StdioKind::kNull, proto::StdioKind::kNull, proto::StdioKind::kNull};
  {
    pio::Connection conn = StartDaemonTree(server_->socket_path(), r, offline_.uid, 4);
    ASSERT_GE(ProcessesOfUid(offline_.uid).size(), 4u);
    ASSERT_FALSE(TreeCgroups(cgroup_parent_).empty());
  }  // the connection closes: the client is gone
  bool gone = false;
  for (int i = 0; i < 500 && !gone; ++i) {
    gone = ProcessesOfUid(offline_.uid).empty() && TreeCgroups(cgroup_parent_).empty();
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(gone) << ProcessesOfUid(offline_.uid).size() << " processes of uid " << offline_.uid
                    << " survive";
  ExpectServiceStillServes();
}

TEST_F(ServiceTest, SignalKillsTheWholeTreeAndReportsKilled) {
  proto::RunRequest r =
      Request({"/bin/sh", "-c", "(setsid sh -c 'sleep 300 & sleep 300') & sleep 300"});
  r.stdio = {proto::StdioKind::kNull, proto::StdioKind::kNull, proto::StdioKind::kNull};
  pio::Connection conn = StartDaemonTree(server_->socket_path(), r, offline_.uid, 3);
  ASSERT_GE(ProcessesOfUid(offline_.uid).size(), 3u);
  ASSERT_TRUE(conn.Send(proto::SignalMessage{SIGINT}).ok());
  auto reply = conn.Receive(std::chrono::seconds(10));
  ASSERT_TRUE(reply.ok()) << reply.error().ToString();
  const auto* exit = std::get_if<proto::ExitMessage>(&*reply);
  ASSERT_NE(exit, nullptr);
  EXPECT_TRUE(exit->killed);
  EXPECT_EQ(exit->signal, SIGKILL);
  // Exit comes after the tree is empty and its cgroup removed.
  EXPECT_TRUE(ProcessesOfUid(offline_.uid).empty());
  EXPECT_TRUE(TreeCgroups(cgroup_parent_).empty());
}

TEST_F(ServiceTest, StopKillsRunningTreesAndRemovesTheSocket) {
  // A second server on its own socket, so that the suite's server keeps serving.
  ServerOptions options;
  options.state_dir = state_;
  options.socket_path = root_ + "/second.sock";
  options.policy = policy_;
  options.temp_root = root_ + "/sessions";
  options.cgroup.parent_name = cgroup_parent_;
  auto second = Server::Start(options);
  ASSERT_TRUE(second.ok()) << second.error().ToString();
  // A live service on the socket: a third one is refused.
  auto third = Server::Start(options);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code(), ErrorCode::kAlreadyExists);
  proto::RunRequest r = Request({"/bin/sleep", "300"});
  r.stdio = {proto::StdioKind::kNull, proto::StdioKind::kNull, proto::StdioKind::kNull};
  pio::Connection conn = StartDaemonTree(options.socket_path, r, offline_.uid, 1);
  EXPECT_EQ((*second)->ActiveConnections(), 1u);
  (*second)->Stop();
  EXPECT_TRUE(ProcessesOfUid(offline_.uid).empty());
  EXPECT_FALSE(std::filesystem::exists(options.socket_path));
  auto after = conn.Receive(std::chrono::seconds(5));
  EXPECT_FALSE(after.ok());
}

class FailingRecorder : public audit::Recorder {
 public:
  Expected<std::int64_t> Record(audit::Event) override {
    ++calls;
    return Error(ErrorCode::kDatabase, "audit store unavailable (test)");
  }
  Status RecordAsync(audit::Event) override {
    return Error(ErrorCode::kDatabase, "audit store unavailable (test)");
  }
  Status Flush() override { return OkStatus(); }
  std::atomic<int> calls{0};
};

TEST_F(ServiceTest, SessionsAreRecordedInTheAuditStore) {
  audit::StoreOptions store_options;
  store_options.path = root_ + "/audit/audit.db";
  auto store = audit::Store::Open(store_options);
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  ServerOptions options;
  options.state_dir = state_;
  options.socket_path = root_ + "/audited.sock";
  options.policy = policy_;
  options.temp_root = root_ + "/sessions";
  options.cgroup.parent_name = cgroup_parent_;
  options.recorder = store->get();
  auto server = Server::Start(options);
  ASSERT_TRUE(server.ok()) << server.error().ToString();
  const Outcome o = Run(Request({"/bin/sh", "-c", "exit 4"}), options.socket_path);
  ASSERT_NE(ExitOf(o), nullptr) << (ErrorOf(o) ? ErrorOf(o)->message : "");
  (*server)->Stop();
  ASSERT_TRUE((*store)->Close().ok());
  const std::string session = std::get<proto::StartedMessage>(o.replies[0]).session_id;

  auto reader = audit::AuditReader::Open(store_options.path);
  ASSERT_TRUE(reader.ok()) << reader.error().ToString();
  audit::QueryFilter filter;
  filter.session_id = session;
  auto events = reader->Query(filter);
  ASSERT_TRUE(events.ok()) << events.error().ToString();
  ASSERT_EQ(events->size(), 2u);
  const auto& start = std::get<audit::SessionEvent>((*events)[0].body);
  const auto& end = std::get<audit::SessionEvent>((*events)[1].body);
  EXPECT_EQ(start.phase, audit::SessionPhase::kStart);
  EXPECT_EQ(start.identity, "offline");
  EXPECT_EQ(start.workspace, ws_);
  EXPECT_EQ(start.invoking_uid, 0);
  EXPECT_EQ(start.invoking_user, "root");
  EXPECT_EQ(start.argv, (std::vector<std::string>{"/bin/sh", "-c", "exit 4"}));
  EXPECT_EQ(start.policy_hash.size(), 64u);
  EXPECT_EQ(end.phase, audit::SessionPhase::kEnd);
  EXPECT_EQ(end.exit.code, 4);
  EXPECT_FALSE(end.exit.signal.has_value());
  EXPECT_GE(end.end_time, start.start_time);
}

TEST_F(ServiceTest, NoRunStartsWhenTheAuditStoreFails) {
  FailingRecorder recorder;
  ServerOptions options;
  options.state_dir = state_;
  options.socket_path = root_ + "/failing.sock";
  options.policy = policy_;
  options.temp_root = root_ + "/sessions";
  options.cgroup.parent_name = cgroup_parent_;
  options.recorder = &recorder;
  auto server = Server::Start(options);
  ASSERT_TRUE(server.ok()) << server.error().ToString();
  const std::string marker = ws_ + "/audit-fail-marker";
  const Outcome o = Run(Request({"/bin/sh", "-c", "touch " + marker}), options.socket_path);
  ASSERT_NE(ErrorOf(o), nullptr);
  EXPECT_EQ(ErrorOf(o)->code, "E_DATABASE");
  EXPECT_EQ(ErrorOf(o)->stage, proto::ErrorStage::kService);
  EXPECT_NE(ErrorOf(o)->message.find("audit is fail-closed"), std::string::npos);
  EXPECT_EQ(recorder.calls, 1);
  EXPECT_FALSE(std::filesystem::exists(marker));  // the command never ran
  (*server)->Stop();
}

}  // namespace
}  // namespace stockade::runner::testing
