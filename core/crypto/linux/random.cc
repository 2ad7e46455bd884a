// CSPRNG on Linux: getrandom(2), the kernel's ChaCha20-based generator. Flags 0: read the
// urandom source, blocking only until it was seeded once after boot (never afterwards).
#include "core/crypto/random.h"

#include <sys/random.h>

#include <cerrno>

namespace stockade::crypto {

Status RandomBytes(std::span<std::uint8_t> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    // getrandom returns at most 32 MiB - 1 per call and may return fewer bytes than asked (a
    // signal during a large request): loop until the span is full.
    ssize_t got = getrandom(out.data() + done, out.size() - done, 0);
    if (got < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      return ErrnoError(ErrorCode::kCrypto,
                        "getrandom(" + std::to_string(out.size() - done) + " bytes)", err);
    }
    done += static_cast<std::size_t>(got);
  }
  return OkStatus();
}

}  // namespace stockade::crypto
