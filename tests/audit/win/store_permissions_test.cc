// The store's files as Windows reports them (GetNamedSecurityInfoW): a protected DACL granting
// SYSTEM and Administrators only. Under Wine, which keeps DACLs only where the file system
// stores its extended attributes, a read-back that differs is reported as a skip.
#include <aclapi.h>  // includes windows.h, which sddl.h needs
#include <gtest/gtest.h>
#include <sddl.h>
#include <windows.h>

#include <filesystem>
#include <random>
#include <string>

#include "audit/store.h"
#include "tests/audit/audit_test_support.h"

namespace stockade::audit {
namespace {

bool RunningUnderWine() {
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  return ntdll != nullptr && GetProcAddress(ntdll, "wine_get_version") != nullptr;
}

struct DaclFacts {
  bool protected_dacl = false;
  std::vector<std::string> sids;  // of the allow ACEs
  std::vector<ACCESS_MASK> masks;
};

DaclFacts ReadDacl(const std::filesystem::path& p) {
  DaclFacts facts;
  PSECURITY_DESCRIPTOR sd = nullptr;
  PACL dacl = nullptr;
  const DWORD rc =
      GetNamedSecurityInfoW(p.wstring().c_str(), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, nullptr,
                            nullptr, &dacl, nullptr, &sd);
  EXPECT_EQ(rc, static_cast<DWORD>(ERROR_SUCCESS)) << p;
  if (rc != ERROR_SUCCESS) return facts;
  SECURITY_DESCRIPTOR_CONTROL control = 0;
  DWORD revision = 0;
  GetSecurityDescriptorControl(sd, &control, &revision);
  facts.protected_dacl = (control & SE_DACL_PROTECTED) != 0;
  for (DWORD i = 0; dacl != nullptr && i < dacl->AceCount; ++i) {
    void* ace = nullptr;
    if (!GetAce(dacl, i, &ace)) continue;
    auto* header = static_cast<ACE_HEADER*>(ace);
    EXPECT_EQ(header->AceType, ACCESS_ALLOWED_ACE_TYPE);
    auto* allowed = static_cast<ACCESS_ALLOWED_ACE*>(ace);
    LPWSTR text = nullptr;
    if (ConvertSidToStringSidW(&allowed->SidStart, &text)) {
      facts.sids.push_back(std::filesystem::path(text).string());
      LocalFree(text);
    }
    facts.masks.push_back(allowed->Mask);
  }
  LocalFree(sd);
  return facts;
}

TEST(AuditStorePermissionsTest, OnlySystemAndAdministratorsHoldTheStore) {
  testing::TempDir dir;
  auto opts = testing::TestStoreOptions(dir.Utf8("audit\\audit.db"));
  opts.secure_permissions = true;
  auto store = Store::Open(opts);
  if (!store.ok() && RunningUnderWine() && store.error().code() == ErrorCode::kVerificationFailed) {
    GTEST_SKIP() << "Wine did not keep the DACL: " << store.error().ToString();
  }
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  std::mt19937_64 rng(4);
  ASSERT_TRUE((*store)->Record(testing::RandomEventAny(rng, "w")).ok());
  auto seal = (*store)->Rotate();
  ASSERT_TRUE(seal.ok()) << seal.error().ToString();
  const auto audit_dir = dir.path() / "audit";
  for (const auto& p :
       {audit_dir, audit_dir / "audit.db", audit_dir / "archive" / seal->archive_file}) {
    const DaclFacts f = ReadDacl(p);
    EXPECT_TRUE(f.protected_dacl) << p;
    ASSERT_EQ(f.sids.size(), 2u) << p;
    EXPECT_EQ(f.sids[0], "S-1-5-18") << p;      // SYSTEM
    EXPECT_EQ(f.sids[1], "S-1-5-32-544") << p;  // Administrators
  }
  // The sealed archive grants read only.
  const DaclFacts archive = ReadDacl(audit_dir / "archive" / seal->archive_file);
  for (ACCESS_MASK m : archive.masks) EXPECT_EQ(m & FILE_WRITE_DATA, 0u);
  ASSERT_TRUE((*store)->Close().ok());
}

}  // namespace
}  // namespace stockade::audit
