// The helpers every Windows step's error messages and names go through.
#include <windows.h>
// windows.h first: lmerr.h relies on its types.
#include <lmerr.h>

#include "gtest/gtest.h"
#include "provision/win/handles.h"
#include "provision/win/win_util.h"
#include "tests/provision/win/win_steps_test_support.h"

namespace stockade::provision::win {
namespace {

TEST(WinUtil, Utf8AndUtf16RoundTrip) {
  const std::string text = "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92 C:\\x";
  const std::wstring wide = Wide(text);
  EXPECT_EQ(wide.size(), 13u);  // the lock is a surrogate pair
  EXPECT_EQ(wide[0], L'\x00e9');
  EXPECT_EQ(Utf8(wide), text);
  EXPECT_EQ(Utf8(static_cast<const wchar_t*>(nullptr)), "");
  EXPECT_EQ(Wide(""), L"");
}

TEST(WinUtil, ErrorsNameTheApiTheTargetAndTheSystemMessage) {
  const Error denied = Win32Error("DeleteFileW(C:\\x)", ERROR_ACCESS_DENIED);
  EXPECT_EQ(denied.code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(denied.os_kind(), OsErrorKind::kWin32);
  EXPECT_EQ(denied.os_error(), ERROR_ACCESS_DENIED);
  EXPECT_EQ(denied.context().rfind("DeleteFileW(C:\\x): ", 0), 0u) << denied.context();
  // FormatMessageW's text, not a placeholder.
  EXPECT_EQ(denied.context().find("error 0x"), std::string::npos) << denied.context();
  EXPECT_GT(denied.context().size(), std::string("DeleteFileW(C:\\x): ").size());
  EXPECT_NE(denied.ToString().find("win32 error 5"), std::string::npos);

  EXPECT_EQ(Win32Message(NERR_UserNotFound), "the user name could not be found");
  EXPECT_EQ(CodeForWin32(NERR_UserNotFound), ErrorCode::kNotFound);
  EXPECT_EQ(CodeForWin32(ERROR_NONE_MAPPED), ErrorCode::kNotFound);
  EXPECT_EQ(CodeForWin32(ERROR_SERVICE_EXISTS), ErrorCode::kAlreadyExists);
  EXPECT_EQ(CodeForWin32(ERROR_NOT_ALL_ASSIGNED), ErrorCode::kNotElevated);
  EXPECT_EQ(CodeForWin32(ERROR_CALL_NOT_IMPLEMENTED), ErrorCode::kUnsupported);
  EXPECT_EQ(CodeForWin32(ERROR_INVALID_LEVEL), ErrorCode::kOs);

  const Error com = HresultError("INetFwRules::Add('x')", E_NOTIMPL);
  EXPECT_EQ(com.code(), ErrorCode::kUnsupported);
  EXPECT_EQ(com.os_kind(), OsErrorKind::kHresult);
  EXPECT_NE(com.ToString().find("HRESULT 0x80004001"), std::string::npos) << com.ToString();
  EXPECT_EQ(HresultError("x", E_ACCESSDENIED).code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(HresultError("x", HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)).code(),
            ErrorCode::kNotFound);
}

TEST(WinUtil, WineDetectionAndTheRefusalOfUnimplementedApis) {
  const bool wine = GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "wine_get_version") != nullptr;
  EXPECT_EQ(RunningUnderWine(), wine);
  Status refused = RefuseWineUnimplemented("NetUserSetInfo", "u, level 1003");
  if (wine) {
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code(), ErrorCode::kUnsupported);
    EXPECT_EQ(refused.error().context().rfind("NetUserSetInfo(u, level 1003)", 0), 0u);
  } else {
    EXPECT_TRUE(refused.ok());
  }
}

TEST(WinUtil, NamesCompareLikeWindowsDoes) {
  EXPECT_TRUE(EqualsIgnoreCase("Stockade-Offline", "STOCKADE-offline"));
  EXPECT_TRUE(EqualsIgnoreCase("\xc3\x89T\xc3\x89", "\xc3\xa9t\xc3\xa9"));  // ÉTÉ / été
  EXPECT_FALSE(EqualsIgnoreCase("stockade", "stockade2"));
  EXPECT_TRUE(StartsWithIgnoreCase("Stockade stk-offline: x", "stockade STK-"));
  EXPECT_FALSE(StartsWithIgnoreCase("Stock", "Stockade"));
  auto computer = ComputerName();
  STOCKADE_ASSERT_OK(computer);
  EXPECT_FALSE(computer->empty());
  wchar_t env[MAX_COMPUTERNAME_LENGTH + 2];
  if (GetEnvironmentVariableW(L"COMPUTERNAME", env, MAX_COMPUTERNAME_LENGTH + 2) > 0) {
    EXPECT_TRUE(EqualsIgnoreCase(*computer, Utf8(env)));
  }
}

TEST(WinUtil, HexRoundTrip) {
  const std::vector<BYTE> bytes = {0x00, 0x7F, 0x80, 0xFF, 0x10};
  EXPECT_EQ(HexEncode(bytes), "007f80ff10");
  EXPECT_EQ(HexDecode("007F80ff10"), std::optional<std::vector<BYTE>>(bytes));
  EXPECT_EQ(HexDecode("0"), std::nullopt);
  EXPECT_EQ(HexDecode("zz"), std::nullopt);
}

TEST(WinHandles, SecretsAreWipedAndHandlesClosed) {
  std::string source = "Secret!Password1";
  SecretString secret(std::move(source));
  EXPECT_EQ(secret.value(), "Secret!Password1");
  SecretString moved(std::move(secret));
  EXPECT_EQ(moved.value(), "Secret!Password1");
  EXPECT_TRUE(secret.value().empty());
  std::string wiped = "abcdefgh";
  WipeString(wiped);
  EXPECT_TRUE(wiped.empty());

  HANDLE raw = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  ASSERT_NE(raw, nullptr);
  {
    UniqueHandle owned(raw);
    EXPECT_TRUE(owned.valid());
    DWORD flags = 0;
    EXPECT_TRUE(GetHandleInformation(raw, &flags));
  }
  DWORD flags = 0;
  EXPECT_FALSE(GetHandleInformation(raw, &flags)) << "the handle must be closed";
  UniqueHandle invalid(INVALID_HANDLE_VALUE);
  EXPECT_FALSE(invalid.valid());
}

TEST(WinHandles, ComInitialisesAndBalances) {
  {
    auto com = ComInit::Initialize(COINIT_MULTITHREADED);
    STOCKADE_ASSERT_OK(com);
    auto again = ComInit::Initialize(COINIT_MULTITHREADED);  // nested: S_FALSE, balanced too
    STOCKADE_ASSERT_OK(again);
    auto other_model = ComInit::Initialize(COINIT_APARTMENTTHREADED);  // RPC_E_CHANGED_MODE
    STOCKADE_ASSERT_OK(other_model);
  }
  Bstr text(std::wstring(L"abc"));
  EXPECT_EQ(text.wstr(), L"abc");
  EXPECT_EQ(SysStringLen(text.get()), 3u);
}

}  // namespace
}  // namespace stockade::provision::win
