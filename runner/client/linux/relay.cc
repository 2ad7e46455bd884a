#include "runner/client/linux/relay.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <string>

namespace stockade::runner::client::linux_os {

namespace {

constexpr std::size_t kChunk = 64 * 1024;
// Keystrokes waiting for the tree to read them; past this, the user's terminal is not read
// until the tree catches up (the terminal's own buffer then holds the rest).
constexpr std::size_t kMaxPendingInput = 64 * 1024;
// After the tree is gone, how long to wait for the last bytes of its pty output.
constexpr auto kDrainLimit = std::chrono::milliseconds(500);

// Writes all of `data` to a blocking descriptor; false when it cannot (the terminal is gone).
bool WriteAll(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t done = ::write(fd, data, size);
    if (done < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += done;
    size -= static_cast<std::size_t>(done);
  }
  return true;
}

class Loop {
 public:
  Loop(TreeSession& session, SignalPipe& signals, const RelayIo& io)
      : session_(session), signals_(signals), io_(io) {}

  Expected<RunOutcome> Run() {
    if (io_.master >= 0 && io_.winsize_from >= 0) {
      (void)CopyWindowSize(io_.winsize_from, io_.master);
    }
    std::optional<RunOutcome> outcome;
    while (!outcome) {
      pollfd fds[4];
      nfds_t n = 0;
      fds[n++] = {signals_.fd(), POLLIN, 0};
      const nfds_t session_slot = n;
      fds[n++] = {session_.fd(), POLLIN, 0};
      nfds_t master_slot = ~nfds_t{0};
      nfds_t in_slot = ~nfds_t{0};
      if (io_.master >= 0 && !master_eof_) {
        short events = POLLIN;
        if (!pending_.empty()) events |= POLLOUT;
        master_slot = n;
        fds[n++] = {io_.master, events, 0};
      }
      if (io_.user_in >= 0 && !user_in_eof_ && pending_.size() < kMaxPendingInput) {
        in_slot = n;
        fds[n++] = {io_.user_in, POLLIN, 0};
      }
      const int rc = ::poll(fds, n, session_.MillisToDeadline());
      if (rc < 0) {
        if (errno == EINTR) continue;
        return ErrnoError(ErrorCode::kOs, "poll in the client's relay", errno);
      }
      if (rc == 0) {
        auto done = session_.OnDeadline();
        if (!done.ok()) return done.error();
        outcome = *done;
        continue;
      }
      if (fds[0].revents != 0) STOCKADE_RETURN_IF_ERROR(HandleSignals());
      if (master_slot != ~nfds_t{0} && fds[master_slot].revents != 0) {
        if (fds[master_slot].revents & POLLOUT) FlushInput();
        if (fds[master_slot].revents & (POLLIN | POLLHUP | POLLERR)) ReadMaster();
      }
      if (in_slot != ~nfds_t{0} && fds[in_slot].revents != 0) ReadUser();
      if (fds[session_slot].revents != 0) {
        auto done = session_.OnReadable();
        if (!done.ok()) return done.error();
        outcome = *done;
      }
    }
    Drain();
    outcome->client_signal = client_signal_;
    return *outcome;
  }

 private:
  Status HandleSignals() {
    for (int sig : signals_.Drain()) {
      switch (sig) {
        case SIGWINCH:
          if (io_.master >= 0 && io_.winsize_from >= 0) {
            (void)CopyWindowSize(io_.winsize_from, io_.master);
          }
          break;
        case SIGCONT:
          if (io_.raw != nullptr) io_.raw->Reapply();
          if (io_.master >= 0 && io_.winsize_from >= 0) {
            (void)CopyWindowSize(io_.winsize_from, io_.master);
          }
          break;
        case SIGINT:
        case SIGTERM:
        case SIGHUP:
          if (client_signal_ == 0) {
            client_signal_ = sig;
            // A failure to deliver (the service already gone) shows up on the session's fd.
            (void)session_.Interrupt(sig);
          }
          break;
        default:
          break;
      }
    }
    return OkStatus();
  }

  void ReadUser() {
    char buffer[4096];
    const ssize_t got = ::read(io_.user_in, buffer, sizeof(buffer));
    if (got > 0) {
      pending_.append(buffer, static_cast<std::size_t>(got));
      FlushInput();
    } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
      // The user's terminal hung up: nothing more to type. The session still decides the end.
      user_in_eof_ = true;
    }
  }

  void FlushInput() {
    while (!pending_.empty()) {
      const ssize_t done = ::write(io_.master, pending_.data(), pending_.size());
      if (done < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN) pending_.clear();  // the pty is gone; the keystrokes with it
        return;
      }
      pending_.erase(0, static_cast<std::size_t>(done));
    }
  }

  // Returns true when bytes were read.
  bool ReadMaster() {
    char buffer[kChunk];
    bool any = false;
    for (;;) {
      const ssize_t got = ::read(io_.master, buffer, sizeof(buffer));
      if (got > 0) {
        any = true;
        if (io_.user_out >= 0 && !user_out_broken_ &&
            !WriteAll(io_.user_out, buffer, static_cast<std::size_t>(got))) {
          user_out_broken_ = true;
        }
        continue;
      }
      if (got < 0 && errno == EINTR) continue;
      // EIO: every slave descriptor is closed (the tree is gone). EAGAIN: nothing for now.
      if (got == 0 || errno != EAGAIN) master_eof_ = true;
      return any;
    }
  }

  // The tree is gone, but its last output may still sit in the pty: read it until the pty says
  // every slave is closed, or until it stays quiet for a while (a slave copy still held by
  // someone else must not hang the client).
  void Drain() {
    if (io_.master < 0) return;
    const auto deadline = std::chrono::steady_clock::now() + kDrainLimit;
    while (!master_eof_) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{io_.master, POLLIN, 0};
      const int rc = ::poll(&p, 1, static_cast<int>(left.count()));
      if (rc < 0 && errno == EINTR) continue;
      if (rc <= 0) break;
      ReadMaster();
    }
  }

  TreeSession& session_;
  SignalPipe& signals_;
  const RelayIo& io_;
  std::string pending_;
  bool master_eof_ = false;
  bool user_in_eof_ = false;
  bool user_out_broken_ = false;
  int client_signal_ = 0;
};

}  // namespace

Expected<RunOutcome> Relay(TreeSession& session, SignalPipe& signals, const RelayIo& io) {
  Loop loop(session, signals, io);
  return loop.Run();
}

}  // namespace stockade::runner::client::linux_os
