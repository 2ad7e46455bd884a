// Benchmark: what recording costs per spawn. A sandboxed tree (the Linux launcher, as `nobody`)
// runs N short `/bin/true` one after another; the same tree is timed with the Linux audit capture
// off and on (kernel audit rules for the uid, the reader thread assembling, decoding and
// attributing every record, and every event recorded into a real audit store through
// Recorder::RecordAsync, as the service does: hash chain, batched commits, fsync per batch). Off
// and on alternate in every round so that load on the shared machine hits both alike.
//
//   bench_audit_capture [--spawns N] [--rounds R]     (root)
//
// Prints "Spawn storm: per-spawn cost of recording (sandboxed with audit vs sandboxed without
// audit)" with the median per-spawn wall time of each and the ratio on/off, and checks that the
// capture delivered exactly one exec event per spawn (+1 for the shell) and that the store
// committed every event.
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "audit/linux/capture.h"
#include "audit/store.h"
#include "bench/bench_clock.h"
#include "runner/launch_spec.h"
#include "runner/linux/cgroup.h"
#include "runner/linux/launcher.h"

namespace {

namespace alx = stockade::audit::linux_os;
namespace rlx = stockade::runner::linux_os;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench_audit_capture: %s\n", what.c_str());
  std::exit(1);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int spawns = 2000;
  int rounds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--spawns") spawns = std::atoi(argv[i + 1]);
    if (a == "--rounds") rounds = std::atoi(argv[i + 1]);
  }
  if (::geteuid() != 0) Die("needs root (the launcher's identity switch, kernel audit)");
  const passwd* nobody = ::getpwnam("nobody");
  if (nobody == nullptr) Die("no user 'nobody'");
  char tmpl[] = "/tmp/stbench-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) Die("mkdtemp failed");
  const std::string base = tmpl;
  ::chmod(base.c_str(), 0755);
  const std::string ws = base + "/ws";
  ::mkdir(ws.c_str(), 0755);
  if (::chown(ws.c_str(), nobody->pw_uid, nobody->pw_gid) != 0) Die("chown failed");

  stockade::runner::LaunchSpec spec;
  spec.argv = {
      "/bin/sh", "-c",
      "i=0; while [ $i -lt " + std::to_string(spawns) + " ]; do i=$((i+1)); /bin/true; done"};
  spec.env = {"PATH=/usr/bin:/bin"};
  spec.cwd = ws;
  spec.identity.name = "nobody";
  spec.identity.uid = nobody->pw_uid;
  spec.identity.gid = nobody->pw_gid;
  spec.writable_roots = {ws};
  spec.limits.max_processes = 0;
  spec.limits.memory_bytes = 0;
  rlx::LaunchOptions options;
  options.cgroup.parent_name = "stockade-bench-" + std::to_string(::getpid());
  options.runtime_dir = base + "/run";

  auto run_tree = [&](alx::Capture* capture, const std::string& session) {
    auto tree = rlx::ProcessTree::Launch(spec, options);
    if (!tree.ok()) Die(tree.error().ToString());
    if (capture != nullptr) capture->AddSession(session, tree->pid(), nobody->pw_uid);
    auto status = tree->Wait();
    if (!status.ok() || status->code != 0) Die("the tree failed");
  };

  stockade::audit::StoreOptions store_options;
  store_options.path = base + "/audit/audit.db";
  auto store = stockade::audit::Store::Open(store_options);
  if (!store.ok()) Die(store.error().ToString());
  std::atomic<std::uint64_t> recorded{0}, refused{0};

  std::vector<double> off, on, on_drained;
  std::uint64_t delivered_total = 0, expected_total = 0;
  for (int r = 0; r < rounds; ++r) {
    off.push_back(stockade::bench::Measure([&] { run_tree(nullptr, ""); }).wall / spawns);

    std::atomic<std::uint64_t> execs{0};
    alx::CaptureOptions co;
    co.uids = {nobody->pw_uid};
    co.runtime_dir = "/run/stockade-bench";
    auto capture = alx::Capture::Start(co, [&](stockade::audit::Event e) {
      const auto* p = std::get_if<stockade::audit::ProcessEvent>(&e.body);
      if (p != nullptr && p->phase == stockade::audit::ProcessPhase::kExec) ++execs;
      // As the service: queue for the store's writer thread, never wait for a commit here.
      if ((*store)->RecordAsync(std::move(e)).ok()) {
        ++recorded;
      } else {
        ++refused;
      }
    });
    if (!capture.ok()) Die(capture.error().ToString());
    const std::string session = "bench-" + std::to_string(r);
    double tree_only = 0;
    const auto t = stockade::bench::Measure([&] {
      tree_only = stockade::bench::Measure([&] { run_tree(capture->get(), session); }).wall;
      const auto s = (*capture)->EndSession(session, std::chrono::seconds(120));
      if (!s.ok()) Die(s.error().ToString());
      const auto flushed = (*store)->Flush();  // every event of the run committed
      if (!flushed.ok()) Die(flushed.error().ToString());
    });
    on.push_back(tree_only / spawns);
    on_drained.push_back(t.wall / spawns);
    delivered_total += execs.load();
    expected_total += static_cast<std::uint64_t>(spawns) + 1;
    const auto stats = (*capture)->Stats();
    std::printf(
        "round %d: off %.3f ms/spawn, on %.3f ms/spawn (%.3f until every record was "
        "read); %llu/%d exec events, kernel lost %llu\n",
        r + 1, off.back() * 1e3, on.back() * 1e3, on_drained.back() * 1e3,
        static_cast<unsigned long long>(execs.load()), spawns + 1,
        static_cast<unsigned long long>(stats.kernel_lost));
    const auto stopped = (*capture)->Stop();
    if (!stopped.ok()) Die(stopped.error().ToString());
  }
  const auto closed = (*store)->Close();
  if (!closed.ok()) Die(closed.error().ToString());
  std::filesystem::remove_all(base);
  auto layout = rlx::DetectCgroupLayout();  // the bench's parent cgroups (the trees' are gone)
  if (layout.ok()) (void)rlx::RemoveCgroupParent(*layout, options.cgroup);
  const double m_off = Median(off), m_on = Median(on), m_drained = Median(on_drained);
  std::printf(
      "Spawn storm: per-spawn cost of recording (sandboxed with audit vs sandboxed without "
      "audit)\n");
  std::printf("  sandboxed /bin/true x %d, median of %d rounds\n", spawns, rounds);
  std::printf("  without audit                   %.3f ms/spawn\n", m_off * 1e3);
  std::printf("  with audit                      %.3f ms/spawn  ratio %.2fx\n", m_on * 1e3,
              m_on / m_off);
  std::printf("  with audit, recorded+committed  %.3f ms/spawn  ratio %.2fx\n", m_drained * 1e3,
              m_drained / m_off);
  std::printf("  events recorded in the store    %llu (%llu refused)\n",
              static_cast<unsigned long long>(recorded.load()),
              static_cast<unsigned long long>(refused.load()));
  std::printf("  exec events delivered  %llu of %llu\n",
              static_cast<unsigned long long>(delivered_total),
              static_cast<unsigned long long>(expected_total));
  return delivered_total == expected_total && refused.load() == 0 ? 0 : 1;
}
