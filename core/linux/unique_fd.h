// Owns one file descriptor and closes it on destruction. One definition for every Linux module
// (provision, runner, audit); each module names it in its own linux_os namespace.
#ifndef STOCKADE_CORE_LINUX_UNIQUE_FD_H_
#define STOCKADE_CORE_LINUX_UNIQUE_FD_H_

#include <unistd.h>

namespace stockade::posix {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = other.Release();
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace stockade::posix

#endif  // STOCKADE_CORE_LINUX_UNIQUE_FD_H_
