// Statistical sanity checks of the OS CSPRNG and of the unbiased helpers on top of it. The
// thresholds are many standard deviations wide, so a working generator never fails them, while
// a stuck, zero-filled or modulo-biased one fails by orders of magnitude.
#include "core/crypto/random.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace stockade::crypto {
namespace {

double OnesFraction(std::span<const std::uint8_t> bytes) {
  std::uint64_t ones = 0;
  for (std::uint8_t b : bytes) ones += static_cast<std::uint64_t>(std::popcount(b));
  return static_cast<double>(ones) / (8.0 * static_cast<double>(bytes.size()));
}

// Pearson's chi-square statistic of `counts` against a uniform expectation.
double ChiSquareUniform(const std::vector<std::uint64_t>& counts) {
  std::uint64_t total = 0;
  for (auto c : counts) total += c;
  const double expected = static_cast<double>(total) / static_cast<double>(counts.size());
  double chi = 0;
  for (auto c : counts) {
    const double d = static_cast<double>(c) - expected;
    chi += d * d / expected;
  }
  return chi;
}

TEST(RandomBytes, SuccessiveOutputsDiffer) {
  std::array<std::uint8_t, 32> a{}, b{};
  ASSERT_TRUE(RandomBytes(a).ok());
  ASSERT_TRUE(RandomBytes(b).ok());
  EXPECT_NE(a, b);
  EXPECT_NE(a, (std::array<std::uint8_t, 32>{}));
  std::set<std::array<std::uint8_t, 16>> seen;
  for (int i = 0; i < 1000; ++i) {
    std::array<std::uint8_t, 16> x{};
    ASSERT_TRUE(RandomBytes(x).ok());
    seen.insert(x);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(RandomBytes, OneMebibyteIsBitBalanced) {
  std::vector<std::uint8_t> data(1 << 20);
  ASSERT_TRUE(RandomBytes(data).ok());
  // 8 Mi bits: one standard deviation of the fraction is 0.00017; the window is ~58 of them.
  const double fraction = OnesFraction(data);
  EXPECT_GT(fraction, 0.49);
  EXPECT_LT(fraction, 0.51);
}

TEST(RandomBytes, ByteValuesPassChiSquare) {
  std::vector<std::uint8_t> data(1 << 20);
  ASSERT_TRUE(RandomBytes(data).ok());
  std::vector<std::uint64_t> counts(256);
  for (std::uint8_t b : data) ++counts[b];
  // 255 degrees of freedom: mean 255, sd 22.6; 400 is 6.4 sd (p ~ 1e-9).
  EXPECT_LT(ChiSquareUniform(counts), 400.0);
}

TEST(RandomBytes, FillsARequestLargerThanOneOsCall) {
  // getrandom(2) returns at most 32 MiB - 1 bytes per call: 40 MiB needs the loop to continue.
  std::vector<std::uint8_t> data(40u << 20, 0);
  ASSERT_TRUE(RandomBytes(data).ok());
  const std::span<const std::uint8_t> tail(data.data() + data.size() - (1 << 20), 1 << 20);
  const double fraction = OnesFraction(tail);
  EXPECT_GT(fraction, 0.49);
  EXPECT_LT(fraction, 0.51);
  EXPECT_GT(OnesFraction(std::span<const std::uint8_t>(data.data() + (32u << 20), 4096)), 0.4);
}

TEST(RandomBytes, EmptySpanIsFine) { EXPECT_TRUE(RandomBytes({}).ok()); }

TEST(RandomUniform, CoversTheRangeUniformly) {
  constexpr std::uint32_t kBound = 200;
  std::vector<std::uint64_t> counts(kBound);
  for (int i = 0; i < 200000; ++i) {
    auto v = RandomUniform(kBound);
    ASSERT_TRUE(v.ok());
    ASSERT_LT(*v, kBound);
    ++counts[*v];
  }
  // 199 degrees of freedom: mean 199, sd 20; 330 is 6.5 sd.
  EXPECT_LT(ChiSquareUniform(counts), 330.0);
  EXPECT_EQ(*RandomUniform(1), 0u);
  EXPECT_EQ(RandomUniform(0).error().code(), ErrorCode::kInvalidArgument);
}

TEST(RandomHex, HasTheLengthAndAlphabet) {
  auto a = RandomHex(16);
  auto b = RandomHex(16);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_EQ(a->find_first_not_of("0123456789abcdef"), std::string::npos) << *a;
  EXPECT_NE(*a, *b);
  EXPECT_EQ(*RandomHex(0), "");
}

enum class Class { kUpper, kLower, kDigit, kSymbol, kOther };

Class ClassOf(char c) {
  if (c >= 'A' && c <= 'Z') return Class::kUpper;
  if (c >= 'a' && c <= 'z') return Class::kLower;
  if (c >= '0' && c <= '9') return Class::kDigit;
  if (kPasswordSymbols.find(c) != std::string_view::npos) return Class::kSymbol;
  return Class::kOther;
}

TEST(RandomPassword, EveryPasswordHoldsEveryClass) {
  for (std::size_t length :
       {std::size_t{4}, std::size_t{5}, std::size_t{16}, std::size_t{32}, kMaxPasswordLength}) {
    for (int i = 0; i < 200; ++i) {
      auto password = RandomPassword(length);
      ASSERT_TRUE(password.ok()) << password.error().ToString();
      ASSERT_EQ(password->size(), length);
      std::set<Class> classes;
      for (char c : *password) classes.insert(ClassOf(c));
      EXPECT_EQ(classes,
                (std::set<Class>{Class::kUpper, Class::kLower, Class::kDigit, Class::kSymbol}))
          << *password;
    }
  }
  EXPECT_NE(*RandomPassword(24), *RandomPassword(24));
}

TEST(RandomPassword, LengthOutsideTheLimitsIsRefused) {
  EXPECT_EQ(RandomPassword(3).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(RandomPassword(0).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(RandomPassword(kMaxPasswordLength + 1).error().code(), ErrorCode::kInvalidArgument);
}

TEST(RandomPassword, CharactersAreUniformWithinEachClass) {
  // Within a class every character must be equally likely. Folding out-of-range random bytes
  // back with a modulo (b % 88 for every byte) would make the first 80 alphabet positions 1.5
  // times as likely as the last 8 (the symbols '@' to '~' of kPasswordSymbols) and push the
  // symbol statistic into the thousands.
  std::map<char, std::uint64_t> counts;
  for (int i = 0; i < 20000; ++i) {
    auto password = RandomPassword(16);
    ASSERT_TRUE(password.ok());
    for (char c : *password) ++counts[c];
  }
  std::map<Class, std::vector<std::uint64_t>> per_class;
  for (char c = 'A'; c <= 'Z'; ++c) per_class[Class::kUpper].push_back(counts[c]);
  for (char c = 'a'; c <= 'z'; ++c) per_class[Class::kLower].push_back(counts[c]);
  for (char c = '0'; c <= '9'; ++c) per_class[Class::kDigit].push_back(counts[c]);
  for (char c : kPasswordSymbols) per_class[Class::kSymbol].push_back(counts[c]);
  std::uint64_t in_alphabet = 0;
  for (const auto& [cls, v] : per_class) {
    for (auto n : v) in_alphabet += n;
  }
  EXPECT_EQ(in_alphabet, 20000u * 16u);  // nothing outside the alphabet
  // 25 degrees of freedom (9 for digits): thresholds are about 8 sd above the mean.
  EXPECT_LT(ChiSquareUniform(per_class[Class::kUpper]), 85.0);
  EXPECT_LT(ChiSquareUniform(per_class[Class::kLower]), 85.0);
  EXPECT_LT(ChiSquareUniform(per_class[Class::kSymbol]), 85.0);
  EXPECT_LT(ChiSquareUniform(per_class[Class::kDigit]), 45.0);
}

}  // namespace
}  // namespace stockade::crypto
