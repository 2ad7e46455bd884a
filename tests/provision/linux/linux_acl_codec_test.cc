// The raw-xattr ACL codec against libacl and the kernel itself.
#include <acl/libacl.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "provision/linux/acl_codec.h"
#include "provision/linux/acl_tree.h"
#include "provision/linux/run_as.h"
#include "tests/provision/linux/linux_steps_test_support.h"

namespace stockade::provision::linux_os {
namespace {

// libacl's text for a file's ACL (numeric ids, abbreviated, comma separated).
std::string LibaclText(const std::string& path, acl_type_t type) {
  acl_t acl = acl_get_file(path.c_str(), type);
  if (acl == nullptr) return "<error>";
  char* text = acl_to_any_text(acl, nullptr, ',', TEXT_ABBREVIATE | TEXT_NUMERIC_IDS);
  std::string out = text ? text : "<error>";
  acl_free(text);
  acl_free(acl);
  return out;
}

void LibaclSet(const std::string& path, acl_type_t type, const std::string& text) {
  acl_t acl = acl_from_text(text.c_str());
  ASSERT_NE(acl, nullptr) << text;
  ASSERT_EQ(acl_set_file(path.c_str(), type, acl), 0) << text << ": " << strerror(errno);
  acl_free(acl);
}

Acl RawAcl(const std::string& path, const char* attr) {
  char buf[4096];
  ssize_t n = lgetxattr(path.c_str(), attr, buf, sizeof buf);
  EXPECT_GT(n, 0) << path << " " << attr;
  if (n <= 0) return {};
  auto acl = DecodeAclXattr(buf, static_cast<size_t>(n));
  EXPECT_TRUE(acl.ok());
  return acl.ok() ? *acl : Acl{};
}

TEST(LinuxAclCodecTest, DecodesWhatLibaclWritesAndPrintsTheSameText) {
  testing::TempDir dir("codec");
  std::string file = dir.path() + "/f";
  close(open(file.c_str(), O_CREAT | O_WRONLY, 0640));
  for (std::string text : {"u::rw-,u:65534:r-x,u:1234:rwx,g::r--,g:65534:-w-,m::rwx,o::---",
                           "u::rwx,g::r-x,g:7:r--,m::r-x,o::r--"}) {
    LibaclSet(file, ACL_TYPE_ACCESS, text);
    Acl acl = RawAcl(file, kAccessAclXattr);
    EXPECT_EQ(AclToText(acl), LibaclText(file, ACL_TYPE_ACCESS));
    auto parsed = AclFromText(LibaclText(file, ACL_TYPE_ACCESS));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, acl);
  }
  std::string d = dir.path() + "/d";
  mkdir(d.c_str(), 0755);
  LibaclSet(d, ACL_TYPE_DEFAULT, "u::rwx,u:65534:rwx,g::r-x,m::rwx,o::r-x");
  EXPECT_EQ(AclToText(RawAcl(d, kDefaultAclXattr)), LibaclText(d, ACL_TYPE_DEFAULT));
}

TEST(LinuxAclCodecTest, WhatWeEncodeIsWhatLibaclReads) {
  testing::TempDir dir("codec");
  std::string file = dir.path() + "/f";
  close(open(file.c_str(), O_CREAT | O_WRONLY, 0600));
  auto acl = AclFromText("u::rw-,u:65534:rwx,g::r--,m::rwx,o::r--");
  ASSERT_TRUE(acl.ok());
  std::string enc;
  EncodeAclXattr(*acl, &enc);
  ASSERT_EQ(lsetxattr(file.c_str(), kAccessAclXattr, enc.data(), enc.size(), 0), 0);
  EXPECT_EQ(LibaclText(file, ACL_TYPE_ACCESS), "u::rw-,u:65534:rwx,g::r--,m::rwx,o::r--");
  struct stat st;
  stat(file.c_str(), &st);
  EXPECT_EQ(st.st_mode & 0777, 0674u) << "the mask becomes the group bits";
  // A minimal ACL makes the kernel drop the xattr and set the mode.
  EncodeAclXattr(MinimalAclFromMode(0640), &enc);
  ASSERT_EQ(lsetxattr(file.c_str(), kAccessAclXattr, enc.data(), enc.size(), 0), 0);
  char buf[64];
  EXPECT_LT(lgetxattr(file.c_str(), kAccessAclXattr, buf, sizeof buf), 0);
  EXPECT_EQ(errno, ENODATA);
  stat(file.c_str(), &st);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST(LinuxAclCodecTest, RejectsMalformedInput) {
  EXPECT_FALSE(DecodeAclXattr("\x02\x00\x00\x00\x01", 5).ok());
  EXPECT_FALSE(DecodeAclXattr("\x01\x00\x00\x00", 4).ok());
  EXPECT_FALSE(AclFromText("u::rwz").ok());
  EXPECT_FALSE(AclFromText("x::rwx").ok());
  EXPECT_FALSE(AclFromText("u:alice:rwx").ok()) << "names are never journaled";
  EXPECT_FALSE(AclFromText("m:1:rwx").ok());
  EXPECT_FALSE(AclFromText("u::rwx,,o::---").ok());
  auto long_form = AclFromText("user::rwx,group::r-x,other::---");
  ASSERT_TRUE(long_form.ok());
  EXPECT_EQ(AclToText(*long_form), "u::rwx,g::r-x,o::---");
}

TEST(LinuxAclCodecTest, MaskRecalculationMatchesSetfacl) {
  auto acl = AclFromText("u::rw-,g::r--,o::---");
  ASSERT_TRUE(acl.ok());
  acl->push_back({AclTag::kUser, 7, 1000});
  SortAcl(&*acl);
  RecalculateMask(&*acl);
  EXPECT_EQ(AclToText(*acl), "u::rw-,u:1000:rwx,g::r--,m::rwx,o::---");
  acl->erase(acl->begin() + 1);
  RecalculateMask(&*acl);
  EXPECT_EQ(AclToText(*acl), "u::rw-,g::r--,o::---");
}

// AclAllows must agree with the kernel: compare with access(2) run as the subject.
TEST(LinuxAclCodecTest, PermissionRuleAgreesWithTheKernel) {
  if (!testing::IsRoot()) GTEST_SKIP() << "needs root";
  testing::TempDir dir("codec");
  std::string file = dir.path() + "/f";
  close(open(file.c_str(), O_CREAT | O_WRONLY, 0600));
  ASSERT_EQ(chown(file.c_str(), 0, 0), 0);
  const uid_t uid = 65534;
  const gid_t g1 = 65534, g2 = 4242;
  Credentials creds{uid, g1, {g1, g2}};
  AclSubject subject{uid, {g1, g2}};
  for (std::string text : {"u::rwx,g::---,o::r--", "u::rwx,u:65534:rw-,g::---,m::r--,o::rwx",
                           "u::rwx,g::---,g:65534:r--,g:4242:-w-,m::rwx,o::rwx",
                           "u::rwx,g::---,g:4242:rw-,m::rw-,o::---",
                           "u::rwx,u:65534:---,g::---,g:4242:rwx,m::rwx,o::rwx"}) {
    auto acl = AclFromText(text);
    ASSERT_TRUE(acl.ok());
    std::string enc;
    EncodeAclXattr(*acl, &enc);
    ASSERT_EQ(lsetxattr(file.c_str(), kAccessAclXattr, enc.data(), enc.size(), 0), 0);
    for (int want : {4, 2, 1, 6, 5, 7}) {
      std::string path = file;
      auto got = RunAs(creds, [&]() {
        int mode = ((want & 4) ? R_OK : 0) | ((want & 2) ? W_OK : 0) | ((want & 1) ? X_OK : 0);
        return std::string(access(path.c_str(), mode) == 0 ? "yes" : "no");
      });
      ASSERT_TRUE(got.ok()) << got.error().ToString();
      bool ours = AclAllows(*acl, 0, 0, subject, static_cast<std::uint16_t>(want));
      EXPECT_EQ(ours ? "yes" : "no", *got) << text << " want " << want;
    }
  }
}

TEST(LinuxAclCodecTest, RelPathEscapingRoundTripsAnyBytes) {
  std::string raw = "a/b c/%/\x01\xff\xc3\xa9/\x7f";
  std::string esc = EscapeRelPath(raw);
  EXPECT_EQ(esc, "a/b c/%25/%01%FF%C3%A9/%7F");
  auto back = UnescapeRelPath(esc);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, raw);
  EXPECT_FALSE(UnescapeRelPath("%4").has_value());
  EXPECT_FALSE(UnescapeRelPath("%zz").has_value());
  EXPECT_NO_THROW(nlohmann::json(esc).dump());
}

}  // namespace
}  // namespace stockade::provision::linux_os
