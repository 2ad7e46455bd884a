// The client's terminal handling on a real pty opened by the test: raw mode entered and restored
// exactly (termios read back from the kernel), the window size copied, the stdio plan when no
// stream is a terminal, and the signal pipe.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#include "runner/client/linux/signals.h"
#include "runner/client/linux/terminal.h"

namespace stockade::runner::client::linux_os {
namespace {

struct Pty {
  int master = -1;
  int slave = -1;
  Pty() { EXPECT_EQ(::openpty(&master, &slave, nullptr, nullptr, nullptr), 0); }
  ~Pty() {
    ::close(master);
    ::close(slave);
  }
};

bool SameTermios(const termios& a, const termios& b) {
  return a.c_iflag == b.c_iflag && a.c_oflag == b.c_oflag && a.c_cflag == b.c_cflag &&
         a.c_lflag == b.c_lflag && std::memcmp(a.c_cc, b.c_cc, sizeof(a.c_cc)) == 0;
}

TEST(ClientTerminalTest, RawModeIsEnteredAndRestoredExactly) {
  Pty pty;
  termios before{};
  ASSERT_EQ(::tcgetattr(pty.slave, &before), 0);
  ASSERT_NE(before.c_lflag & ICANON, 0u) << "a fresh pty starts canonical";
  {
    auto raw = RawMode::Enter(pty.slave);
    ASSERT_TRUE(raw.ok()) << raw.error().ToString();
    termios during{};
    ASSERT_EQ(::tcgetattr(pty.slave, &during), 0);
    EXPECT_EQ(during.c_lflag & (ICANON | ECHO | ISIG), 0u);
    EXPECT_FALSE(RawMode::Enter(pty.slave).ok()) << "only one raw mode at a time";
  }
  termios after{};
  ASSERT_EQ(::tcgetattr(pty.slave, &after), 0);
  EXPECT_TRUE(SameTermios(before, after));
}

TEST(ClientTerminalTest, WindowSizeIsCopiedToTheMaster) {
  Pty user;
  Pty inner;
  winsize size{};
  size.ws_row = 37;
  size.ws_col = 111;
  ASSERT_EQ(::ioctl(user.master, TIOCSWINSZ, &size), 0);
  ASSERT_TRUE(CopyWindowSize(user.slave, inner.master).ok());
  winsize got{};
  ASSERT_EQ(::ioctl(inner.slave, TIOCGWINSZ, &got), 0);
  EXPECT_EQ(got.ws_row, 37);
  EXPECT_EQ(got.ws_col, 111);
}

TEST(ClientTerminalTest, PipesAreHandedOverAsTheyAre) {
  // ctest runs tests with stdio that is not a terminal; make sure of it for 0..2.
  int saved[3];
  int null_fd = ::open("/dev/null", O_RDWR);
  ASSERT_GE(null_fd, 0);
  for (int fd = 0; fd < 3; ++fd) {
    saved[fd] = ::dup(fd);
    ::dup2(null_fd, fd);
  }
  auto plan = PrepareStdio();
  for (int fd = 0; fd < 3; ++fd) {
    ::dup2(saved[fd], fd);
    ::close(saved[fd]);
  }
  ::close(null_fd);
  ASSERT_TRUE(plan.ok()) << plan.error().ToString();
  EXPECT_FALSE(plan->has_pty());
  EXPECT_EQ(plan->pass[0], 0);
  EXPECT_EQ(plan->pass[1], 1);
  EXPECT_EQ(plan->pass[2], 2);
}

TEST(ClientTerminalTest, SignalsArriveThroughThePipe) {
  auto pipe = SignalPipe::Install();
  ASSERT_TRUE(pipe.ok()) << pipe.error().ToString();
  ASSERT_EQ(::raise(SIGWINCH), 0);
  ASSERT_EQ(::raise(SIGTERM), 0);  // handled, so the test process lives on
  auto got = pipe->Drain();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], SIGWINCH);
  EXPECT_EQ(got[1], SIGTERM);
  EXPECT_TRUE(pipe->Drain().empty());
}

}  // namespace
}  // namespace stockade::runner::client::linux_os
