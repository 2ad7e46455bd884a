// The store's files as the OS reports them (stat): only the recording account can write them,
// and nobody else can read them -- checked by trying, as another uid, when running as root.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "audit/store.h"
#include "tests/audit/audit_test_support.h"

namespace stockade::audit {
namespace {

struct stat Stat(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(stat(p.c_str(), &st), 0) << p << ": " << std::strerror(errno);
  return st;
}

// Opening `p` as uid/gid 65534 (nobody) in a child: returns the errno (0 = it opened).
int OpenAsNobody(const std::filesystem::path& p, int flags) {
  const pid_t child = fork();
  if (child == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(200);
    const int fd = open(p.c_str(), flags);
    _exit(fd >= 0 ? 0 : (errno & 0x7F));
  }
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

TEST(AuditStorePermissionsTest, StoreAndArchivesAreTheServicesAlone) {
  testing::TempDir dir;
  const auto audit_dir = dir.path() / "audit";
  auto opts = testing::TestStoreOptions((audit_dir / "audit.db").string());
  opts.secure_permissions = true;
  std::mt19937_64 rng(3);
  SealInfo seal;
  {
    auto store = Store::Open(opts);
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    for (int i = 0; i < 5; ++i)
      ASSERT_TRUE((*store)->Record(testing::RandomEventAny(rng, "p")).ok());
    auto sealed = (*store)->Rotate();
    ASSERT_TRUE(sealed.ok()) << sealed.error().ToString();
    seal = *sealed;
    ASSERT_TRUE((*store)->Record(testing::RandomEventAny(rng, "p")).ok());

    const struct stat d = Stat(audit_dir);
    EXPECT_EQ(d.st_mode & 07777, 0700u);
    EXPECT_EQ(d.st_uid, geteuid());
    for (const char* name : {"audit.db", "audit.db-wal", "audit.db-shm"}) {
      const struct stat f = Stat(audit_dir / name);
      EXPECT_EQ(f.st_mode & 07777, 0600u) << name;
      EXPECT_EQ(f.st_uid, geteuid()) << name;
    }
    const struct stat a = Stat(audit_dir / "archive");
    EXPECT_EQ(a.st_mode & 07777, 0700u);
    const struct stat s = Stat(audit_dir / "archive" / seal.archive_file);
    EXPECT_EQ(s.st_mode & 07777, 0400u);
    EXPECT_EQ(s.st_uid, geteuid());

    if (geteuid() == 0) {
      // Another account (as a sandbox identity would be) can neither read nor write, even
      // with the parent folders open to it.
      std::filesystem::permissions(dir.path(), std::filesystem::perms::all);
      EXPECT_EQ(OpenAsNobody(audit_dir / "audit.db", O_RDONLY), EACCES);
      EXPECT_EQ(OpenAsNobody(audit_dir / "audit.db", O_WRONLY), EACCES);
      EXPECT_EQ(OpenAsNobody(audit_dir / "archive" / seal.archive_file, O_RDONLY), EACCES);
    }
    ASSERT_TRUE((*store)->Close().ok());
  }
  // A store whose file was loosened is tightened again at open (and read back).
  chmod((audit_dir / "audit.db").c_str(), 0666);
  {
    auto store = Store::Open(opts);
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    EXPECT_EQ(Stat(audit_dir / "audit.db").st_mode & 07777, 0600u);
  }
}

}  // namespace
}  // namespace stockade::audit
