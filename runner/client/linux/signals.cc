#include "runner/client/linux/signals.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace stockade::runner::client::linux_os {

namespace {

constexpr int kHandled[] = {SIGINT, SIGTERM, SIGHUP, SIGWINCH, SIGCONT, SIGPIPE};
constexpr std::size_t kCount = sizeof(kHandled) / sizeof(kHandled[0]);
struct sigaction g_old[kCount];
int g_write_fd = -1;

void OnSignal(int sig) {
  const int saved_errno = errno;
  const unsigned char byte = static_cast<unsigned char>(sig);
  // Non-blocking: when the pipe is full, the loop has plenty to read already.
  [[maybe_unused]] ssize_t ignored = ::write(g_write_fd, &byte, 1);
  errno = saved_errno;
}

}  // namespace

Expected<SignalPipe> SignalPipe::Install() {
  if (g_write_fd >= 0) {
    return Error(ErrorCode::kInvalidArgument, "the client's signal handlers are already installed");
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return ErrnoError(ErrorCode::kOs, "pipe2 for the signal handlers", errno);
  }
  SignalPipe pipe;
  pipe.read_.Reset(fds[0]);
  pipe.write_.Reset(fds[1]);
  g_write_fd = fds[1];
  pipe.installed_ = true;
  for (std::size_t i = 0; i < kCount; ++i) {
    struct sigaction action {};
    action.sa_handler = kHandled[i] == SIGPIPE ? SIG_IGN : OnSignal;
    sigemptyset(&action.sa_mask);
    // SA_RESTART: blocking writes to the user's terminal go on after a SIGWINCH.
    action.sa_flags = SA_RESTART;
    if (::sigaction(kHandled[i], &action, &g_old[i]) != 0) {
      const int err = errno;
      for (std::size_t j = 0; j < i; ++j) ::sigaction(kHandled[j], &g_old[j], nullptr);
      g_write_fd = -1;
      pipe.installed_ = false;
      return ErrnoError(ErrorCode::kOs, "sigaction for signal " + std::to_string(kHandled[i]), err);
    }
  }
  return pipe;
}

SignalPipe::SignalPipe(SignalPipe&& other) noexcept
    : installed_(other.installed_), read_(std::move(other.read_)), write_(std::move(other.write_)) {
  other.installed_ = false;
}

SignalPipe::~SignalPipe() {
  if (!installed_) return;
  for (std::size_t i = 0; i < kCount; ++i) ::sigaction(kHandled[i], &g_old[i], nullptr);
  g_write_fd = -1;
}

std::vector<int> SignalPipe::Drain() {
  std::vector<int> signals;
  unsigned char buffer[64];
  for (;;) {
    const ssize_t got = ::read(read_.get(), buffer, sizeof(buffer));
    if (got <= 0) {
      if (got < 0 && errno == EINTR) continue;
      break;
    }
    for (ssize_t i = 0; i < got; ++i) signals.push_back(buffer[i]);
  }
  return signals;
}

}  // namespace stockade::runner::client::linux_os
