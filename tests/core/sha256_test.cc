// SHA-256 against the published FIPS 180-2 / NIST CAVS example vectors, and incremental
// hashing against one-shot hashing over random split points.
#include "core/crypto/sha256.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/crypto/random.h"

namespace stockade::crypto {
namespace {

struct Vector {
  std::string message;
  const char* digest;
};

// FIPS 180-2 appendix B and the NIST "SHA-256 example" vectors.
std::vector<Vector> Published() {
  return {
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",  // 448 bits
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlm"
       "nopqrsmnopqrstnopqrstu",  // 896 bits
       "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
      {std::string(1000000, 'a'),
       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
  };
}

TEST(Sha256, PublishedVectorsOneShot) {
  for (const auto& v : Published()) {
    EXPECT_EQ(Sha256Hex(v.message), v.digest) << "message of " << v.message.size() << " bytes";
    auto digest = Sha256Of(v.message);
    ASSERT_TRUE(digest.ok()) << digest.error().ToString();
    EXPECT_EQ(HexEncode(*digest), v.digest);
  }
}

TEST(Sha256, OneMillionAInThousandByteUpdates) {
  auto hash = Sha256::Create();
  ASSERT_TRUE(hash.ok()) << hash.error().ToString();
  const std::string chunk(1000, 'a');
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(hash->Update(chunk).ok());
  auto digest = hash->Final();
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(HexEncode(*digest), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, PublishedVectorsByteByByte) {
  for (const auto& v : Published()) {
    if (v.message.size() > 1000) continue;
    auto hash = Sha256::Create();
    ASSERT_TRUE(hash.ok());
    for (char c : v.message) ASSERT_TRUE(hash->Update(std::string_view(&c, 1)).ok());
    auto digest = hash->Final();
    ASSERT_TRUE(digest.ok());
    EXPECT_EQ(HexEncode(*digest), v.digest);
  }
}

TEST(Sha256, IncrementalEqualsOneShotAtRandomSplitPoints) {
  std::vector<std::uint8_t> data(100003);
  ASSERT_TRUE(RandomBytes(data).ok());
  const std::string_view whole(reinterpret_cast<const char*>(data.data()), data.size());
  const std::string expected = Sha256Hex(whole);
  for (int trial = 0; trial < 50; ++trial) {
    auto hash = Sha256::Create();
    ASSERT_TRUE(hash.ok());
    std::size_t offset = 0;
    int pieces = 0;
    while (offset < data.size()) {
      // Pieces from 0 bytes (an empty update must change nothing) to about two SHA-256 blocks
      // and, now and then, a large one.
      auto pick = RandomUniform(trial % 5 == 0 ? 20000 : 130);
      ASSERT_TRUE(pick.ok());
      const std::size_t size = std::min<std::size_t>(*pick, data.size() - offset);
      ASSERT_TRUE(hash->Update(std::span<const std::uint8_t>(data).subspan(offset, size)).ok());
      offset += size;
      ++pieces;
    }
    auto digest = hash->Final();
    ASSERT_TRUE(digest.ok());
    EXPECT_EQ(HexEncode(*digest), expected) << "trial " << trial << ", " << pieces << " pieces";
  }
  // A one-bit change in the input changes the digest.
  data[data.size() / 2] ^= 0x01;
  EXPECT_NE(Sha256Hex(whole), expected);
}

TEST(Sha256, MovedHashContinues) {
  auto hash = Sha256::Create();
  ASSERT_TRUE(hash.ok());
  ASSERT_TRUE(hash->Update("ab").ok());
  Sha256 moved = std::move(*hash);
  ASSERT_TRUE(moved.Update("c").ok());
  auto digest = moved.Final();
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(HexEncode(*digest), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hash->Update("x").error().code(), ErrorCode::kInternal);
}

TEST(Sha256, UseAfterFinalIsRefused) {
  auto hash = Sha256::Create();
  ASSERT_TRUE(hash.ok());
  ASSERT_TRUE(hash->Final().ok());
  Status update = hash->Update("more");
  ASSERT_FALSE(update.ok());
  EXPECT_EQ(update.error().code(), ErrorCode::kInternal);
  auto again = hash->Final();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), ErrorCode::kInternal);
}

TEST(Hex, EncodesEveryByteLowerCase) {
  const std::uint8_t bytes[] = {0x00, 0x01, 0x7F, 0x80, 0xAB, 0xFF};
  EXPECT_EQ(HexEncode(bytes), "00017f80abff");
  EXPECT_EQ(HexEncode(std::span<const std::uint8_t>()), "");
  std::vector<std::uint8_t> all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<std::uint8_t>(i);
  const std::string hex = HexEncode(all);
  ASSERT_EQ(hex.size(), 512u);
  EXPECT_EQ(hex.substr(0, 8), "00010203");
  EXPECT_EQ(hex.substr(2 * 0x9F, 4), "9fa0");
  EXPECT_EQ(hex.substr(508), "feff");
}

}  // namespace
}  // namespace stockade::crypto
