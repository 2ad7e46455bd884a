// Wall and CPU timing for the benchmarks. CPU time (this process, all threads) does not grow
// when other processes take the cores — the development machines are shared — so the
// benchmarks report it beside wall time, and their ratios on CPU time are the steadier ones.
#ifndef STOCKADE_BENCH_BENCH_CLOCK_H_
#define STOCKADE_BENCH_BENCH_CLOCK_H_

#include <time.h>  // clock_gettime(CLOCK_PROCESS_CPUTIME_ID): POSIX, and winpthreads on mingw

#include <chrono>

namespace stockade::bench {

struct Timing {
  double wall = 0;  // seconds
  double cpu = 0;   // seconds of CPU used by this process
};

inline double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Runs `body` once and returns how long it took.
template <typename Body>
Timing Measure(Body&& body) {
  const double cpu0 = CpuSeconds();
  const auto wall0 = std::chrono::steady_clock::now();
  body();
  const auto wall = std::chrono::steady_clock::now() - wall0;
  return {std::chrono::duration<double>(wall).count(), CpuSeconds() - cpu0};
}

}  // namespace stockade::bench

#endif  // STOCKADE_BENCH_BENCH_CLOCK_H_
