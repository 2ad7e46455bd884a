// Portable parts of the CSPRNG: unbiased integers, hex and passwords on top of RandomBytes(),
// which each OS implements in <os>/random.cc.
#include "core/crypto/random.h"

#include <array>

#include "core/crypto/sha256.h"

namespace stockade::crypto {

namespace {

constexpr std::string_view kUpper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
constexpr std::string_view kLower = "abcdefghijklmnopqrstuvwxyz";
constexpr std::string_view kDigits = "0123456789";

constexpr std::size_t kAlphabetSize =
    kUpper.size() + kLower.size() + kDigits.size() + kPasswordSymbols.size();
static_assert(kAlphabetSize == 88 && kAlphabetSize <= 256);

constexpr std::array<char, kAlphabetSize> MakeAlphabet() {
  std::array<char, kAlphabetSize> out{};
  std::size_t i = 0;
  for (std::string_view part : {kUpper, kLower, kDigits, kPasswordSymbols}) {
    for (char c : part) out[i++] = c;
  }
  return out;
}
constexpr std::array<char, kAlphabetSize> kAlphabet = MakeAlphabet();

// A byte b is accepted when b < kByteLimit, the largest multiple of the alphabet size that fits
// in a byte (176 = 2 * 88); b % 88 is then uniform. Bytes at or above it are dropped instead of
// folded back, which is what would bias the low characters.
constexpr unsigned kByteLimit = 256 - 256 % kAlphabetSize;

// Passwords that miss a class are redrawn; with 4 characters about 7 % of draws hold all four
// classes, so 1000 attempts fail with probability below 1e-30. The cap only guards a broken RNG.
constexpr int kMaxAttempts = 1000;

// Overwrites a buffer that held password material in a way the optimiser may not drop.
void Wipe(std::span<std::uint8_t> bytes) {
  volatile std::uint8_t* p = bytes.data();
  for (std::size_t i = 0; i < bytes.size(); ++i) p[i] = 0;
}

bool HasEveryClass(std::string_view password) {
  bool upper = false, lower = false, digit = false, symbol = false;
  for (char c : password) {
    if (kUpper.find(c) != std::string_view::npos)
      upper = true;
    else if (kLower.find(c) != std::string_view::npos)
      lower = true;
    else if (kDigits.find(c) != std::string_view::npos)
      digit = true;
    else
      symbol = true;
  }
  return upper && lower && digit && symbol;
}

}  // namespace

Expected<std::uint32_t> RandomUniform(std::uint32_t bound) {
  if (bound == 0) return Error(ErrorCode::kInvalidArgument, "RandomUniform: bound is 0");
  // 2^32 mod bound, computed in 32 bits: values below it would be over-represented.
  const std::uint32_t threshold = static_cast<std::uint32_t>(-bound) % bound;
  while (true) {
    std::array<std::uint8_t, 4> bytes{};
    STOCKADE_RETURN_IF_ERROR(RandomBytes(bytes));
    const std::uint32_t value =
        static_cast<std::uint32_t>(bytes[0]) | static_cast<std::uint32_t>(bytes[1]) << 8 |
        static_cast<std::uint32_t>(bytes[2]) << 16 | static_cast<std::uint32_t>(bytes[3]) << 24;
    // Accepting value >= threshold leaves 2^32 - threshold values, a multiple of bound.
    if (value >= threshold) return value % bound;
  }
}

Expected<std::string> RandomHex(std::size_t bytes) {
  std::string buffer(bytes, '\0');
  std::span<std::uint8_t> span(reinterpret_cast<std::uint8_t*>(buffer.data()), buffer.size());
  STOCKADE_RETURN_IF_ERROR(RandomBytes(span));
  return HexEncode(span);
}

Expected<std::string> RandomPassword(std::size_t length) {
  if (length < kMinPasswordLength || length > kMaxPasswordLength) {
    return Error(ErrorCode::kInvalidArgument, "RandomPassword: length " + std::to_string(length) +
                                                  " is outside [" +
                                                  std::to_string(kMinPasswordLength) + ", " +
                                                  std::to_string(kMaxPasswordLength) + "]");
  }
  std::array<std::uint8_t, 128> pool{};
  std::string password;
  password.reserve(length);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    Wipe({reinterpret_cast<std::uint8_t*>(password.data()), password.size()});
    password.clear();
    while (password.size() < length) {
      Status status = RandomBytes(pool);
      if (!status.ok()) {
        Wipe(pool);
        return status.error().Wrap("RandomPassword");
      }
      for (std::uint8_t b : pool) {
        if (b >= kByteLimit) continue;
        password.push_back(kAlphabet[b % kAlphabetSize]);
        if (password.size() == length) break;
      }
    }
    if (HasEveryClass(password)) {
      Wipe(pool);
      return password;
    }
  }
  Wipe(pool);
  return Error(ErrorCode::kInternal, "RandomPassword: no password with every character class in " +
                                         std::to_string(kMaxAttempts) +
                                         " draws; the random source is not random");
}

}  // namespace stockade::crypto
