// Cryptographically secure random bytes from the operating system: getrandom(2) on Linux,
// BCryptGenRandom (system-preferred RNG) on Windows. Never a seeded PRNG: these feed account
// passwords and the synthetic write SID, which an attacker must not be able to predict.
#ifndef STOCKADE_CORE_CRYPTO_RANDOM_H_
#define STOCKADE_CORE_CRYPTO_RANDOM_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/error.h"

namespace stockade::crypto {

// Fills `out` entirely with random bytes (any size; the OS call's per-call limits, EINTR and
// short reads are handled inside). Errors: kCrypto with the OS error (errno / NTSTATUS).
Status RandomBytes(std::span<std::uint8_t> out);

// A uniformly distributed integer in [0, bound), by rejection sampling (no modulo bias).
// Errors: kInvalidArgument when bound is 0; kCrypto from RandomBytes.
Expected<std::uint32_t> RandomUniform(std::uint32_t bound);

// `bytes` random bytes as 2*bytes lower-case hex digits (e.g. unique names, tokens).
Expected<std::string> RandomHex(std::size_t bytes);

// The symbols RandomPassword draws from: Windows counts any non-alphanumeric character as a
// "special character"; quotes, backslash, backtick, space and comma are left out so a password
// survives being pasted into a shell, a CSV file or `net user` unchanged.
inline constexpr std::string_view kPasswordSymbols = "!#$%&()*+-./:;<=>?@[]^_{}~";

// Minimum and maximum lengths accepted by RandomPassword (Windows' limit is 256 characters).
inline constexpr std::size_t kMinPasswordLength = 4;
inline constexpr std::size_t kMaxPasswordLength = 256;

// A password of `length` characters that meets Windows' complexity rules with margin: it holds
// at least one upper-case letter, one lower-case letter, one digit and one symbol. Each
// character is drawn uniformly from the 88-character alphabet (A-Z a-z 0-9 kPasswordSymbols) by
// rejection sampling, and a whole password that misses a class is drawn again, so the result is
// uniform over all passwords of that length that hold every class (no position or class bias).
// Errors: kInvalidArgument for a length outside [kMinPasswordLength, kMaxPasswordLength];
// kCrypto from RandomBytes.
Expected<std::string> RandomPassword(std::size_t length);

}  // namespace stockade::crypto

#endif  // STOCKADE_CORE_CRYPTO_RANDOM_H_
