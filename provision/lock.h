// The one-writer lock of the provisioner: <state_dir>/provision.lock, held with flock (Linux) or
// LockFileEx (Windows) for as long as a ProvisionLock object lives. The OS releases it when the
// process dies in any way, so a crashed provisioner never leaves a stale lock behind; the pid
// written into the file is only there to name the holder in the error message.
#ifndef STOCKADE_PROVISION_LOCK_H_
#define STOCKADE_PROVISION_LOCK_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "core/error.h"

namespace stockade::provision {

// How long a second provisioner waits when no timeout is given.
inline constexpr std::chrono::milliseconds kDefaultLockTimeout{10000};

// STOCKADE_LOCK_TIMEOUT_MS when set (a non-negative integer, 0 = try once), otherwise
// kDefaultLockTimeout. kInvalidArgument naming the variable when it is malformed.
Expected<std::chrono::milliseconds> LockTimeoutFromEnvironment();

class ProvisionLock {
 public:
  // "<state_dir>/provision.lock".
  static std::string PathFor(const std::string& state_dir);

  // Takes the lock, retrying every 50 ms for up to `timeout`; then writes this process's pid
  // into the file. The file is created (mode 0600 on Linux) when missing; `state_dir` must exist.
  // Errors: kDatabaseBusy "another stockade-provision (pid N) holds <path>" when the timeout
  // passes (pid "unknown" when the holder has not written it yet); kIo/kPermissionDenied naming
  // the file when it cannot be opened or locked for another reason.
  static Expected<ProvisionLock> Acquire(const std::string& state_dir,
                                         std::chrono::milliseconds timeout);

  ProvisionLock(ProvisionLock&& other) noexcept;
  ProvisionLock& operator=(ProvisionLock&& other) noexcept;
  ProvisionLock(const ProvisionLock&) = delete;
  ProvisionLock& operator=(const ProvisionLock&) = delete;
  // Clears the pid from the file and releases the lock.
  ~ProvisionLock();

  const std::string& path() const { return path_; }

 private:
  ProvisionLock(std::intptr_t handle, std::string path) : handle_(handle), path_(std::move(path)) {}
  void Release();

  std::intptr_t handle_ = -1;  // fd on Linux, HANDLE on Windows; -1 when moved from
  std::string path_;
};

}  // namespace stockade::provision

#endif  // STOCKADE_PROVISION_LOCK_H_
