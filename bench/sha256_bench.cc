// Benchmark: stockade::crypto::Sha256Hex throughput over a buffer in memory (64 MiB by default),
// for comparison with `sha256sum` / `openssl dgst -sha256` on the same bytes (bench/run.sh).
//
//   bench_sha256 [--file PATH] [--size BYTES] [--rounds N]
//
// With --file the file's bytes are read into memory first (the read is not timed); otherwise
// --size random bytes are hashed. Prints the digest so the comparison can check it agrees.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "bench/bench_clock.h"
#include "core/crypto/random.h"
#include "core/crypto/sha256.h"

namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench_sha256: %s\n", what.c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  std::string file;
  std::size_t size = 64u << 20;
  int rounds = 3;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (i + 1 >= argc) Die("usage: bench_sha256 [--file PATH] [--size BYTES] [--rounds N]");
    if (arg == "--file")
      file = argv[++i];
    else if (arg == "--size")
      size = std::strtoull(argv[++i], nullptr, 10);
    else if (arg == "--rounds")
      rounds = std::atoi(argv[++i]);
    else
      Die("unknown argument " + std::string(arg));
  }
  std::string data;
  if (!file.empty()) {
    std::ifstream in(std::filesystem::path(std::u8string(file.begin(), file.end())),
                     std::ios::binary);
    if (!in) Die("cannot open " + file);
    in.seekg(0, std::ios::end);
    data.resize(static_cast<std::size_t>(in.tellg()));
    in.seekg(0);
    if (!in.read(data.data(), static_cast<std::streamsize>(data.size())))
      Die("cannot read " + file);
  } else {
    data.resize(size);
    auto status =
        stockade::crypto::RandomBytes({reinterpret_cast<std::uint8_t*>(data.data()), data.size()});
    if (!status.ok()) Die(status.error().ToString());
  }

  stockade::bench::Timing best{1e300, 1e300};
  std::string digest;
  for (int r = 0; r < std::max(1, rounds); ++r) {
    auto t = stockade::bench::Measure([&] { digest = stockade::crypto::Sha256Hex(data); });
    best.wall = std::min(best.wall, t.wall);
    best.cpu = std::min(best.cpu, t.cpu);
  }
  const double mb = static_cast<double>(data.size()) / 1e6;
  std::printf("sha256 %s\n", digest.c_str());
  std::printf("Sha256Hex: %zu bytes, best of %d: %.3f s wall (%.0f MB/s), %.3f s CPU (%.0f MB/s)\n",
              data.size(), rounds, best.wall, mb / best.wall, best.cpu, mb / best.cpu);
  std::printf("RESULT sha256 bytes=%zu wall_s=%.6f cpu_s=%.6f\n", data.size(), best.wall, best.cpu);
  return 0;
}
