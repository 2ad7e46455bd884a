// CSPRNG on Windows: BCryptGenRandom with the system-preferred RNG (the kernel's AES-CTR DRBG
// that also feeds RtlGenRandom), no algorithm handle to manage.
#include <windows.h>
// windows.h first: bcrypt.h relies on its types.
#include <bcrypt.h>
// Failure is a negative NTSTATUS (what BCRYPT_SUCCESS tests, without its C cast).

#include <algorithm>

#include "core/crypto/random.h"

namespace stockade::crypto {

Status RandomBytes(std::span<std::uint8_t> out) {
  // The length is a ULONG: split larger requests.
  constexpr std::size_t kMaxChunk = 1u << 30;
  while (!out.empty()) {
    const std::size_t chunk = std::min(out.size(), kMaxChunk);
    NTSTATUS status = BCryptGenRandom(nullptr, out.data(), static_cast<ULONG>(chunk),
                                      BCRYPT_USE_SYSTEM_PREFERRED_RNG);
    if (status < 0) {
      return Error(ErrorCode::kCrypto,
                   "BCryptGenRandom(" + std::to_string(chunk) + " bytes, system-preferred RNG)",
                   OsErrorKind::kNtStatus,
                   static_cast<std::int64_t>(static_cast<std::uint32_t>(status)));
    }
    out = out.subspan(chunk);
  }
  return OkStatus();
}

}  // namespace stockade::crypto
