// Portable parts of SHA-256: one-shot helpers and hex. The hash itself is in <os>/sha256.cc.
#include "core/crypto/sha256.h"

#include <cstdio>
#include <cstdlib>

namespace stockade::crypto {

Status Sha256::Update(std::string_view data) {
  return Update(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(data.data()),
                                              data.size()));
}

Expected<Sha256Digest> Sha256Of(std::string_view data) {
  auto hash = Sha256::Create();
  if (!hash.ok()) return hash.error();
  STOCKADE_RETURN_IF_ERROR(hash->Update(data));
  return hash->Final();
}

std::string Sha256Hex(std::string_view data) {
  auto digest = Sha256Of(data);
  if (!digest.ok()) {
    // See the header: a wrong or empty digest would poison a hash chain silently.
    std::fprintf(stderr, "stockade: fatal: SHA-256 failed: %s\n",
                 digest.error().ToString().c_str());
    std::abort();
  }
  return HexEncode(*digest);
}

std::string HexEncode(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0x0F];
  }
  return out;
}

}  // namespace stockade::crypto
