#include "tests/provision/linux/linux_steps_test_support.h"

#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <set>
#include <sstream>

#include "provision/linux/accounts.h"
#include "provision/linux/nft_step.h"
#include "provision/linux/process.h"

namespace stockade::provision::linux_os::testing {

std::string UniquePrefix() {
  static std::atomic<int> counter{0};
  int n = counter++;
  std::string p = "sttest" + std::to_string(getpid());
  p += static_cast<char>('a' + n % 26);
  return p;
}

bool IsRoot() { return geteuid() == 0; }

SystemStateLock::SystemStateLock() {
  fd_ = open("/tmp/stockade-tests-system-state.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ >= 0) flock(fd_, LOCK_EX);
}

SystemStateLock::~SystemStateLock() {
  if (fd_ >= 0) close(fd_);
}

PrefixCleanup::~PrefixCleanup() {
  auto users = LocalUsers();
  if (users.ok()) {
    for (const LocalAccount& u : *users) {
      if (u.name.rfind(prefix_ + "-", 0) != 0) continue;
      // A test that failed mid-way may have left a process running as the user.
      for (int round = 0; round < 20; ++round) {
        std::vector<std::string> procs = ProcessesOfUid(u.id);
        if (procs.empty()) break;
        for (const std::string& p : procs) kill(std::stoi(p), SIGKILL);
        usleep(50000);
      }
      (void)RunProgram({"/usr/sbin/userdel", u.name});
    }
  }
  auto groups = LocalGroups();
  if (groups.ok()) {
    for (const LocalAccount& g : *groups) {
      if (g.name.rfind(prefix_ + "-", 0) == 0) (void)RunProgram({"/usr/sbin/groupdel", g.name});
    }
  }
  std::string table = NftTableNameForPrefix(prefix_);
  (void)RunProgram({"/usr/sbin/nft", "delete", "table", "inet", table});
}

TempDir::TempDir(const std::string& tag) {
  std::string tmpl = "/tmp/stockade-" + tag + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
    return;
  }
  path_ = buf.data();
  chmod(path_.c_str(), 0755);
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  nftw(
      path_.c_str(),
      [](const char* p, const struct stat*, int flag, FTW*) {
        if (flag == FTW_DP) return rmdir(p);
        return unlink(p);
      },
      64, FTW_DEPTH | FTW_PHYS);
}

std::string RunOut(const std::vector<std::string>& argv) {
  auto r = RunProgram(argv);
  if (!r.ok()) {
    ADD_FAILURE() << argv[0] << ": " << r.error().ToString();
    return "";
  }
  if (!r->succeeded()) {
    ADD_FAILURE() << argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << ": " << r->Summary();
  }
  return r->out;
}

int RunStatus(const std::vector<std::string>& argv) {
  auto r = RunProgram(argv);
  return r.ok() ? r->exit_code : -1;
}

std::map<std::string, std::string> AccountFilesBytes() {
  std::map<std::string, std::string> out;
  for (const std::string& path : AccountFilePaths()) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      out[path] = "<absent>";
      continue;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    struct stat st;
    stat(path.c_str(), &st);
    out[path] = ss.str() + "\n<mode " + std::to_string(st.st_mode) + " " +
                std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid) + ">";
  }
  return out;
}

namespace {
std::vector<std::string>* g_lines = nullptr;
}

std::string AclAndModeSnapshot(const std::string& path) {
  std::string out = RunOut({"/usr/bin/getfacl", "-R", "-p", "-n", path});
  std::vector<std::string> lines;
  g_lines = &lines;
  nftw(
      path.c_str(),
      [](const char* p, const struct stat* st, int, FTW*) {
        g_lines->push_back(std::to_string(st->st_mode) + " " + std::to_string(st->st_uid) + " " +
                           std::to_string(st->st_gid) + " " + p);
        return 0;
      },
      64, FTW_PHYS);
  g_lines = nullptr;
  std::sort(lines.begin(), lines.end());
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

std::string NftRuleset() { return RunOut({"/usr/sbin/nft", "list", "ruleset"}); }

std::vector<StepSpec> IdentitySpecs(const std::string& prefix) {
  return {
      {kind::kGroup, "group " + prefix + "-users", {{"name", prefix + "-users"}}},
      {kind::kUser,
       "user " + prefix + "-offline",
       {{"name", prefix + "-offline"}, {"group", prefix + "-users"}, {"identity", "offline"}}},
      {kind::kUser,
       "user " + prefix + "-online",
       {{"name", prefix + "-online"}, {"group", prefix + "-users"}, {"identity", "online"}}},
  };
}

namespace {
std::unique_ptr<Step> Make(const StepSpec& spec) {
  static StepRegistry* registry = [] {
    auto* r = new StepRegistry();
    RegisterPlatformSteps(*r);
    return r;
  }();
  auto step = registry->Create(spec);
  if (!step.ok()) {
    ADD_FAILURE() << step.error().ToString();
    return nullptr;
  }
  return std::move(*step);
}
}  // namespace

nlohmann::json ApplySpec(const StepSpec& spec) {
  auto step = Make(spec);
  if (!step) return nullptr;
  auto before = step->CaptureBefore();
  if (!before.ok()) {
    ADD_FAILURE() << spec.target << " CaptureBefore: " << before.error().ToString();
    return nullptr;
  }
  Status applied = step->Apply();
  EXPECT_TRUE(applied.ok()) << spec.target << " Apply: " << applied.error().ToString();
  Status verified = step->Verify();
  EXPECT_TRUE(verified.ok()) << spec.target << " Verify: " << verified.error().ToString();
  // What the journal does with it: a JSON round trip.
  return nlohmann::json::parse(before->dump());
}

void UndoSpec(const StepSpec& spec, const nlohmann::json& before) {
  auto step = Make(spec);
  if (!step) return;
  Status undone = step->Undo(before);
  EXPECT_TRUE(undone.ok()) << spec.target << " Undo: " << undone.error().ToString();
  Status verified = step->VerifyUndone(before);
  EXPECT_TRUE(verified.ok()) << spec.target << " VerifyUndone: " << verified.error().ToString();
}

long UidOf(const std::string& name) {
  passwd* pw = getpwnam(name.c_str());
  return pw ? static_cast<long>(pw->pw_uid) : -1;
}

long GidOf(const std::string& group) {
  struct group* gr = getgrnam(group.c_str());
  return gr ? static_cast<long>(gr->gr_gid) : -1;
}

}  // namespace stockade::provision::linux_os::testing
