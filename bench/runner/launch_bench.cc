// Benchmark: starting `/bin/true` through the Linux launcher with every restriction (cgroup with
// process and memory limits, mount namespace with a protected .git and a deny-read folder,
// identity switch to nobody, capabilities and bounding set dropped, no_new_privs, Landlock,
// seccomp, offline network), against the same program started by a bare fork+execve, by
// `unshare -n true` and by `bwrap --ro-bind / / --dev /dev --unshare-net true`. The four are
// measured in turn in every round, so that load on the shared machine hits them alike.
//
//   bench_runner_launch [--iterations N]      (root: the launcher needs it for the identity)
//
// Prints median / p10 / p90 per method and the launcher's ratio to each (below 1 = faster).
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "runner/launch_spec.h"
#include "runner/linux/cgroup.h"
#include "runner/linux/launcher.h"

namespace {

using stockade::runner::LaunchSpec;
namespace los = stockade::runner::linux_os;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench_runner_launch: %s\n", what.c_str());
  std::exit(1);
}

// fork + execve + waitpid; returns the exit status (-1 when it could not run).
int Spawn(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  static char path_env[] = "PATH=/usr/bin:/bin";
  static char* envp[] = {path_env, nullptr};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execve(args[0], args.data(), envp);
    ::_exit(127);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct Method {
  std::string name;
  std::vector<double> ms;      // wall time
  std::vector<double> cpu_ms;  // CPU time of this process and of the children it reaped
};

// CPU used so far by this process and by every child it has reaped, in milliseconds. Unlike
// wall time it does not grow when other work takes the (shared) cores.
double CpuMs() {
  rusage self{}, kids{};
  ::getrusage(RUSAGE_SELF, &self);
  ::getrusage(RUSAGE_CHILDREN, &kids);
  auto ms = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) / 1e3;
  };
  return ms(self.ru_utime) + ms(self.ru_stime) + ms(kids.ru_utime) + ms(kids.ru_stime);
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = 200;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--iterations" && i + 1 < argc) {
      iterations = std::atoi(argv[++i]);
    } else {
      Die("usage: bench_runner_launch [--iterations N]");
    }
  }
  if (iterations < 5) Die("--iterations must be at least 5");
  if (::geteuid() != 0) Die("run as root: the launcher switches to a sandbox identity");
  const std::string bwrap = "/usr/bin/bwrap";
  const std::string unshare = "/usr/bin/unshare";
  const bool have_bwrap = ::access(bwrap.c_str(), X_OK) == 0;
  const bool have_unshare = ::access(unshare.c_str(), X_OK) == 0;

  char tmpl[] = "/tmp/stockade-bench-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) Die("mkdtemp failed");
  const std::string base = tmpl;
  ::chmod(base.c_str(), 0755);
  const std::string ws = base + "/ws";
  std::filesystem::create_directories(ws + "/.git");
  std::filesystem::create_directories(base + "/secret");

  LaunchSpec spec;
  spec.argv = {"/bin/true"};
  spec.env = {"PATH=/usr/bin:/bin"};
  spec.cwd = ws;
  spec.identity.name = "nobody";
  spec.identity.uid = 65534;
  spec.identity.gid = 65534;
  spec.writable_roots = {ws};
  spec.protected_paths = {".git", ".codex", ".agents"};
  spec.deny_read = {base + "/secret"};
  spec.network = stockade::runner::NetworkAccess::kBlocked;
  spec.limits.max_processes = 1024;
  spec.limits.memory_bytes = 8192ULL << 20;
  spec.timeout = std::chrono::seconds(30);
  los::LaunchOptions options;
  options.cgroup.parent_name = "stockade-bench-" + std::to_string(::getpid());
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  options.stdin_fd = null;
  options.stdout_fd = null;
  options.stderr_fd = null;

  // The same without process and memory limits: on this v1/v2 hybrid machine the limits need
  // the child to migrate itself into two v1 cgroups, and each v1 migration waits for an RCU
  // grace period; the v2 cgroup (kill) is entered by clone3 for free. A pure-v2 machine puts the
  // limits in that same v2 cgroup, so this line is what the launch costs there.
  LaunchSpec no_limits = spec;
  no_limits.limits.max_processes = 0;
  no_limits.limits.memory_bytes = 0;

  std::vector<Method> methods = {{"launcher (full restrictions)", {}, {}},
                                 {"fork+exec /bin/true", {}, {}},
                                 {"unshare -n true", {}, {}},
                                 {"bwrap --ro-bind / / --dev /dev --unshare-net true", {}, {}},
                                 {"launcher, no limits (v2 cgroup only, no v1 join)", {}, {}}};
  auto measure = [](Method& m, auto&& body) {
    const double cpu0 = CpuMs();
    const auto t0 = std::chrono::steady_clock::now();
    body();
    m.ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    m.cpu_ms.push_back(CpuMs() - cpu0);
  };
  // Warm-up: page cache, the seccomp filter compiled once, the cgroup parents created.
  for (int i = 0; i < 3; ++i) {
    auto r = los::RunTree(spec, options);
    if (!r.ok()) Die("launcher: " + r.error().ToString());
    if (r->code != 0) Die("launcher: /bin/true exited " + std::to_string(r->code));
  }
  // One step per method; each round starts at a different method, so that none always runs
  // right after another (bwrap's namespace teardown, for one, finishes after it has exited).
  const std::vector<std::function<void()>> steps = {
      [&] {
        measure(methods[0], [&] {
          auto r = los::RunTree(spec, options);
          if (!r.ok() || r->code != 0) Die("launcher run failed");
        });
      },
      [&] {
        measure(methods[1], [&] {
          if (Spawn({"/bin/true"}) != 0) Die("/bin/true failed");
        });
      },
      [&] {
        if (!have_unshare) return;
        measure(methods[2], [&] {
          if (Spawn({unshare, "-n", "/bin/true"}) != 0) Die("unshare -n true failed");
        });
      },
      [&] {
        if (!have_bwrap) return;
        measure(methods[3], [&] {
          if (Spawn({bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--unshare-net",
                     "/bin/true"}) != 0) {
            Die("bwrap failed");
          }
        });
      },
      [&] {
        measure(methods[4], [&] {
          auto r = los::RunTree(no_limits, options);
          if (!r.ok() || r->code != 0) Die("launcher run (no limits) failed");
        });
      },
  };
  for (int i = 0; i < iterations; ++i) {
    for (std::size_t k = 0; k < steps.size(); ++k)
      steps[(k + static_cast<std::size_t>(i)) % steps.size()]();
  }

  std::printf("launch of /bin/true, %d rounds (each method once per round), milliseconds\n",
              iterations);
  std::printf("  %-52s %8s %8s %8s %9s\n", "", "median", "p10", "p90", "CPU med");
  for (const auto& m : methods) {
    if (m.ms.empty()) {
      std::printf("  %-52s (not installed)\n", m.name.c_str());
      continue;
    }
    std::printf("  %-52s %8.3f %8.3f %8.3f %9.3f\n", m.name.c_str(), Percentile(m.ms, 0.5),
                Percentile(m.ms, 0.1), Percentile(m.ms, 0.9), Percentile(m.cpu_ms, 0.5));
  }
  std::printf("  ratios of medians, wall and CPU (below 1: the launcher is faster)\n");
  for (const std::size_t ours : {std::size_t{0}, std::size_t{4}}) {
    for (std::size_t i = 1; i < 4; ++i) {
      if (methods[i].ms.empty()) continue;
      std::printf("    %-13s / %-40s %6.2f %6.2f\n", ours == 0 ? "launcher" : "no limits",
                  methods[i].name.c_str(),
                  Percentile(methods[ours].ms, 0.5) / Percentile(methods[i].ms, 0.5),
                  Percentile(methods[ours].cpu_ms, 0.5) / Percentile(methods[i].cpu_ms, 0.5));
    }
  }
  auto med = [&](std::size_t i, bool cpu) {
    const auto& v = cpu ? methods[i].cpu_ms : methods[i].ms;
    return v.empty() ? 0.0 : Percentile(v, 0.5);
  };
  std::printf(
      "RESULT launcher_ms=%.3f launcher_nolimits_ms=%.3f true_ms=%.3f unshare_ms=%.3f "
      "bwrap_ms=%.3f launcher_cpu_ms=%.3f true_cpu_ms=%.3f unshare_cpu_ms=%.3f "
      "bwrap_cpu_ms=%.3f\n",
      med(0, false), med(4, false), med(1, false), med(2, false), med(3, false), med(0, true),
      med(1, true), med(2, true), med(3, true));

  // Clean up: the scratch tree and the bench's own parent cgroups (the trees' are gone).
  std::error_code ec;
  std::filesystem::remove_all(base, ec);
  auto layout = los::DetectCgroupLayout();
  if (layout.ok()) (void)los::RemoveCgroupParent(*layout, options.cgroup);
  return 0;
}
