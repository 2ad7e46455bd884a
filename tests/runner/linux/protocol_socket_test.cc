// Frames over a real Unix stream socket pair, with descriptors passed by SCM_RIGHTS and checked
// from the receiving side (they are the same open file), plus the ways a peer breaks a stream.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "runner/protocol/linux/connection.h"
#include "runner/protocol/linux/socket_io.h"

namespace stockade::runner::protocol::linux_os {
namespace {

struct Pair {
  UniqueFd a, b;
};

Pair MakePair() {
  int sv[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

RunRequest Request() {
  RunRequest r;
  r.identity = "online";
  r.workspace = "/w";
  r.cwd = "/w";
  r.argv = {"/bin/true"};
  r.stdio = {StdioKind::kFd, StdioKind::kNull, StdioKind::kFd};
  return r;
}

TEST(ProtocolSocket, RunRequestCarriesItsDescriptors) {
  Pair p = MakePair();
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  UniqueFd r(pipe_fds[0]), w(pipe_fds[1]);
  ASSERT_TRUE(WriteMessage(p.a.get(), Request(), {r.get(), w.get()}).ok());
  auto got = ReadMessage(p.b.get(), std::chrono::seconds(5));
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->message, Message(Request()));
  ASSERT_EQ((*got)->fds.size(), 2u);
  // Same open files: same inode, and bytes written through the received write end come out of
  // the original read end.
  struct stat s1 {
  }, s2{};
  ASSERT_EQ(::fstat(r.get(), &s1), 0);
  ASSERT_EQ(::fstat((*got)->fds[0].get(), &s2), 0);
  EXPECT_EQ(s1.st_ino, s2.st_ino);
  EXPECT_NE((*got)->fds[0].get(), r.get());
  EXPECT_TRUE(::fcntl((*got)->fds[1].get(), F_GETFD) & FD_CLOEXEC);
  ASSERT_EQ(::write((*got)->fds[1].get(), "hi", 2), 2);
  char buf[2];
  ASSERT_EQ(::read(r.get(), buf, 2), 2);
  EXPECT_EQ(std::memcmp(buf, "hi", 2), 0);
}

TEST(ProtocolSocket, CleanEndOfStreamIsNotAnError) {
  Pair p = MakePair();
  p.a.Reset();
  auto got = ReadMessage(p.b.get(), std::chrono::seconds(5));
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_FALSE(got->has_value());
}

TEST(ProtocolSocket, TruncatedFramesAreProtocolErrors) {
  {
    Pair p = MakePair();
    ASSERT_TRUE(WriteRaw(p.a.get(), "STKD\0\1", 6).ok());
    p.a.Reset();
    auto got = ReadMessage(p.b.get(), std::chrono::seconds(5));
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.error().code(), ErrorCode::kProtocol);
    EXPECT_NE(got.error().context().find("truncated frame: the stream ended in the frame header "
                                         "after 6 of 12 bytes"),
              std::string::npos)
        << got.error().ToString();
  }
  {
    Pair p = MakePair();
    auto frame = EncodeMessage(Request());
    ASSERT_TRUE(frame.ok());
    ASSERT_TRUE(WriteRaw(p.a.get(), frame->data(), frame->size() - 3).ok());
    p.a.Reset();
    auto got = ReadMessage(p.b.get(), std::chrono::seconds(5));
    ASSERT_FALSE(got.ok());
    EXPECT_NE(got.error().context().find("in the payload"), std::string::npos)
        << got.error().ToString();
  }
}

TEST(ProtocolSocket, SilentPeerTimesOut) {
  Pair p = MakePair();
  ASSERT_TRUE(WriteRaw(p.a.get(), "STKD", 4).ok());
  const auto start = std::chrono::steady_clock::now();
  auto got = ReadMessage(p.b.get(), std::chrono::milliseconds(200));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code(), ErrorCode::kTimeout);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(190));
}

TEST(ProtocolSocket, TooManyDescriptorsAreRefusedAndClosed) {
  Pair p = MakePair();
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  UniqueFd r(pipe_fds[0]), w(pipe_fds[1]);
  // Ping carries no descriptors: with max_fds 0 one is already too many.
  ASSERT_TRUE(WriteMessage(p.a.get(), PingMessage{}, {w.get()}).ok());
  w.Reset();
  auto got = ReadMessage(p.b.get(), std::chrono::seconds(5), /*max_fds=*/0);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code(), ErrorCode::kProtocol);
  EXPECT_NE(got.error().context().find("1 passed, at most 0"), std::string::npos);
  // The received copy was closed: the pipe's only write end is gone, so the read end sees EOF.
  char c;
  EXPECT_EQ(::read(r.get(), &c, 1), 0);
}

TEST(ProtocolSocket, ConnectToNothingIsServiceUnavailable) {
  auto c = Connection::Connect("/tmp/stockade-no-such-socket-" + std::to_string(::getpid()));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), ErrorCode::kServiceUnavailable);
  EXPECT_EQ(c.error().os_error(), ENOENT);
  auto too_long = Connection::Connect("/" + std::string(200, 'x'));
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error().code(), ErrorCode::kPathInvalid);
}

TEST(ProtocolSocket, ErrorFromReplyMapsTheCodeName) {
  const Error e = ErrorFromReply({"E_NOT_GRANTED", "nope", ErrorStage::kAuthorize});
  EXPECT_EQ(e.code(), ErrorCode::kNotGranted);
  EXPECT_EQ(ErrorFromReply({"E_FUTURE_THING", "x", ErrorStage::kService}).code(),
            ErrorCode::kProtocol);
}

}  // namespace
}  // namespace stockade::runner::protocol::linux_os
