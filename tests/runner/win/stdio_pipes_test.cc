// The per-session stdio pipes of the Windows service (runner/service/win/stdio_pipes.h) under
// Wine: a pipe nobody connects times out, connected pipes carry bytes both ways in blocking mode,
// and the names are the ones the client computes (StdioPipeName).
#include "runner/service/win/stdio_pipes.h"

#include <gtest/gtest.h>

#include <thread>

#include "core/crypto/random.h"
#include "provision/win/win_util.h"
#include "runner/protocol/win/pipe_stream.h"
#include "runner/win/token.h"

namespace stockade::runner::service::win_os {
namespace {

namespace pw = stockade::provision::win;
using namespace std::chrono_literals;

Sid OwnSid() {
  auto token = runner::win_os::OpenOwnToken();
  return *runner::win_os::TokenUserSid(token->get());
}

TEST(WinStdioPipes, APipeNobodyConnectsTimesOut) {
  const std::string session = "test-" + *crypto::RandomHex(6);
  auto pipe = MakeStdioPipe(session, 1, OwnSid());
  ASSERT_TRUE(pipe.ok()) << pipe.error().ToString();
  const auto start = std::chrono::steady_clock::now();
  const Status waited = WaitForClients({pipe->get()}, 300ms);
  ASSERT_FALSE(waited.ok());
  EXPECT_EQ(waited.error().code(), ErrorCode::kTimeout);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 250ms);
}

TEST(WinStdioPipes, ConnectedPipesCarryBytesBothWays) {
  const std::string session = "test-" + *crypto::RandomHex(6);
  auto in = MakeStdioPipe(session, 0, OwnSid());
  auto out = MakeStdioPipe(session, 1, OwnSid());
  ASSERT_TRUE(in.ok() && out.ok());
  UniqueHandle client_in;
  UniqueHandle client_out;
  std::thread client([&] {
    std::this_thread::sleep_for(100ms);  // the service is already waiting
    client_in.reset(CreateFileW(pw::Wide(protocol::win_os::StdioPipeName(session, 0)).c_str(),
                                GENERIC_WRITE, 0, nullptr, OPEN_EXISTING, 0, nullptr));
    client_out.reset(CreateFileW(pw::Wide(protocol::win_os::StdioPipeName(session, 1)).c_str(),
                                 GENERIC_READ, 0, nullptr, OPEN_EXISTING, 0, nullptr));
  });
  const Status waited = WaitForClients({in->get(), out->get()}, 5s);
  client.join();
  ASSERT_TRUE(waited.ok()) << waited.error().ToString();
  ASSERT_TRUE(client_in.valid() && client_out.valid());

  DWORD n = 0;
  ASSERT_TRUE(WriteFile(out->get(), "out", 3, &n, nullptr));
  char buffer[8] = {};
  ASSERT_TRUE(ReadFile(client_out.get(), buffer, sizeof buffer, &n, nullptr));
  EXPECT_EQ(std::string(buffer, n), "out");
  ASSERT_TRUE(WriteFile(client_in.get(), "in", 2, &n, nullptr));
  // Blocking mode again: this read waits for the bytes instead of failing with ERROR_NO_DATA.
  ASSERT_TRUE(ReadFile(in->get(), buffer, sizeof buffer, &n, nullptr)) << GetLastError();
  EXPECT_EQ(std::string(buffer, n), "in");
  client_in.reset();  // the tree would now read end of file
  EXPECT_FALSE(ReadFile(in->get(), buffer, sizeof buffer, &n, nullptr));
  EXPECT_EQ(GetLastError(), static_cast<DWORD>(ERROR_BROKEN_PIPE));
}

}  // namespace
}  // namespace stockade::runner::service::win_os
