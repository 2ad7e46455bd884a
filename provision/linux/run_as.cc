#include "provision/linux/run_as.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "provision/linux/accounts.h"

namespace stockade::provision::linux_os {
namespace {

void WriteAll(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t w = write(fd, s.data() + done, s.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    done += static_cast<size_t>(w);
  }
}

}  // namespace

Expected<Credentials> CredentialsOfUser(const std::string& name) {
  auto user = LookupUser(name);
  if (!user.ok()) return user.error();
  if (!user->has_value()) return Error(ErrorCode::kNotFound, "user " + name + " does not exist");
  auto groups = UserGroupIds(name, (*user)->gid);
  if (!groups.ok()) return groups.error();
  return Credentials{(*user)->uid, (*user)->gid, *groups};
}

Expected<std::string> RunAs(const Credentials& creds, const std::function<std::string()>& probe,
                            std::chrono::milliseconds timeout) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoError(ErrorCode::kOs, "pipe for RunAs", errno);
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(fds[0]);
    close(fds[1]);
    return ErrnoError(ErrorCode::kOs, "fork for RunAs", e);
  }
  if (pid == 0) {
    close(fds[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // Status byte first: 'E' + reason when the identity switch failed, 'O' + result otherwise.
    auto fail = [&](const char* what) {
      std::string msg = std::string("E") + what + ": " + std::strerror(errno);
      WriteAll(fds[1], msg);
      _exit(1);
    };
    if (setgroups(creds.groups.size(), creds.groups.data()) != 0) fail("setgroups");
    if (setresgid(creds.gid, creds.gid, creds.gid) != 0) fail("setresgid");
    if (setresuid(creds.uid, creds.uid, creds.uid) != 0) fail("setresuid");
    uid_t r, e, s;
    if (getresuid(&r, &e, &s) != 0 || r != creds.uid || e != creds.uid || s != creds.uid) {
      errno = EPERM;
      fail("uid did not change");
    }
    WriteAll(fds[1], "O" + probe());
    _exit(0);
  }
  close(fds[1]);
  std::string data;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int rc = poll(&p, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) {
      timed_out = rc == 0;
      break;
    }
    ssize_t got = read(fds[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    data.append(buf, static_cast<size_t>(got));
  }
  close(fds[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const std::string who = "uid " + std::to_string(creds.uid);
  if (timed_out) return Error(ErrorCode::kTimeout, "access probe as " + who + " timed out");
  if (data.empty() || data[0] != 'O' || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string reason = data.size() > 1 ? data.substr(1) : "the probe process died";
    return Error(ErrorCode::kOs, "access probe as " + who + ": " + reason);
  }
  return data.substr(1);
}

}  // namespace stockade::provision::linux_os
