#include "runner/selftest/linux/host_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

extern char** environ;

namespace stockade::runner::selftest::linux_host {

namespace {

long long NowMs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

Expected<Captured> RunCaptured(const std::vector<std::string>& argv, const std::string& cwd,
                               int timeout_ms) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return ErrnoError(ErrorCode::kOs, "pipe2", errno);
  std::vector<std::string> args = argv;
  std::vector<char*> argp = Pointers(args);
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(out[0]);
    ::close(out[1]);
    return ErrnoError(ErrorCode::kOs, "fork for " + argv[0], err);
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    const int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::execve(argp[0], argp.data(), environ);
    ::_exit(127);
  }
  ::close(out[1]);
  Captured result;
  const long long deadline = NowMs() + timeout_ms;
  char buf[8192];
  bool killed = false;
  for (;;) {
    const long long left = deadline - NowMs();
    if (left <= 0 && !killed) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      killed = true;
      result.output += "\n[selftest: killed after " + std::to_string(timeout_ms) + " ms]\n";
    }
    pollfd p{out[0], POLLIN, 0};
    const int n = ::poll(&p, 1, killed ? 2000 : static_cast<int>(std::max(1LL, left)));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) {
      if (killed) break;
      continue;
    }
    const ssize_t got = ::read(out[0], buf, sizeof(buf));
    if (got <= 0) break;
    if (result.output.size() < (4 << 20)) result.output.append(buf, static_cast<std::size_t>(got));
  }
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

Expected<pid_t> StartBackground(const std::vector<std::string>& argv) {
  std::vector<std::string> args = argv;
  std::vector<char*> argp = Pointers(args);
  const pid_t pid = ::fork();
  if (pid < 0) return ErrnoError(ErrorCode::kOs, "fork for " + argv[0], errno);
  if (pid == 0) {
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execve(argp[0], argp.data(), environ);
    ::_exit(127);
  }
  return pid;
}

namespace {

// A /proc file read with plain read(2): a process that exits meanwhile makes the read fail
// (ESRCH), which iostreams would turn into an exception.
std::string ReadProcFile(const std::string& path) {
  std::string text;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0 && text.size() < (1 << 16)) {
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return text;
}

}  // namespace

bool Alive(pid_t pid) {
  const std::string line = ReadProcFile("/proc/" + std::to_string(pid) + "/stat");
  if (line.empty()) return false;
  const std::size_t close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return false;
  const char state = line[close + 2];
  return state != 'Z' && state != 'X';
}

std::vector<std::string> ProcessesWith(const std::string& needle, const std::vector<pid_t>& exclude,
                                       std::vector<pid_t>* pids) {
  std::vector<std::string> found;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return found;
  const pid_t self = ::getpid();
  while (dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || pid == self) continue;
    if (std::find(exclude.begin(), exclude.end(), static_cast<pid_t>(pid)) != exclude.end()) {
      continue;
    }
    std::string cmdline = ReadProcFile(std::string("/proc/") + e->d_name + "/cmdline");
    if (cmdline.find(needle) == std::string::npos) continue;
    if (!Alive(static_cast<pid_t>(pid))) continue;
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    struct stat st {};
    ::stat((std::string("/proc/") + e->d_name).c_str(), &st);
    if (cmdline.size() > 160) cmdline = cmdline.substr(0, 160) + "...";
    found.push_back("pid " + std::to_string(pid) + " (uid " + std::to_string(st.st_uid) +
                    "): " + cmdline);
    if (pids != nullptr) pids->push_back(static_cast<pid_t>(pid));
  }
  ::closedir(dir);
  return found;
}

Expected<std::string> ReadAll(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return ErrnoError(ErrorCode::kIo, "open " + path, errno);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) text.append(buf, static_cast<std::size_t>(n));
  const int err = errno;
  ::close(fd);
  if (n < 0) return ErrnoError(ErrorCode::kIo, "read " + path, err);
  return text;
}

Status WriteAll(const std::string& path, const std::string& text, unsigned mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                        static_cast<mode_t>(mode));
  if (fd < 0) return ErrnoError(ErrorCode::kIo, "create " + path, errno);
  const ssize_t n = ::write(fd, text.data(), text.size());
  const int err = errno;
  ::fchmod(fd, static_cast<mode_t>(mode));  // the umask must not decide what the probe faces
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size()))
    return ErrnoError(ErrorCode::kIo, "write " + path, err);
  return OkStatus();
}

std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> names;
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return names;
  while (dirent* e = ::readdir(dir)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    names.emplace_back(e->d_name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

namespace {

int RemoveOne(const char* path, const struct stat*, int type, FTW*) {
  if (type == FTW_DP) {
    ::rmdir(path);
  } else {
    ::unlink(path);
  }
  return 0;
}

}  // namespace

void RemoveTree(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;
  if (!S_ISDIR(st.st_mode)) {
    ::unlink(path.c_str());
    return;
  }
  ::nftw(path.c_str(), RemoveOne, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

std::string FindInPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string list = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  for (;;) {
    const std::size_t colon = list.find(':', start);
    const std::string dir = list.substr(start, colon == std::string::npos ? colon : colon - start);
    if (!dir.empty()) {
      const std::string candidate = dir + "/" + name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return "";
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace stockade::runner::selftest::linux_host
