// Workspace grant and revoke (the Linux kWorkspaceGrant step: fd-relative walk, raw ACL xattrs,
// journal) against setfacl on the same 100,000-file tree, in the same run.
//
//   bench_acl_grant [--files N] [--rounds N] [--dir D] [--user NAME]
//
// Each round, in alternating order:
//   Stockade: CaptureBefore + the before-state serialised and fsynced (what the journal commits)
//             + Apply; then Verify (read-back) timed on its own; Undo; then VerifyUndone.
//   setfacl:  `setfacl -R -m u:X:rwX` then `setfacl -R -x u:X` (access ACLs only, as the issue
//             states the comparison), and `setfacl -R -m u:X:rwX,d:u:X:rwX` /
//             `setfacl -R -x u:X,d:u:X`, which also sets the default ACLs on directories, i.e.
//             the same ACL work as the grant. `setfacl -R -b` resets the tree afterwards (untimed):
//             setfacl -x leaves masks and default base entries behind.
// After every revoke the tree is checked to carry no ACL at all again. Wall time and CPU time
// (this process, or the child's rusage for setfacl) are printed, best of the rounds, with ratios
// Stockade / setfacl (below 1.0 means Stockade is faster).
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench/bench_clock.h"
#include "provision/linux/acl_grant_step.h"
#include "provision/linux/acl_tree.h"
#include "provision/linux/fs_at.h"

namespace {

using stockade::bench::Timing;
using namespace stockade::provision;
using namespace stockade::provision::linux_os;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench_acl_grant: %s\n", what.c_str());
  std::exit(1);
}

// files / 100 leaf folders of 100 files, grouped 100 per top-level folder.
void BuildTree(const std::string& root, long files) {
  if (mkdir(root.c_str(), 0755) != 0) Die("mkdir " + root);
  long dirs = (files + 99) / 100;
  long made = 0;
  for (long d = 0; d < dirs; ++d) {
    std::string top = root + "/t" + std::to_string(d / 100);
    if (d % 100 == 0 && mkdir(top.c_str(), 0755) != 0) Die("mkdir " + top);
    std::string leaf = top + "/d" + std::to_string(d % 100);
    if (mkdir(leaf.c_str(), 0755) != 0) Die("mkdir " + leaf);
    for (int f = 0; f < 100 && made < files; ++f, ++made) {
      std::string path = leaf + "/file" + std::to_string(f) + (f % 10 == 0 ? ".sh" : ".c");
      int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, f % 10 == 0 ? 0755 : 0644);
      if (fd < 0) Die("create " + path);
      close(fd);
    }
  }
}

void RemoveTree(const std::string& root) {
  nftw(
      root.c_str(),
      [](const char* p, const struct stat*, int flag, FTW*) {
        return flag == FTW_DP ? rmdir(p) : unlink(p);
      },
      64, FTW_DEPTH | FTW_PHYS);
}

// Runs a program; returns wall time and the child's CPU time (rusage).
Timing RunTimed(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  auto start = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid < 0) Die("fork");
  if (pid == 0) {
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  rusage ru{};
  if (wait4(pid, &status, 0, &ru) != pid) Die("wait4");
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) Die(argv[0] + " " + argv[1] + " failed");
  double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  return {wall, cpu};
}

// The tree carries no ACL at all (what it was built with): every revoke must get back here.
void CheckPristine(const std::string& root, const char* after) {
  UniqueFd fd(open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  TreeStats stats;
  auto prior = CaptureNonMinimalAcls(fd.get(), &stats);
  if (!prior.ok()) Die(prior.error().ToString());
  if (!prior->empty()) {
    Die(std::string("after ") + after + ": " + std::to_string(prior->size()) +
        " nodes still carry an ACL, e.g. " + EscapeRelPath(prior->front().relpath));
  }
}

struct Best {
  Timing t{1e9, 1e9};
  void Add(const Timing& x) {
    t.wall = std::min(t.wall, x.wall);
    t.cpu = std::min(t.cpu, x.cpu);
  }
};

}  // namespace

int main(int argc, char** argv) {
  long files = 100000;
  int rounds = 3;
  std::string dir = "/tmp";
  std::string user = "nobody";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--files")
      files = std::atol(argv[i + 1]);
    else if (a == "--rounds")
      rounds = std::atoi(argv[i + 1]);
    else if (a == "--dir")
      dir = argv[i + 1];
    else if (a == "--user")
      user = argv[i + 1];
    else
      Die("unknown option " + a);
  }
  if (geteuid() != 0) Die("needs root (it changes ACLs on files it creates, as the grant does)");
  std::string base = dir + "/stockade-aclbench-XXXXXX";
  std::vector<char> tmpl(base.begin(), base.end());
  tmpl.push_back('\0');
  if (mkdtemp(tmpl.data()) == nullptr) Die("mkdtemp in " + dir);
  const std::string top = tmpl.data();
  const std::string root = top + "/ws";
  const std::string journal = top + "/journal.json";
  std::printf("building %ld files in %s ...\n", files, root.c_str());
  BuildTree(root, files);
  CheckPristine(root, "building");  // also warms the dentry and inode caches for both sides

  StepSpec spec{kind::kWorkspaceGrant,
                "bench",
                {{"path", root}, {"users", {user}}, {"protected", {".git", ".codex", ".agents"}}}};
  auto created = AclGrantStep::Create(spec);
  if (!created.ok()) Die(created.error().ToString());
  auto* step = static_cast<AclGrantStep*>(created->get());
  const std::string who = "u:" + user;

  Best ours_capture, ours_grant, ours_verify, ours_revoke, ours_verify_undo, sf_grant, sf_revoke,
      sfd_grant, sfd_revoke;
  TreeStats grant_stats, revoke_stats;
  std::size_t journal_bytes = 0;
  for (int r = 0; r < rounds; ++r) {
    auto run_ours = [&]() {
      nlohmann::json before;
      Timing capture{};
      ours_grant.Add(stockade::bench::Measure([&]() {
        capture = stockade::bench::Measure([&]() {
          auto b = step->CaptureBefore();
          if (!b.ok()) Die(b.error().ToString());
          before = std::move(*b);
        });
        std::string text = before.dump();
        journal_bytes = text.size();
        int fd = open(journal.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
            fsync(fd) != 0) {
          Die("write the journal stand-in");
        }
        close(fd);
        stockade::Status s = step->Apply();
        if (!s.ok()) Die(s.error().ToString());
      }));
      ours_capture.Add(capture);
      grant_stats = step->last_stats();
      ours_verify.Add(stockade::bench::Measure([&]() {
        stockade::Status s = step->Verify();
        if (!s.ok()) Die(s.error().ToString());
      }));
      ours_revoke.Add(stockade::bench::Measure([&]() {
        stockade::Status s = step->Undo(before);
        if (!s.ok()) Die(s.error().ToString());
      }));
      revoke_stats = step->last_stats();
      ours_verify_undo.Add(stockade::bench::Measure([&]() {
        stockade::Status s = step->VerifyUndone(before);
        if (!s.ok()) Die(s.error().ToString());
      }));
      CheckPristine(root, "Stockade's revoke");
    };
    auto run_setfacl = [&]() {
      sf_grant.Add(RunTimed({"/usr/bin/setfacl", "-R", "-m", who + ":rwX", root}));
      sf_revoke.Add(RunTimed({"/usr/bin/setfacl", "-R", "-x", who, root}));
      RunTimed({"/usr/bin/setfacl", "-R", "-b", root});
      CheckPristine(root, "setfacl -b");
      sfd_grant.Add(
          RunTimed({"/usr/bin/setfacl", "-R", "-m", who + ":rwX,d:" + who + ":rwX", root}));
      sfd_revoke.Add(RunTimed({"/usr/bin/setfacl", "-R", "-x", who + ",d:" + who, root}));
      RunTimed({"/usr/bin/setfacl", "-R", "-b", root});
      CheckPristine(root, "setfacl -b");
    };
    if (r % 2 == 0) {
      run_ours();
      run_setfacl();
    } else {
      run_setfacl();
      run_ours();
    }
  }
  RemoveTree(top);

  auto row = [](const char* name, const Timing& t) {
    std::printf("  %-58s %8.3f s %8.3f s\n", name, t.wall, t.cpu);
  };
  auto ratio = [](const char* name, const Timing& a, const Timing& b) {
    std::printf("  %-58s %8.2fx %8.2fx\n", name, a.wall / b.wall, a.cpu / b.cpu);
  };
  std::printf(
      "\nACL grant/revoke on %ld files + %llu directories, best of %d rounds "
      "(xattr calls: %s)\n",
      files, static_cast<unsigned long long>(grant_stats.dirs), rounds,
      HaveXattrAtSyscalls() ? "getxattrat/setxattrat" : "/proc/self/fd fallback");
  std::printf("  %-58s %10s %10s\n", "", "wall", "CPU");
  row("Stockade grant (capture + journal + apply)", ours_grant.t);
  row("  of which capture (read-only walk for the journal)", ours_capture.t);
  row("Stockade verify (read-back of every node)", ours_verify.t);
  row("setfacl -R -m u:X:rwX", sf_grant.t);
  row("setfacl -R -m u:X:rwX,d:u:X:rwX (same ACL work)", sfd_grant.t);
  row("Stockade revoke (exact restore)", ours_revoke.t);
  row("Stockade verify revoke", ours_verify_undo.t);
  row("setfacl -R -x u:X", sf_revoke.t);
  row("setfacl -R -x u:X,d:u:X", sfd_revoke.t);
  std::printf("  ratios Stockade / setfacl (goal <= 1.0):\n");
  ratio("grant+journal / setfacl -R -m u:X:rwX", ours_grant.t, sf_grant.t);
  ratio("grant+journal / setfacl -R -m u:X:rwX,d:u:X:rwX", ours_grant.t, sfd_grant.t);
  ratio("revoke / setfacl -R -x u:X", ours_revoke.t, sf_revoke.t);
  ratio("revoke / setfacl -R -x u:X,d:u:X", ours_revoke.t, sfd_revoke.t);
  std::printf(
      "  Stockade ACL writes: grant %llu, revoke %llu (setfacl -m writes %ld access ACLs, "
      "+%llu default ACLs with d:); journal %zu bytes\n",
      static_cast<unsigned long long>(grant_stats.acl_writes),
      static_cast<unsigned long long>(revoke_stats.acl_writes),
      files + static_cast<long>(grant_stats.dirs),
      static_cast<unsigned long long>(grant_stats.dirs), journal_bytes);
  std::printf(
      "RESULT files=%ld grant_wall=%.4f grant_cpu=%.4f verify_wall=%.4f "
      "setfacl_m_wall=%.4f setfacl_md_wall=%.4f revoke_wall=%.4f revoke_cpu=%.4f "
      "setfacl_x_wall=%.4f setfacl_xd_wall=%.4f grant_writes=%llu revoke_writes=%llu\n",
      files, ours_grant.t.wall, ours_grant.t.cpu, ours_verify.t.wall, sf_grant.t.wall,
      sfd_grant.t.wall, ours_revoke.t.wall, ours_revoke.t.cpu, sf_revoke.t.wall, sfd_revoke.t.wall,
      static_cast<unsigned long long>(grant_stats.acl_writes),
      static_cast<unsigned long long>(revoke_stats.acl_writes));
  return 0;
}
