#include "runner/selftest/probes/linux/probe_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace stockade::runner::selftest::linux_probes {

std::string ErrnoText(const std::string& call, int err) {
  const char* name = ::strerrorname_np(err);
  return call + ": errno " + std::to_string(err) + " " + (name != nullptr ? name : "?") + " (" +
         std::strerror(err) + ")";
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

long long NowMs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& cwd,
                         const std::vector<std::string>& extra_env, int timeout_ms) {
  CommandResult result;
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    result.error = ErrnoText("pipe2", errno);
    return result;
  }
  // Everything the child needs is built before fork: the probe is single-threaded, but
  // allocation-free children are a good habit.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  for (const std::string& e : extra_env) env_strings.push_back(e);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (std::string& a : args) argp.push_back(a.data());
  argp.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid < 0) {
    result.error = ErrnoText("fork", errno);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return result;
  }
  if (pid == 0) {
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);
    const int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::execve(argp[0], argp.data(), envp.data());
    const int err = errno;
    const std::string msg = ErrnoText("execve(" + argv[0] + ")", err) + "\n";
    if (::write(1, msg.data(), msg.size()) < 0) {
    }
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  const long long deadline = NowMs() + timeout_ms;
  char buf[4096];
  for (;;) {
    const long long left = deadline - NowMs();
    if (left <= 0) {
      ::kill(pid, SIGKILL);
      result.output += "\n[killed after " + std::to_string(timeout_ms) + " ms]";
      break;
    }
    pollfd p{pipe_fds[0], POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    const ssize_t got = ::read(pipe_fds[0], buf, sizeof(buf));
    if (got <= 0) break;
    if (result.output.size() < (1 << 20)) result.output.append(buf, static_cast<std::size_t>(got));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

int ConnectWithTimeout(int fd, const sockaddr* addr, socklen_t len, int timeout_ms) {
  const int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  if (::connect(fd, addr, len) == 0) {
    ::fcntl(fd, F_SETFL, flags);
    return fd;
  }
  if (errno != EINPROGRESS) return -1;
  pollfd p{fd, POLLOUT, 0};
  const int n = ::poll(&p, 1, timeout_ms);
  if (n == 0) {
    errno = ETIMEDOUT;
    return -1;
  }
  if (n < 0) return -1;
  int err = 0;
  socklen_t err_len = sizeof(err);
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
  if (err != 0) {
    errno = err;
    return -1;
  }
  ::fcntl(fd, F_SETFL, flags);
  return fd;
}

bool MakeAddress(const std::string& host, int port, sockaddr_storage* out, socklen_t* len) {
  std::memset(out, 0, sizeof(*out));
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    *len = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    *len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

std::string Excerpt(const std::string& text, std::size_t max) {
  std::string out;
  for (char c : text) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    if (c == '\n') {
      out += " | ";
    } else if (c != '\r') {
      out += c;
    }
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == '|')) out.pop_back();
  return out;
}

}  // namespace stockade::runner::selftest::linux_probes
