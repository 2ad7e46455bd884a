// The portable half of the provision lock: the timeout variable and the file name. The OS halves
// (Acquire, Release) are in linux/lock.cc and win/lock.cc.
#include "provision/lock.h"

#include <cstdlib>
#include <string_view>

namespace stockade::provision {

Expected<std::chrono::milliseconds> LockTimeoutFromEnvironment() {
  const char* raw = std::getenv("STOCKADE_LOCK_TIMEOUT_MS");
  if (raw == nullptr || *raw == '\0') return kDefaultLockTimeout;
  std::string_view text(raw);
  long long value = 0;
  bool ok = text.size() <= 10;
  for (char c : text) {
    if (c < '0' || c > '9') ok = false;
    if (ok) value = value * 10 + (c - '0');
  }
  if (!ok) {
    return Error(ErrorCode::kInvalidArgument, "STOCKADE_LOCK_TIMEOUT_MS='" + std::string(text) +
                                                  "' is not a number of milliseconds (0 or more)");
  }
  return std::chrono::milliseconds(value);
}

std::string ProvisionLock::PathFor(const std::string& state_dir) {
  if (!state_dir.empty() && (state_dir.back() == '/' || state_dir.back() == '\\')) {
    return state_dir + "provision.lock";
  }
  return state_dir + "/provision.lock";
}

ProvisionLock::ProvisionLock(ProvisionLock&& other) noexcept
    : handle_(other.handle_), path_(std::move(other.path_)) {
  other.handle_ = -1;
}

ProvisionLock& ProvisionLock::operator=(ProvisionLock&& other) noexcept {
  if (this != &other) {
    Release();
    handle_ = other.handle_;
    path_ = std::move(other.path_);
    other.handle_ = -1;
  }
  return *this;
}

ProvisionLock::~ProvisionLock() { Release(); }

}  // namespace stockade::provision
