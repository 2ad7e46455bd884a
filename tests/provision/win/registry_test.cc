// HKLM registry snapshots: capture, change, restore exactly. The registry is real under Wine (and
// persistent in the prefix), so these run for real on both.
#include "provision/win/registry.h"

#include <windows.h>

#include <cstring>

#include "gtest/gtest.h"
#include "tests/provision/win/win_steps_test_support.h"

namespace stockade::provision::win {
namespace {

// A unique key under HKLM\SOFTWARE, deleted with everything below it at the end.
class ScratchKey {
 public:
  ScratchKey() : root_("SOFTWARE\\StockadeTest-" + testing::UniqueName("")) {}
  ~ScratchKey() { RegDeleteTreeW(HKEY_LOCAL_MACHINE, Wide(root_).c_str()); }
  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

RegValue Binary(std::initializer_list<BYTE> bytes, DWORD type = REG_BINARY) {
  return RegValue{type, std::vector<BYTE>(bytes)};
}

TEST(WinRegistry, SnapshotOfAMissingPathRestoresToNothing) {
  if (!testing::Elevated()) GTEST_SKIP() << "HKLM writes need an elevated token";
  ScratchKey scratch;
  const std::string key = scratch.root() + "\\a\\b";
  auto snapshot = CaptureRegValue(key, "v");
  ASSERT_TRUE(snapshot.ok()) << snapshot.error().ToString();
  EXPECT_FALSE(snapshot->previous.has_value());
  ASSERT_EQ(snapshot->missing_keys.size(), 3u);
  EXPECT_EQ(snapshot->missing_keys[0], scratch.root());
  EXPECT_EQ(snapshot->missing_keys[2], key);

  STOCKADE_ASSERT_OK(WriteRegDword(key, "v", 7));
  auto written = ReadRegValue(key, "v");
  ASSERT_TRUE(written.ok() && written->has_value());
  EXPECT_EQ((*written)->type, static_cast<DWORD>(REG_DWORD));
  DWORD data = 0;
  std::memcpy(&data, (*written)->data.data(), sizeof data);
  EXPECT_EQ(data, 7u);
  auto difference = DescribeRegDifference(*snapshot);
  STOCKADE_ASSERT_OK(difference);
  EXPECT_NE(difference->find("exists, expected absent"), std::string::npos) << *difference;

  STOCKADE_ASSERT_OK(RestoreRegValue(*snapshot));
  auto exists = RegKeyExists(scratch.root());
  STOCKADE_ASSERT_OK(exists);
  EXPECT_FALSE(*exists) << "the keys created for the value must be gone";
  difference = DescribeRegDifference(*snapshot);
  STOCKADE_ASSERT_OK(difference);
  EXPECT_EQ(*difference, "");
  // Idempotent: a second restore finds nothing to do and still verifies.
  STOCKADE_ASSERT_OK(RestoreRegValue(*snapshot));
  EXPECT_EQ(*DescribeRegDifference(*snapshot), "");
}

TEST(WinRegistry, PreviousValueComesBackWithTypeAndBytes) {
  if (!testing::Elevated()) GTEST_SKIP() << "HKLM writes need an elevated token";
  ScratchKey scratch;
  // Odd length, embedded zeros, REG_EXPAND_SZ-typed bytes that are not a terminated string:
  // only an exact byte copy restores this.
  const RegValue previous = Binary({0x41, 0x00, 0x00, 0x42, 0xFF}, REG_EXPAND_SZ);
  STOCKADE_ASSERT_OK(WriteRegValue(scratch.root(), "v", previous));
  auto snapshot = CaptureRegValue(scratch.root(), "v");
  STOCKADE_ASSERT_OK(snapshot);
  EXPECT_TRUE(snapshot->missing_keys.empty());
  ASSERT_TRUE(snapshot->previous.has_value());
  EXPECT_EQ(*snapshot->previous, previous);

  STOCKADE_ASSERT_OK(WriteRegString(scratch.root(), "v", "changed"));
  STOCKADE_ASSERT_OK(RestoreRegValue(*snapshot));
  auto restored = ReadRegValue(scratch.root(), "v");
  ASSERT_TRUE(restored.ok() && restored->has_value());
  EXPECT_EQ(**restored, previous);
  EXPECT_EQ(*DescribeRegDifference(*snapshot), "");
}

TEST(WinRegistry, CreatedKeyThatGainedOtherValuesIsKept) {
  if (!testing::Elevated()) GTEST_SKIP() << "HKLM writes need an elevated token";
  ScratchKey scratch;
  auto snapshot = CaptureRegValue(scratch.root(), "ours");
  STOCKADE_ASSERT_OK(snapshot);
  ASSERT_EQ(snapshot->missing_keys.size(), 1u);
  STOCKADE_ASSERT_OK(WriteRegDword(scratch.root(), "ours", 1));
  STOCKADE_ASSERT_OK(WriteRegDword(scratch.root(), "someone-else", 2));
  STOCKADE_ASSERT_OK(RestoreRegValue(*snapshot));
  auto ours = ReadRegValue(scratch.root(), "ours");
  auto theirs = ReadRegValue(scratch.root(), "someone-else");
  ASSERT_TRUE(ours.ok() && theirs.ok());
  EXPECT_FALSE(ours->has_value());
  EXPECT_TRUE(theirs->has_value()) << "another writer's value must survive our undo";
  EXPECT_EQ(*DescribeRegDifference(*snapshot), "");
  auto names = RegValueNames(scratch.root());
  STOCKADE_ASSERT_OK(names);
  EXPECT_EQ(*names, std::vector<std::string>{"someone-else"});
}

TEST(WinRegistry, EmptyCreatedKeyLeftBehindIsReported) {
  if (!testing::Elevated()) GTEST_SKIP() << "HKLM writes need an elevated token";
  ScratchKey scratch;
  auto snapshot = CaptureRegValue(scratch.root(), "v");
  STOCKADE_ASSERT_OK(snapshot);
  STOCKADE_ASSERT_OK(WriteRegDword(scratch.root(), "v", 1));
  HKEY key = nullptr;
  ASSERT_EQ(RegOpenKeyExW(HKEY_LOCAL_MACHINE, Wide(scratch.root()).c_str(), 0,
                          KEY_SET_VALUE | KEY_WOW64_64KEY, &key),
            ERROR_SUCCESS);
  RegDeleteValueW(key, L"v");
  RegCloseKey(key);
  auto difference = DescribeRegDifference(*snapshot);
  STOCKADE_ASSERT_OK(difference);
  EXPECT_NE(difference->find("still there (empty)"), std::string::npos) << *difference;
}

TEST(WinRegistry, SnapshotJsonRoundTripAndCorruption) {
  RegValueSnapshot snapshot;
  snapshot.key = "SOFTWARE\\X";
  snapshot.value = "v";
  snapshot.missing_keys = {"SOFTWARE\\X"};
  snapshot.previous = Binary({0x00, 0x10, 0xAB});
  auto back = RegValueSnapshot::FromJson(snapshot.ToJson());
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(back->key, snapshot.key);
  EXPECT_EQ(back->missing_keys, snapshot.missing_keys);
  ASSERT_TRUE(back->previous.has_value());
  EXPECT_EQ(*back->previous, *snapshot.previous);
  EXPECT_EQ(snapshot.ToJson()["previous"]["data"], "0010ab");

  nlohmann::json bad = snapshot.ToJson();
  bad["previous"]["data"] = "xyz";
  auto corrupt = RegValueSnapshot::FromJson(bad);
  ASSERT_FALSE(corrupt.ok());
  EXPECT_EQ(corrupt.error().code(), ErrorCode::kStateCorrupt);
  EXPECT_NE(corrupt.error().context().find("previous.data"), std::string::npos);
  bad = snapshot.ToJson();
  bad.erase("missing_keys");
  EXPECT_FALSE(RegValueSnapshot::FromJson(bad).ok());
}

TEST(WinRegistry, RegStringValueIsWhatRegSetValueStores) {
  const RegValue value = RegStringValue("S-1-5-21-1-2-3-4");
  EXPECT_EQ(value.type, static_cast<DWORD>(REG_SZ));
  EXPECT_EQ(value.data.size(), (16 + 1) * sizeof(wchar_t));
  EXPECT_EQ(RegValueText(value), std::optional<std::string>("S-1-5-21-1-2-3-4"));
  EXPECT_EQ(RegValueText(Binary({1, 2})), std::nullopt);
}

}  // namespace
}  // namespace stockade::provision::win
