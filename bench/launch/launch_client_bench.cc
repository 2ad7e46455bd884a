// Benchmark driver for `stockade run`: runs several commands in turn, one round after another
// (each round starts at a different command, so that load on the shared machine hits them
// alike), and prints median / p10 / p90 wall time per command and the ratios asked for; or, with
// --concurrency C, starts C clients at once, each running its command --per-client times, and
// prints the throughput.
//
//   bench_launch_client [--iterations N] ::: NAME ARGV... [::: NAME ARGV...]...
//   bench_launch_client --concurrency C --per-client K ::: NAME ARGV... [::: NAME ARGV...]...
//   --ratio A/B (repeatable): print median(A) / median(B) (below 1: A is faster)
//   --service-pid PID: add that process's CPU time (utime + stime from /proc, dead threads
//     included) spent during each command's runs to the command's CPU figure: the work the
//     service does for `stockade run` (clone, cgroup, audit) is not in the client's own CPU.
//
// CPU figures (mean per run: the reaped children's user + system time, plus the service's) do
// not grow when other jobs take the shared cores, unlike wall time; their ratios are printed too.
//
// Every run must exit 0 (stdin, stdout and stderr are /dev/null): a command that failed cannot
// look fast. bench/launch/run_launch_bench.sh sets up the service, identities and workspaces.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench_launch_client: %s\n", what.c_str());
  std::exit(1);
}

struct Command {
  std::string name;
  std::vector<std::string> argv;
  std::vector<double> ms;
  double cpu_ms_total = 0;  // children's CPU + the service's, over all runs
  double CpuPerRun() const {
    return ms.empty() ? 0 : cpu_ms_total / static_cast<double>(ms.size());
  }
};

double ChildrenCpuMs() {
  rusage kids{};
  ::getrusage(RUSAGE_CHILDREN, &kids);
  auto ms = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) / 1e3;
  };
  return ms(kids.ru_utime) + ms(kids.ru_stime);
}

// utime + stime of `pid` in milliseconds (clock ticks: coarse per run, exact in sum); 0 when
// no pid is given or it cannot be read.
double ProcessCpuMs(int pid) {
  if (pid <= 0) return 0;
  char buffer[1024];
  const int fd = ::open(("/proc/" + std::to_string(pid) + "/stat").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  const ssize_t got = ::read(fd, buffer, sizeof(buffer) - 1);
  ::close(fd);
  if (got <= 0) return 0;
  const std::string text(buffer, static_cast<std::size_t>(got));
  const auto close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string f;
  double utime = 0, stime = 0;
  for (int k = 3; k <= 15 && fields >> f; ++k) {
    if (k == 14) utime = std::atof(f.c_str());
    if (k == 15) stime = std::atof(f.c_str());
  }
  return (utime + stime) * 1000.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// fork + execvp with stdio on /dev/null, waits; returns the exit status (-1: did not exit).
int Spawn(const std::vector<std::string>& argv, int null_fd) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(null_fd, 0);
    ::dup2(null_fd, 1);
    ::dup2(null_fd, 2);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[i];
}

double NowMs() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Command* Find(std::vector<Command>& commands, std::string_view name) {
  for (auto& c : commands) {
    if (c.name == name) return &c;
  }
  Die("--ratio names an unknown command '" + std::string(name) + "'");
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = 100;
  int concurrency = 0;
  int per_client = 10;
  int service_pid = 0;
  std::vector<std::pair<std::string, std::string>> ratios;
  std::vector<Command> commands;
  int i = 1;
  for (; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == ":::") break;
    if (i + 1 >= argc) Die("missing value after " + std::string(arg));
    if (arg == "--iterations") {
      iterations = std::atoi(argv[++i]);
    } else if (arg == "--concurrency") {
      concurrency = std::atoi(argv[++i]);
    } else if (arg == "--per-client") {
      per_client = std::atoi(argv[++i]);
    } else if (arg == "--service-pid") {
      service_pid = std::atoi(argv[++i]);
    } else if (arg == "--ratio") {
      std::string r = argv[++i];
      const auto slash = r.find('/');
      if (slash == std::string::npos) Die("--ratio A/B");
      ratios.emplace_back(r.substr(0, slash), r.substr(slash + 1));
    } else {
      Die("unknown option " + std::string(arg));
    }
  }
  for (; i < argc; ++i) {
    if (std::string_view(argv[i]) == ":::") {
      if (i + 2 >= argc) Die("::: needs a NAME and a command");
      commands.push_back({argv[i + 1], {}, {}});
      ++i;
      continue;
    }
    commands.back().argv.push_back(argv[i]);
  }
  if (commands.empty()) Die("no command given (::: NAME ARGV...)");
  if (iterations < 5) Die("--iterations must be at least 5");
  const int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);

  // Warm-up: page cache, the service's first connection, cgroup parents.
  for (auto& c : commands) {
    for (int w = 0; w < 3; ++w) {
      const int rc = Spawn(c.argv, null_fd);
      if (rc != 0) Die(c.name + ": exited " + std::to_string(rc) + " in the warm-up");
    }
  }

  if (concurrency > 0) {
    for (auto& c : commands) {
      std::atomic<int> failures{0};
      std::vector<double> latencies(static_cast<std::size_t>(concurrency * per_client));
      const double t0 = NowMs();
      std::vector<std::thread> clients;
      for (int k = 0; k < concurrency; ++k) {
        clients.emplace_back([&, k] {
          for (int r = 0; r < per_client; ++r) {
            const double s = NowMs();
            if (Spawn(c.argv, null_fd) != 0) ++failures;
            latencies[static_cast<std::size_t>(k * per_client + r)] = NowMs() - s;
          }
        });
      }
      for (auto& t : clients) t.join();
      const double total = NowMs() - t0;
      if (failures > 0) Die(c.name + ": " + std::to_string(failures.load()) + " runs failed");
      const int runs = concurrency * per_client;
      std::printf(
          "%-44s %d clients x %d runs: %.2f s, %.1f runs/s; latency median %.2f ms, "
          "p90 %.2f ms\n",
          c.name.c_str(), concurrency, per_client, total / 1e3, runs / (total / 1e3),
          Percentile(latencies, 0.5), Percentile(latencies, 0.9));
      std::printf("RESULT name=%s concurrency=%d runs=%d wall_s=%.3f runs_per_s=%.1f\n",
                  c.name.c_str(), concurrency, runs, total / 1e3, runs / (total / 1e3));
    }
    return 0;
  }

  for (int round = 0; round < iterations; ++round) {
    for (std::size_t k = 0; k < commands.size(); ++k) {
      Command& c = commands[(k + static_cast<std::size_t>(round)) % commands.size()];
      const double cpu0 = ChildrenCpuMs() + ProcessCpuMs(service_pid);
      const double s = NowMs();
      const int rc = Spawn(c.argv, null_fd);
      c.ms.push_back(NowMs() - s);
      c.cpu_ms_total += ChildrenCpuMs() + ProcessCpuMs(service_pid) - cpu0;
      if (rc != 0) Die(c.name + ": exited " + std::to_string(rc));
    }
  }
  std::printf("%d rounds (each command once per round), wall milliseconds\n", iterations);
  std::printf("  %-44s %8s %8s %8s %9s\n", "", "median", "p10", "p90", "CPU/run");
  for (const auto& c : commands) {
    std::printf("  %-44s %8.2f %8.2f %8.2f %9.2f\n", c.name.c_str(), Percentile(c.ms, 0.5),
                Percentile(c.ms, 0.1), Percentile(c.ms, 0.9), c.CpuPerRun());
    std::printf("RESULT name=%s median_ms=%.3f p10_ms=%.3f p90_ms=%.3f cpu_ms=%.3f\n",
                c.name.c_str(), Percentile(c.ms, 0.5), Percentile(c.ms, 0.1), Percentile(c.ms, 0.9),
                c.CpuPerRun());
  }
  for (const auto& [a, b] : ratios) {
    const Command* ca = Find(commands, a);
    const Command* cb = Find(commands, b);
    const double ma = Percentile(ca->ms, 0.5);
    const double mb = Percentile(cb->ms, 0.5);
    const double wall = mb > 0 ? ma / mb : 0.0;
    const double cpu = cb->CpuPerRun() > 0 ? ca->CpuPerRun() / cb->CpuPerRun() : 0.0;
    std::printf("  ratio %s / %s: wall %.3f, CPU %.3f\n", a.c_str(), b.c_str(), wall, cpu);
    std::printf("RESULT ratio=%s/%s wall=%.3f cpu=%.3f\n", a.c_str(), b.c_str(), wall, cpu);
  }
  return 0;
}
