// The Windows endpoint for real under Wine: a PipeServer on a private pipe name, the client's
// ConnectToService, frames both ways, the caller identified from its token, hostile frames
// answered with an Error while the server keeps serving, and a RunRequest taken through the
// portable broker (refused here: the test machine has no sandbox identity, which is exactly what
// the client must report with exit status 122).
#include <gtest/gtest.h>
#include <windows.h>

#include <atomic>
#include <thread>

#include "core/crypto/random.h"
#include "core/policy/default_policy.h"
#include "provision/win/win_util.h"
#include "runner/client/client.h"
#include "runner/client/win/service_run.h"
#include "runner/protocol/win/pipe_stream.h"
#include "runner/service/win/connection_handler.h"
#include "runner/service/win/pipe_server.h"
#include "runner/win/token.h"
#include "tests/runner/win/win_runner_test_support.h"

namespace stockade::runner::service::win_os {
namespace {

namespace pw = stockade::provision::win;
using namespace std::chrono_literals;
using protocol::win_os::ConnectToService;
using protocol::win_os::PipeStream;

std::string UniquePipeName() { return "\\\\.\\pipe\\stockade-test-" + *crypto::RandomHex(6); }

// A server running on its own thread for the test's lifetime.
class RunningServer {
 public:
  explicit RunningServer(ConnectionHandler handler) : name_(UniquePipeName()) {
    auto server = PipeServer::Create(name_);
    EXPECT_TRUE(server.ok()) << server.error().ToString();
    server_ = std::move(*server);
    thread_ =
        std::thread([this, handler = std::move(handler)] { served_ = server_->Serve(handler); });
  }
  ~RunningServer() {
    server_->Stop();
    thread_.join();
  }
  const std::string& name() const { return name_; }
  const Status& served() const { return served_; }

 private:
  std::string name_;
  std::unique_ptr<PipeServer> server_;
  std::thread thread_;
  Status served_;
};

TEST(WinPipeService, PingPongAndTheCallerIsIdentifiedFromItsToken) {
  std::atomic<int> connections{0};
  std::string seen_user;
  DWORD seen_pid = 0;
  RunningServer server([&](PipeStream& stream, const PipeClient& client) {
    ++connections;
    seen_user = client.user.ToString();
    seen_pid = client.pid;
    auto message = stream.Receive(5s);
    if (message.ok() && message->has_value() &&
        std::holds_alternative<protocol::PingMessage>(**message)) {
      protocol::PongMessage pong;
      pong.service_version = "test";
      pong.pid = GetCurrentProcessId();
      (void)stream.Send(pong);
    }
  });
  auto stream = ConnectToService(server.name());
  ASSERT_TRUE(stream.ok()) << stream.error().ToString();
  ASSERT_TRUE(stream->Send(protocol::PingMessage{}).ok());
  auto reply = stream->Receive(5s);
  ASSERT_TRUE(reply.ok()) << reply.error().ToString();
  ASSERT_TRUE(reply->has_value());
  const auto* pong = std::get_if<protocol::PongMessage>(&**reply);
  ASSERT_NE(pong, nullptr);
  EXPECT_EQ(pong->service_version, "test");

  auto own = runner::win_os::OpenOwnToken();
  ASSERT_TRUE(own.ok());
  auto user = runner::win_os::TokenUserSid(own->get());
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(seen_user, user->ToString());
  EXPECT_EQ(seen_pid, GetCurrentProcessId());
  EXPECT_EQ(connections.load(), 1);
}

TEST(WinPipeService, AMissingServiceIsReportedAsUnavailable) {
  auto stream = ConnectToService(UniquePipeName(), 200ms);
  ASSERT_FALSE(stream.ok());
  EXPECT_EQ(stream.error().code(), ErrorCode::kServiceUnavailable);
  EXPECT_EQ(ConnectToService("C:\\not-a-pipe").error().code(), ErrorCode::kPathInvalid);
}

TEST(WinPipeService, RealWindowsTheFirstInstanceCannotBeTakenTwice) {
  if (runner::win_os::testing::UnderWine()) {
    GTEST_SKIP() << "Wine ignores FILE_FLAG_FIRST_PIPE_INSTANCE (a second server gets the name)";
  }
  RunningServer server([](PipeStream&, const PipeClient&) {});
  auto second = PipeServer::Create(server.name());
  ASSERT_FALSE(second.ok()) << "a second server got the same pipe name";
  EXPECT_EQ(second.error().code(), ErrorCode::kAlreadyExists) << second.error().ToString();
}

// The real connection handler: hostile first messages get an Error naming the problem and the
// server keeps serving; a Ping gets a Pong.
TEST(WinPipeService, HostileFramesAreRefusedAndTheServiceKeepsServing) {
  ServiceContext context;
  context.policy = DefaultPolicy();
  context.state_dir = pw::Utf8(runner::win_os::testing::TestBinaryFolder());
  RunningServer server([&](PipeStream& stream, const PipeClient& client) {
    HandleConnection(stream, client, context);
  });

  struct Case {
    const char* name;
    std::string bytes;
    const char* code;
  };
  std::string wrong_version("STKD\x00\x02\x00\x01\x00\x00\x00\x02{}", 14);
  std::string bad_magic("XXXX\x00\x01\x00\x01\x00\x00\x00\x02{}", 14);
  std::string bad_json("STKD\x00\x01\x00\x03\x00\x00\x00\x03{x}", 15);
  std::string oversized("STKD\x00\x01\x00\x03\x7f\x00\x00\x00", 12);
  const Case cases[] = {{"wrong version", wrong_version, "E_PROTOCOL_VERSION"},
                        {"bad magic", bad_magic, "E_PROTOCOL"},
                        {"bad json", bad_json, "E_PROTOCOL"},
                        {"oversized", oversized, "E_PROTOCOL"}};
  for (const auto& c : cases) {
    auto stream = ConnectToService(server.name());
    ASSERT_TRUE(stream.ok()) << stream.error().ToString();
    ASSERT_TRUE(stream->WriteAll(c.bytes.data(), c.bytes.size()).ok()) << c.name;
    auto reply = stream->Receive(10s);
    ASSERT_TRUE(reply.ok()) << c.name << ": " << reply.error().ToString();
    ASSERT_TRUE(reply->has_value()) << c.name;
    const auto* error = std::get_if<protocol::ErrorMessage>(&**reply);
    ASSERT_NE(error, nullptr) << c.name;
    EXPECT_EQ(error->code, c.code) << c.name << ": " << error->message;
    EXPECT_EQ(error->stage, protocol::ErrorStage::kProtocol) << c.name;
  }
  // Still serving.
  auto stream = ConnectToService(server.name());
  ASSERT_TRUE(stream.ok());
  ASSERT_TRUE(stream->Send(protocol::PingMessage{}).ok());
  auto reply = stream->Receive(10s);
  ASSERT_TRUE(reply.ok() && reply->has_value());
  const auto* pong = std::get_if<protocol::PongMessage>(&**reply);
  ASSERT_NE(pong, nullptr);
  EXPECT_EQ(pong->pid, static_cast<std::int64_t>(GetCurrentProcessId()));
}

// A RunRequest through the broker: no sandbox identity exists on the test machine, so the
// service refuses at the authorisation stage, and the client maps that to exit status 122.
TEST(WinPipeService, AnUnprovisionedIdentityIsRefusedAndTheClientExits122) {
  ServiceContext context;
  context.policy = DefaultPolicy();
  context.state_dir = pw::Utf8(runner::win_os::testing::TestBinaryFolder());
  RunningServer server([&](PipeStream& stream, const PipeClient& client) {
    HandleConnection(stream, client, context);
  });
  protocol::RunRequest request;
  request.identity = "offline";
  request.workspace = pw::Utf8(runner::win_os::testing::TestBinaryFolder());
  request.cwd = request.workspace;
  request.argv = {"stockade_win_probe", "exit", "0"};
  request.stdio = {protocol::StdioKind::kNull, protocol::StdioKind::kNull,
                   protocol::StdioKind::kNull};
  int status = 0;
  auto outcome = client::win_os::RunThroughService(server.name(), request, &status);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(status, client::kStatusRefused) << outcome.error().ToString();
  EXPECT_EQ(outcome.error().code(), ErrorCode::kNotProvisioned) << outcome.error().ToString();
}

TEST(WinPipeService, TheClientReportsAnUnreachableServiceWithStatus8) {
  protocol::RunRequest request;
  request.identity = "offline";
  request.workspace = "C:\\w";
  request.cwd = "C:\\w";
  request.argv = {"x"};
  int status = 0;
  auto outcome = client::win_os::RunThroughService(UniquePipeName(), request, &status);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(status, client::kStatusUnavailable);
  EXPECT_NE(outcome.error().context().find("--unprovisioned"), std::string::npos);
}

}  // namespace
}  // namespace stockade::runner::service::win_os
