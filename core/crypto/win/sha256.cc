// SHA-256 on Windows: CNG (bcrypt.dll). The algorithm provider is opened once and shared by
// every hash; each hash object holds a reference, so the provider is closed only after the last
// hash that was created from it.
#include <windows.h>
// windows.h first: bcrypt.h relies on its types.
#include <bcrypt.h>
// Failure is a negative NTSTATUS (what BCRYPT_SUCCESS tests, without its C cast).

#include <algorithm>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include "core/crypto/sha256.h"

namespace stockade::crypto {

namespace {

Error NtError(const std::string& what, NTSTATUS status) {
  return Error(ErrorCode::kCrypto, "SHA-256: " + what, OsErrorKind::kNtStatus,
               static_cast<std::int64_t>(static_cast<std::uint32_t>(status)));
}

// RAII for BCRYPT_ALG_HANDLE.
class Provider {
 public:
  explicit Provider(BCRYPT_ALG_HANDLE handle) : handle_(handle) {}
  Provider(const Provider&) = delete;
  Provider& operator=(const Provider&) = delete;
  ~Provider() { BCryptCloseAlgorithmProvider(handle_, 0); }
  BCRYPT_ALG_HANDLE get() const { return handle_; }

 private:
  BCRYPT_ALG_HANDLE handle_;
};

// Opening a provider costs far more than hashing a short message, so it is cached; a failed
// open is not cached, so a later call tries again.
Expected<std::shared_ptr<Provider>> SharedProvider() {
  static std::mutex mutex;
  static std::shared_ptr<Provider> cached;
  std::lock_guard lock(mutex);
  if (cached) return cached;
  BCRYPT_ALG_HANDLE handle = nullptr;
  NTSTATUS status = BCryptOpenAlgorithmProvider(&handle, BCRYPT_SHA256_ALGORITHM, nullptr, 0);
  if (status < 0) return NtError("BCryptOpenAlgorithmProvider(SHA256)", status);
  cached = std::make_shared<Provider>(handle);
  return cached;
}

}  // namespace

struct Sha256::State {
  std::shared_ptr<Provider> provider;  // declared first: destroyed after the hash handle
  BCRYPT_HASH_HANDLE hash = nullptr;
  bool finished = false;
  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    if (hash != nullptr) BCryptDestroyHash(hash);
  }
};

Sha256::Sha256(std::unique_ptr<State> state) : state_(std::move(state)) {}
Sha256::Sha256(Sha256&& other) noexcept = default;
Sha256& Sha256::operator=(Sha256&& other) noexcept = default;
Sha256::~Sha256() = default;

Expected<Sha256> Sha256::Create() {
  auto provider = SharedProvider();
  if (!provider.ok()) return provider.error();
  auto state = std::make_unique<State>();
  state->provider = *provider;
  // A null object buffer lets CNG allocate and free the hash object itself (Windows 7 and
  // later), which removes a buffer whose lifetime we would otherwise have to tie to the handle.
  NTSTATUS status =
      BCryptCreateHash(state->provider->get(), &state->hash, nullptr, 0, nullptr, 0, 0);
  if (status < 0) {
    state->hash = nullptr;
    return NtError("BCryptCreateHash", status);
  }
  return Sha256(std::move(state));
}

Status Sha256::Reset() {
  if (!state_) return Error(ErrorCode::kInternal, "SHA-256: Reset on a moved-from hash");
  // CNG hash objects restart only when created reusable (Windows 8 and later); a new object
  // from the cached provider works everywhere and is still far cheaper than Create().
  if (state_->hash != nullptr) {
    BCryptDestroyHash(state_->hash);
    state_->hash = nullptr;
  }
  NTSTATUS status =
      BCryptCreateHash(state_->provider->get(), &state_->hash, nullptr, 0, nullptr, 0, 0);
  if (status < 0) {
    state_->hash = nullptr;
    state_->finished = true;  // unusable until a Reset succeeds
    return NtError("BCryptCreateHash", status);
  }
  state_->finished = false;
  return OkStatus();
}

Status Sha256::Update(std::span<const std::uint8_t> data) {
  if (!state_ || state_->finished) {
    return Error(ErrorCode::kInternal, "SHA-256: Update after Final (or on a moved-from hash)");
  }
  // BCryptHashData takes a ULONG length (and a non-const pointer it does not write through).
  constexpr std::size_t kMaxChunk = 1u << 30;
  while (!data.empty()) {
    const std::size_t chunk = std::min(data.size(), kMaxChunk);
    NTSTATUS status =
        BCryptHashData(state_->hash, const_cast<PUCHAR>(data.data()), static_cast<ULONG>(chunk), 0);
    if (status < 0) return NtError("BCryptHashData", status);
    data = data.subspan(chunk);
  }
  return OkStatus();
}

Expected<Sha256Digest> Sha256::Final() {
  if (!state_ || state_->finished) {
    return Error(ErrorCode::kInternal, "SHA-256: Final called twice (or on a moved-from hash)");
  }
  state_->finished = true;
  Sha256Digest digest{};
  NTSTATUS status =
      BCryptFinishHash(state_->hash, digest.data(), static_cast<ULONG>(digest.size()), 0);
  if (status < 0) return NtError("BCryptFinishHash", status);
  return digest;
}

}  // namespace stockade::crypto
