// bench_cores: how expensive is it for two cores to share data on this
// machine right now? Two threads pinned to CPUs A and B (default 0 and 1):
//   roundtrip_ns      a cache line handed back and forth (one round trip:
//                     A writes, B sees it and writes back, A sees that);
//   remote_read_gbps  A reads 1 MiB that B has just written;
//   local_read_gbps   A reads 1 MiB it has just written itself (its L2).
// On a VM the host may place two vCPUs on one core complex or on two; the
// second costs several times more for every byte the engine's threads pass
// to each other, which is what the 2-thread encoder is sensitive to
// (docs/BENCHMARKS.md, session 14). bench/e2e records this probe before and
// after its runs. One JSON line on stdout; exit 2 on bad arguments, 3 when
// the threads cannot be pinned (fewer than two CPUs).
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

bool Pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

// Sum that the compiler cannot drop; unrolled into 8 chains to be read-bound.
float Sum(const std::vector<float>& v) {
  float s[8] = {};
  for (size_t i = 0; i + 8 <= v.size(); i += 8)
    for (size_t j = 0; j < 8; ++j) s[j] += v[i + j];
  float total = 0;
  for (float x : s) total += x;
  return total;
}

struct Result {
  double roundtrip_ns = 0, remote_gbps = 0, local_gbps = 0;
  bool pinned = true;
};

Result Probe(int cpu_a, int cpu_b, long trips, int reps) {
  Result r;
  std::atomic<long> ball{0};
  std::atomic<bool> pinned_b{true};
  std::thread b([&] {
    pinned_b = Pin(cpu_b);
    for (long i = 1; i < 2 * trips; i += 2) {
      while (ball.load(std::memory_order_acquire) != i) {
      }
      ball.store(i + 1, std::memory_order_release);
    }
  });
  r.pinned = Pin(cpu_a);
  const auto t0 = Clock::now();
  for (long i = 0; i < 2 * trips; i += 2) {
    while (ball.load(std::memory_order_acquire) != i) {
    }
    ball.store(i + 1, std::memory_order_release);
  }
  while (ball.load(std::memory_order_acquire) != 2 * trips) {
  }
  r.roundtrip_ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / trips;
  b.join();
  r.pinned = r.pinned && pinned_b;

  // 1 MiB written by B, then read by A; then written and read by A alone.
  std::vector<float> buf(size_t{1} << 18, 1.0f);
  std::atomic<int> phase{0};
  double remote_s = 0, local_s = 0;
  float sink = 0;
  std::thread writer([&] {
    Pin(cpu_b);
    for (int i = 0; i < reps; ++i) {
      while (phase.load(std::memory_order_acquire) != 2 * i) {
      }
      for (float& x : buf) x += 1.0f;
      phase.store(2 * i + 1, std::memory_order_release);
    }
  });
  for (int i = 0; i < reps; ++i) {
    while (phase.load(std::memory_order_acquire) != 2 * i + 1) {
    }
    const auto a = Clock::now();
    sink += Sum(buf);
    remote_s += std::chrono::duration<double>(Clock::now() - a).count();
    phase.store(2 * i + 2, std::memory_order_release);
  }
  writer.join();
  for (int i = 0; i < reps; ++i) {
    for (float& x : buf) x += 1.0f;
    const auto a = Clock::now();
    sink += Sum(buf);
    local_s += std::chrono::duration<double>(Clock::now() - a).count();
  }
  const double bytes = static_cast<double>(buf.size() * sizeof(float)) * reps;
  r.remote_gbps = bytes / remote_s / 1e9;
  r.local_gbps = bytes / local_s / 1e9;
  if (sink == -1.0f) std::puts("");  // keeps the sums alive
  return r;
}

bool ParseInt(const char* s, long lo, long hi, long* out) {
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < lo || v > hi) return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  long cpu_a = 0, cpu_b = 1, trips = 200000;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    long* dst = arg == "--cpu-a"   ? &cpu_a
                : arg == "--cpu-b" ? &cpu_b
                : arg == "--trips" ? &trips
                                   : nullptr;
    if (dst == nullptr || i + 1 >= argc || !ParseInt(argv[++i], 0, 100000000, dst)) {
      std::fprintf(stderr, "usage: bench_cores [--cpu-a 0] [--cpu-b 1] [--trips 200000]\n");
      return 2;
    }
  }
  if (cpu_a == cpu_b || trips < 1) {
    std::fprintf(stderr, "bench_cores: need two different CPUs and at least one trip\n");
    return 2;
  }
  if (std::thread::hardware_concurrency() < 2) {
    std::fprintf(stderr, "bench_cores: fewer than two CPUs\n");
    return 3;
  }
  const Result r = Probe(static_cast<int>(cpu_a), static_cast<int>(cpu_b), trips, 200);
  if (!r.pinned) {
    std::fprintf(stderr, "bench_cores: cannot pin threads to CPUs %ld and %ld\n", cpu_a, cpu_b);
    return 3;
  }
  std::printf(
      "{\"cpu_a\": %ld, \"cpu_b\": %ld, \"roundtrip_ns\": %.1f, \"remote_read_gbps\": %.1f, "
      "\"local_read_gbps\": %.1f}\n",
      cpu_a, cpu_b, r.roundtrip_ns, r.remote_gbps, r.local_gbps);
  return 0;
}
