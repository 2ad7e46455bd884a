// Where the time of one `stockade run` goes in the service: runs the service's steps for one
// request in-process, in the order runner/service/linux/server.cc runs them, timing each (the
// launcher's own phases through LaunchOptions::timings), and prints the median, p10 and p90 of
// every phase over the runs. Root, like the service; run_launch_bench.sh provides the identities,
// the granted workspace, the policy and the state folder (STOCKADE_POLICY, STOCKADE_STATE_DIR).
//
//   bench_launch_phases --workspace DIR [--iterations N] [--audit-store FILE] [--cgroup NAME]
//
// --audit-store: record the session's start and end events in a store at FILE opened as the
// service opens its own (group commit, synced at every batch), timing both; without it the audit
// phases are skipped. The store makes FILE's folder private (0700): give it one of its own, not
// a folder above the workspace, which the identities must still traverse. --cgroup: the parent
// cgroup's name (default stockade-bench-<pid>, removed at the end), so that the bench never meets a
// running service's trees.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "audit/event.h"
#include "audit/store.h"
#include "core/policy/policy_loader.h"
#include "provision/journal/journal.h"
#include "runner/linux/cgroup.h"
#include "runner/linux/launcher.h"
#include "runner/service/broker.h"
#include "runner/service/grants.h"
#include "runner/service/linux/system_facts.h"
#include "runner/service/spec_builder.h"

namespace {

using namespace stockade;
using Clock = std::chrono::steady_clock;
using runner::linux_os::LaunchTimings;

// The parent cgroup of the bench's trees, removed at exit, also after Die().
std::string g_cgroup_parent;

void RemoveBenchCgroup() {
  if (g_cgroup_parent.empty()) return;
  runner::linux_os::CgroupOptions cgroup;
  cgroup.parent_name = g_cgroup_parent;
  auto layout = runner::linux_os::DetectCgroupLayout();
  if (layout.ok()) (void)runner::linux_os::RemoveCgroupParent(*layout, cgroup);
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench_launch_phases: %s\n", what.c_str());
  std::exit(1);
}

double Ms(Clock::time_point a, Clock::time_point b) {
  if (a == Clock::time_point{} || b == Clock::time_point{}) return 0;
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5)];
}

}  // namespace

int main(int argc, char** argv) {
  std::string workspace;
  std::string audit_path;
  std::string cgroup_name = "stockade-bench-" + std::to_string(::getpid());
  int iterations = 50;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) Die("missing value after " + std::string(arg));
    if (arg == "--workspace") {
      workspace = argv[++i];
    } else if (arg == "--iterations") {
      iterations = std::atoi(argv[++i]);
    } else if (arg == "--audit-store") {
      audit_path = argv[++i];
    } else if (arg == "--cgroup") {
      cgroup_name = argv[++i];
    } else {
      Die("unknown option " + std::string(arg));
    }
  }
  if (workspace.empty() || iterations < 5) Die("--workspace DIR [--iterations N>=5]");
  if (::geteuid() != 0) Die("needs root (it launches as the sandbox identities)");
  const char* state_env = std::getenv("STOCKADE_STATE_DIR");
  if (state_env == nullptr || *state_env == '\0') Die("STOCKADE_STATE_DIR is not set");
  const std::string state_dir = state_env;
  auto policy = LoadEffectivePolicy("");
  if (!policy.ok()) Die(policy.error().ToString());

  std::unique_ptr<audit::Store> store;
  if (!audit_path.empty()) {
    audit::StoreOptions store_options;  // the service's: synced at every batch
    store_options.path = audit_path;
    auto opened = audit::Store::Open(store_options);
    if (!opened.ok()) Die(opened.error().ToString());
    store = std::move(*opened);
  }

  runner::protocol::RunRequest request;
  request.identity = "offline";
  request.workspace = workspace;
  request.cwd = workspace;
  request.argv = {"/bin/true"};
  request.env = {"PATH=/usr/bin:/bin"};
  runner::service::Caller caller;  // root: may use any grant
  caller.pid = ::getpid();

  std::map<std::string, std::vector<double>> phases;
  const std::vector<std::string> order = {"broker (authorise)",
                                          "  of which: journal grants",
                                          "  (journal opened afresh)",
                                          "account groups",
                                          "session temp folder",
                                          "spec build",
                                          "audit: session start",
                                          "cgroup create",
                                          "mount/landlock/seccomp prep",
                                          "clone3",
                                          "child setup + execve",
                                          "command runs",
                                          "reap",
                                          "cgroup.kill",
                                          "wait until empty",
                                          "cgroup rmdir",
                                          "audit: session end",
                                          "temp folder removal",
                                          "TOTAL (service side)"};
  runner::linux_os::CgroupOptions cgroup;
  cgroup.parent_name = cgroup_name;
  g_cgroup_parent = cgroup_name;
  std::atexit(RemoveBenchCgroup);
  for (int round = -3; round < iterations; ++round) {  // 3 warm-up rounds
    std::map<std::string, double> r;
    const Clock::time_point t0 = Clock::now();
    runner::service::linux_os::LinuxSystemFacts facts(state_dir);
    auto allowed = runner::service::Authorize(*policy, facts, caller, request);
    if (!allowed.ok()) Die(allowed.error().ToString());
    const Clock::time_point t1 = Clock::now();
    auto grants = runner::service::ReadLiveGrants(state_dir);
    if (!grants.ok()) Die(grants.error().ToString());
    const Clock::time_point t1b = Clock::now();
    {
      // What every request paid before the grants were kept between requests.
      provision::JournalOptions read_only;
      read_only.read_only = true;
      auto journal = provision::Journal::Open(state_dir, read_only);
      if (!journal.ok() || !journal->LiveSteps().ok()) Die("reading the journal");
    }
    const Clock::time_point t1c = Clock::now();
    auto groups = runner::service::linux_os::AccountGroups(allowed->account);
    if (!groups.ok()) Die(groups.error().ToString());
    const Clock::time_point t2 = Clock::now();
    const std::string temp =
        state_dir + "-bench-" + std::to_string(::getpid()) + "-" + std::to_string(round + 3);
    if (::mkdir(temp.c_str(), 0700) != 0 ||
        ::lchown(temp.c_str(), allowed->account.uid, allowed->account.gid) != 0) {
      Die("session temp folder " + temp);
    }
    const Clock::time_point t3 = Clock::now();
    runner::service::SpecInputs in;
    in.kind = allowed->kind;
    in.identity.name = allowed->account.name;
    in.identity.uid = allowed->account.uid;
    in.identity.gid = allowed->account.gid;
    in.identity.supplementary_gids = *groups;
    in.workspace = allowed->workspace;
    in.cwd = allowed->cwd;
    in.temp = temp;
    in.home = allowed->home;
    in.argv = request.argv;
    in.env = request.env;
    in.extra_deny_read.push_back(state_dir);
    auto spec = runner::service::BuildLaunchSpec(*policy, in);
    if (!spec.ok()) Die(spec.error().ToString());
    const Clock::time_point t4 = Clock::now();
    audit::Event event;
    event.session_id = "bench-" + std::to_string(round + 3);
    audit::SessionEvent body;
    body.identity = "offline";
    body.workspace = allowed->workspace;
    body.invoking_uid = 0;
    body.invoking_user = "root";
    body.argv = request.argv;
    body.cwd = allowed->cwd;
    body.start_time = audit::NowNs();
    event.body = body;
    if (store && !store->Record(event).ok()) Die("audit start");
    const Clock::time_point t5 = Clock::now();

    LaunchTimings lt;
    runner::linux_os::LaunchOptions launch;
    launch.cgroup = cgroup;
    launch.timings = &lt;
    {
      auto tree = runner::linux_os::ProcessTree::Launch(*spec, launch);
      if (!tree.ok()) Die(tree.error().ToString());
      auto status = tree->Wait();
      if (!status.ok() || status->code != 0) Die("the tree did not exit 0");
    }
    const Clock::time_point t6 = Clock::now();
    body.phase = audit::SessionPhase::kEnd;
    body.end_time = audit::NowNs();
    event.body = body;
    if (store && !store->Record(event).ok()) Die("audit end");
    const Clock::time_point t7 = Clock::now();
    ::rmdir(temp.c_str());
    const Clock::time_point t8 = Clock::now();

    r["broker (authorise)"] = Ms(t0, t1);
    r["  of which: journal grants"] = Ms(t1, t1b);
    r["  (journal opened afresh)"] = Ms(t1b, t1c);
    r["account groups"] = Ms(t1c, t2);
    r["session temp folder"] = Ms(t2, t3);
    r["spec build"] = Ms(t3, t4);
    r["audit: session start"] = Ms(t4, t5);
    r["cgroup create"] = Ms(lt.start, lt.cgroup_ready);
    r["mount/landlock/seccomp prep"] = Ms(lt.cgroup_ready, lt.prepared);
    r["clone3"] = Ms(lt.prepared, lt.cloned);
    r["child setup + execve"] = Ms(lt.cloned, lt.exec_confirmed);
    r["command runs"] = Ms(lt.exec_confirmed, lt.exited);
    r["reap"] = Ms(lt.exited, lt.reaped);
    r["cgroup.kill"] = Ms(lt.reaped, lt.killed);
    r["wait until empty"] = Ms(lt.killed, lt.emptied);
    r["cgroup rmdir"] = Ms(lt.emptied, lt.removed);
    r["audit: session end"] = Ms(t6, t7);
    r["temp folder removal"] = Ms(t7, t8);
    // The grants are read again here (once inside the broker): not part of a request.
    r["TOTAL (service side)"] = Ms(t0, t8) - Ms(t1, t1c);
    if (round >= 0) {
      for (const auto& [k, v] : r) phases[k].push_back(v);
    }
  }
  std::printf("%d runs of /bin/true, service-side phases, wall milliseconds\n", iterations);
  std::printf("  %-30s %8s %8s %8s\n", "", "median", "p10", "p90");
  for (const auto& name : order) {
    const auto& v = phases[name];
    std::printf("  %-30s %8.3f %8.3f %8.3f\n", name.c_str(), Percentile(v, 0.5), Percentile(v, 0.1),
                Percentile(v, 0.9));
  }
  return 0;
}
