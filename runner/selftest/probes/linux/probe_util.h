// Small helpers shared by the Linux probes: errno text, descriptors, subprocesses, sockets.
#ifndef STOCKADE_RUNNER_SELFTEST_PROBES_LINUX_PROBE_UTIL_H_
#define STOCKADE_RUNNER_SELFTEST_PROBES_LINUX_PROBE_UTIL_H_

#include <sys/socket.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "runner/selftest/probes/probes.h"

namespace stockade::runner::selftest::linux_probes {

// "call(target): errno 13 EACCES (Permission denied)".
std::string ErrnoText(const std::string& call, int err);

// Owns a descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd();
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&&) = delete;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

// A finished subprocess: exit code (128 + signal when killed) and stdout+stderr.
struct CommandResult {
  int status = -1;
  std::string output;
  std::string error;  // non-empty when it could not be started (fork/exec errno text)
};

// Runs argv (argv[0] an absolute path) in `cwd` with the probe's environment plus `extra_env`,
// output captured, killed after `timeout_ms`.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& cwd,
                         const std::vector<std::string>& extra_env, int timeout_ms);

// Connects a stream socket to `addr` within `timeout_ms`. Returns the socket, or -1 with errno
// set (ETIMEDOUT after the timeout).
int ConnectWithTimeout(int fd, const sockaddr* addr, socklen_t len, int timeout_ms);

// Fills an IPv4/IPv6 socket address from text. False when `host` is not a numeric address.
bool MakeAddress(const std::string& host, int port, sockaddr_storage* out, socklen_t* len);

// The first `max` bytes of `text`, with newlines shown as " | ".
std::string Excerpt(const std::string& text, std::size_t max = 200);

}  // namespace stockade::runner::selftest::linux_probes

#endif  // STOCKADE_RUNNER_SELFTEST_PROBES_LINUX_PROBE_UTIL_H_
