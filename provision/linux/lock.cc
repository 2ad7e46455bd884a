// flock(2) on <state_dir>/provision.lock. flock locks belong to the open file description, so two
// opens in one process exclude each other exactly like two processes do, and the kernel drops the
// lock when the last descriptor closes, including when the process is killed.
#include "provision/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <thread>

namespace stockade::provision {
namespace {

constexpr std::chrono::milliseconds kPollInterval{50};

std::string ReadHolderPid(int fd) {
  char buffer[32] = {};
  ssize_t n = pread(fd, buffer, sizeof(buffer) - 1, 0);
  std::string text = n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return "unknown";
  return text;
}

}  // namespace

Expected<ProvisionLock> ProvisionLock::Acquire(const std::string& state_dir,
                                               std::chrono::milliseconds timeout) {
  const std::string path = PathFor(state_dir);
  // O_NOFOLLOW: the state folder is root's, but never follow a planted link to lock (and
  // truncate) some other file.
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    int err = errno;
    return ErrnoError(err == EACCES || err == EPERM ? ErrorCode::kPermissionDenied : ErrorCode::kIo,
                      "opening the provision lock " + path, err);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) break;
    int err = errno;
    if (err == EINTR) continue;
    if (err != EWOULDBLOCK) {
      close(fd);
      return ErrnoError(ErrorCode::kIo, "locking " + path, err);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string pid = ReadHolderPid(fd);
      close(fd);
      return Error(ErrorCode::kDatabaseBusy, "another stockade-provision (pid " + pid + ") holds " +
                                                 path + "; waited " +
                                                 std::to_string(timeout.count()) +
                                                 " ms (STOCKADE_LOCK_TIMEOUT_MS sets how long)");
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  // From here the object owns the locked descriptor: any return releases it.
  ProvisionLock lock(fd, path);
  const std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) != 0 ||
      pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    int err = errno;
    return ErrnoError(ErrorCode::kIo, "writing this process's pid into " + path, err);
  }
  return lock;
}

void ProvisionLock::Release() {
  if (handle_ < 0) return;
  int fd = static_cast<int>(handle_);
  handle_ = -1;
  // Clear the pid before unlocking so that nobody reads a stale holder. Best effort: a failure
  // only leaves a stale pid for the message, and close releases the lock either way.
  [[maybe_unused]] int truncated = ftruncate(fd, 0);
  flock(fd, LOCK_UN);
  close(fd);
}

}  // namespace stockade::provision
