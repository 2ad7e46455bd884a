// SHA-256 from the operating system's cryptographic library: OpenSSL's libcrypto (EVP) on
// Linux, CNG (BCrypt) on Windows. No home-grown implementation: these are the validated,
// hardware-accelerated ones. Used for the audit store's hash chain and the policy hash.
#ifndef STOCKADE_CORE_CRYPTO_SHA256_H_
#define STOCKADE_CORE_CRYPTO_SHA256_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/error.h"

namespace stockade::crypto {

inline constexpr std::size_t kSha256Size = 32;
using Sha256Digest = std::array<std::uint8_t, kSha256Size>;

// An incremental SHA-256: Update() any number of times, then Final() once. Feeding a message in
// pieces gives the same digest as feeding it whole. Movable, not copyable; owns the OS hash
// object (EVP_MD_CTX / BCRYPT_HASH_HANDLE) and frees it on destruction.
class Sha256 {
 public:
  // Errors: kCrypto when the OS library cannot create a hash object (the context names the
  // call and the library's error).
  static Expected<Sha256> Create();

  Sha256(Sha256&& other) noexcept;
  Sha256& operator=(Sha256&& other) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  ~Sha256();

  // Adds bytes to the message. Errors: kCrypto from the library; kInternal after Final().
  Status Update(std::span<const std::uint8_t> data);
  Status Update(std::string_view data);

  // Finishes and returns the digest. Contract: called once; afterwards Update() and Final()
  // fail with kInternal (until Reset()).
  Expected<Sha256Digest> Final();

  // Starts a new message on the same object, as if just created (also after Final()). Hashing
  // many short messages (the audit hash chain) this way spares creating an OS hash object per
  // message, which costs more than hashing a few hundred bytes. Errors: kCrypto; kInternal on
  // a moved-from hash.
  Status Reset();

  struct State;  // per OS: defined in core/crypto/<os>/sha256.cc

 private:
  explicit Sha256(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// The digest of `data` in one call.
Expected<Sha256Digest> Sha256Of(std::string_view data);

// The digest of `data` as 64 lower-case hex digits. The OS libraries cannot fail to hash short
// of a broken installation or memory exhaustion; rather than return a wrong digest into a hash
// chain, such a failure is written to stderr and the process aborts. Use Sha256Of() to handle
// it instead.
std::string Sha256Hex(std::string_view data);

// Lower-case hex of `bytes`, two digits per byte.
std::string HexEncode(std::span<const std::uint8_t> bytes);

}  // namespace stockade::crypto

#endif  // STOCKADE_CORE_CRYPTO_SHA256_H_
