#include "runner/linux/child_util.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace stockade::runner::linux_os::child {

std::size_t FormatUnsigned(unsigned long long value, char* buf) noexcept {
  char tmp[24];
  std::size_t n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  for (std::size_t i = 0; i < n; ++i) buf[i] = tmp[n - 1 - i];
  buf[n] = '\0';
  return n;
}

void FdPath(int fd, char* buf) noexcept {
  static constexpr char kPrefix[] = "/proc/self/fd/";
  std::size_t i = 0;
  for (; kPrefix[i] != '\0'; ++i) buf[i] = kPrefix[i];
  FormatUnsigned(static_cast<unsigned long long>(fd), buf + i);
}

bool Equal(const char* a, const char* b) noexcept {
  while (*a != '\0' && *a == *b) {
    ++a;
    ++b;
  }
  return *a == *b;
}

int OpenExact(const char* path, bool directory) noexcept {
  int flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
  if (directory) flags |= O_DIRECTORY;
  const int fd = static_cast<int>(::syscall(SYS_openat, AT_FDCWD, path, flags));
  if (fd < 0) return -1;
  char link[32];
  FdPath(fd, link);
  char resolved[4096];
  const long n = ::syscall(SYS_readlinkat, AT_FDCWD, link, resolved, sizeof(resolved) - 1);
  if (n < 0) {
    const int err = errno;
    ::syscall(SYS_close, fd);
    errno = err;
    return -1;
  }
  resolved[n] = '\0';
  if (!Equal(resolved, path)) {
    ::syscall(SYS_close, fd);
    errno = ELOOP;
    return -1;
  }
  return fd;
}

bool WriteAll(int fd, const void* data, std::size_t len) noexcept {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    const long n = ::syscall(SYS_write, fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    len -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace stockade::runner::linux_os::child
