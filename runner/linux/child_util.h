// Small helpers for code that runs in the child between clone and execve: no allocation, no
// locks, no stdio; only system calls and stack buffers.
#ifndef STOCKADE_RUNNER_LINUX_CHILD_UTIL_H_
#define STOCKADE_RUNNER_LINUX_CHILD_UTIL_H_

#include <cstddef>

namespace stockade::runner::linux_os::child {

// Writes "/proc/self/fd/<fd>" into `buf` (at least 32 bytes).
void FdPath(int fd, char* buf) noexcept;

// Writes the decimal form of `value` into `buf` (at least 24 bytes); returns its length.
std::size_t FormatUnsigned(unsigned long long value, char* buf) noexcept;

bool Equal(const char* a, const char* b) noexcept;

// Opens `path` with O_PATH | O_NOFOLLOW | O_CLOEXEC (| O_DIRECTORY when `directory`) and checks
// through /proc/self/fd that the kernel resolved exactly `path`: no symlink on the way. Returns
// the descriptor, or -1 with errno set (ELOOP when the resolved path differs).
int OpenExact(const char* path, bool directory) noexcept;

// Writes all of `len` bytes to `fd` (retrying on EINTR and short writes). Returns false with
// errno set on failure.
bool WriteAll(int fd, const void* data, std::size_t len) noexcept;

}  // namespace stockade::runner::linux_os::child

#endif  // STOCKADE_RUNNER_LINUX_CHILD_UTIL_H_
