// Shared helpers for the Linux step tests, which run as root and change the real system:
// unique identity prefixes, RAII guards that remove what a test created even when it fails,
// a cross-process lock for tests that compare whole-system snapshots, and independent read-backs
// (getent, getfacl, nft) that do not go through the code under test.
#ifndef STOCKADE_TESTS_PROVISION_LINUX_LINUX_STEPS_TEST_SUPPORT_H_
#define STOCKADE_TESTS_PROVISION_LINUX_LINUX_STEPS_TEST_SUPPORT_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "provision/step.h"

namespace stockade::provision::linux_os::testing {

// "sttest<pid><letter>": unique per process and per call, short enough for account names.
std::string UniquePrefix();

// True when running as root (these tests need it; they skip otherwise).
bool IsRoot();

// Holds flock(/tmp/stockade-tests-system-state.lock) for its lifetime. Tests that assert
// byte-identity of /etc/passwd & co. or of `nft list ruleset` hold it, so that other tests that
// also take it (and change accounts or the ruleset) do not run in between.
class SystemStateLock {
 public:
  SystemStateLock();
  ~SystemStateLock();
  SystemStateLock(const SystemStateLock&) = delete;
  SystemStateLock& operator=(const SystemStateLock&) = delete;

 private:
  int fd_ = -1;
};

// Removes, on destruction, every user and group whose name starts with "<prefix>-" (killing
// their processes first) and the nftables table stockade_<prefix>.
class PrefixCleanup {
 public:
  explicit PrefixCleanup(std::string prefix) : prefix_(std::move(prefix)) {}
  ~PrefixCleanup();
  PrefixCleanup(const PrefixCleanup&) = delete;
  PrefixCleanup& operator=(const PrefixCleanup&) = delete;

 private:
  std::string prefix_;
};

// A temporary directory (mode 0755 so that sandbox users can reach inside), removed with
// everything below it on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "acl");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs a program (absolute path) and returns its stdout; ADD_FAILURE and "" when it fails.
std::string RunOut(const std::vector<std::string>& argv);
// Exit status only.
int RunStatus(const std::vector<std::string>& argv);

// The exact bytes of the eight account files, keyed by path ("<absent>" when missing).
std::map<std::string, std::string> AccountFilesBytes();

// `getfacl -R -p -n PATH` output plus a sorted "mode uid gid path" line per node (from lstat):
// what must be byte-identical before a grant and after its revoke.
std::string AclAndModeSnapshot(const std::string& path);

// `nft list ruleset` through the nft binary (not libnftables).
std::string NftRuleset();

// Creates group "<prefix>-users" and users "<prefix>-offline" / "<prefix>-online" through the
// steps under test (asserting success); returns the specs in apply order.
std::vector<StepSpec> IdentitySpecs(const std::string& prefix);
// Applies a spec (CaptureBefore, Apply, Verify) and returns its before-state; fails the test
// on error.
nlohmann::json ApplySpec(const StepSpec& spec);
// Undo + VerifyUndone.
void UndoSpec(const StepSpec& spec, const nlohmann::json& before);

// uid of a user, or -1.
long UidOf(const std::string& name);
long GidOf(const std::string& group);

}  // namespace stockade::provision::linux_os::testing

#endif  // STOCKADE_TESTS_PROVISION_LINUX_LINUX_STEPS_TEST_SUPPORT_H_
