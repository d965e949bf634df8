// bench_gemm: qasr's low-bit GEMMs against oneDNN and XNNPACK on the same
// shapes in the same run, plus a streaming-read bandwidth probe.
// Names: gemm/<impl>/M<M>xN<N>xK<K>/threads:<T>, membw/read[/<KiB>KiB], and
// gemm/.../threads:<T>/stream for small M with the weights streamed from DRAM
// (calls rotate over enough copies of the layer to exceed the L3 cache).
// Counters: bytes_per_second = weight bytes streamed, items_per_second = MACs.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_main.h"
#include "bench/runners.h"
#include "kernels/formats/weight_format.h"

namespace qasr::bench {
namespace {

// K x N pairs: the big layers, the vocab projection, and the small model
// (d = 256, ffn = 1024, vocab ~500).
struct KN {
  size_t k, n;
};
constexpr KN kShapes[] = {{1024, 1024}, {1024, 4096}, {4096, 1024}, {1024, 5000},
                          {256, 1024},  {1024, 256},  {256, 256},   {256, 500}};
constexpr size_t kRows[] = {1, 4, 8, 64, 256, 1024};
constexpr size_t kThreads[] = {1, 2};

std::vector<std::string> Impls() {
  std::vector<std::string> impls;
#define QASR_BENCH_A8(name, bits) impls.push_back("qasr_" #name "a8");
  QASR_WEIGHT_FORMATS(QASR_BENCH_A8)
#undef QASR_BENCH_A8
  impls.push_back("qasr_w4f32");
  impls.push_back("qasr_f32dense");
  impls.push_back("qasr_f32panel");
  for (const char* b : {"onednn_f32", "onednn_s8", "xnnpack_f32", "xnnpack_qs8"})
    impls.push_back(b);
  return impls;
}

void BM_Gemm(benchmark::State& state, const std::string& impl, GemmShape s) {
  auto runner = impl.rfind("qasr_", 0) == 0 ? MakeQasr(impl, s) : MakeBaseline(impl, s);
  if (!runner) {
    state.SkipWithError(("cannot set up " + impl).c_str());
    return;
  }
  runner->Run();  // warm caches and lazily created state
  for (auto _ : state) runner->Run();
  const auto iters = static_cast<int64_t>(state.iterations());
  state.SetBytesProcessed(iters * static_cast<int64_t>(runner->weight_bytes()));
  state.SetItemsProcessed(iters * static_cast<int64_t>(s.m * s.n * s.k));
}

// Weights streamed from memory: calls rotate over copies of the layer whose
// total size is kStreamBytes, the membw/read probe's footprint (8x this
// machine's 32 MiB L3), so every call reads its weights from DRAM, as a
// decoder step does. (At 3x the L3, oneDNN's 16 MiB f32 copies still hit the
// L3 often enough to read 1.6x faster than the DRAM probe.)
constexpr size_t kStreamBytes = size_t{256} << 20;

void BM_GemmStream(benchmark::State& state, const std::string& impl, GemmShape s) {
  auto make = [&] {
    return impl.rfind("qasr_", 0) == 0 ? MakeQasr(impl, s) : MakeBaseline(impl, s);
  };
  std::vector<std::unique_ptr<Runner>> copies;
  copies.push_back(make());
  if (!copies[0]) {
    state.SkipWithError(("cannot set up " + impl).c_str());
    return;
  }
  const size_t bytes = copies[0]->weight_bytes();
  const size_t count = std::max<size_t>(2, (kStreamBytes + bytes - 1) / bytes);
  while (copies.size() < count) copies.push_back(make());
  for (auto& c : copies) c->Run();  // lazily created state, first-touch of every page
  size_t next = 0;
  for (auto _ : state) {
    copies[next]->Run();
    next = next + 1 == count ? 0 : next + 1;
  }
  const auto iters = static_cast<int64_t>(state.iterations());
  state.SetBytesProcessed(iters * static_cast<int64_t>(bytes));
  state.SetItemsProcessed(iters * static_cast<int64_t>(s.m * s.n * s.k));
  state.counters["copies"] = static_cast<double>(count);
}

// Streaming read probe; one pass = bytes read: `streams` concurrent
// sequential streams (2 for DRAM: more misses in flight; 1 for the
// cache-resident sizes), each summed into two 64-byte vectors. The bench is
// built for baseline x86-64, so on x86 the loop is cloned for AVX-512 and
// AVX2 and the widest the CPU runs is picked at load time: compiled for SSE2
// only, this probe read 27 GB/s from DRAM on a Zen 5 where wide loads (and
// oneDNN's GEMV) reach 36-44 GB/s, flattering every ratio against it.
using ProbeVec = uint64_t __attribute__((vector_size(64)));
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
uint64_t
SumStreams(const ProbeVec* buf, size_t n, size_t streams) {
  const size_t part = n / streams;
  ProbeVec a = {}, b = {}, c = {}, d = {};
  if (streams == 1) {
    for (size_t i = 0; i + 2 <= n; i += 2) {
      a += buf[i];
      b += buf[i + 1];
    }
  } else {
    for (size_t i = 0; i + 2 <= part; i += 2) {
      a += buf[i];
      b += buf[i + 1];
      c += buf[part + i];
      d += buf[part + i + 1];
    }
  }
  const ProbeVec total = a + b + c + d;
  uint64_t sum = 0;
  for (size_t i = 0; i < 8; ++i) sum += total[i];
  return sum;
}

void BM_MemRead(benchmark::State& state, size_t bytes, size_t streams) {
  std::vector<ProbeVec> buf(bytes / sizeof(ProbeVec), ProbeVec{1, 1, 1, 1, 1, 1, 1, 1});
  for (auto _ : state) {
    benchmark::DoNotOptimize(SumStreams(buf.data(), buf.size(), streams));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes));
}

std::string Name(const std::string& impl, const GemmShape& s) {
  std::string name = "gemm/";
  name += impl;
  name += "/M" + std::to_string(s.m);
  name += "xN" + std::to_string(s.n);
  name += "xK" + std::to_string(s.k);
  name += "/threads:" + std::to_string(s.threads);
  return name;
}

void RegisterAll() {
  benchmark::RegisterBenchmark("membw/read", BM_MemRead, size_t{256} << 20, size_t{2})
      ->Unit(benchmark::kMicrosecond);
  for (size_t kib : {256, 1024, 2048, 4096})
    benchmark::RegisterBenchmark(("membw/read/" + std::to_string(kib) + "KiB").c_str(), BM_MemRead,
                                 kib * 1024, size_t{1})
        ->Unit(benchmark::kMicrosecond);
  const std::vector<std::string> impls = Impls();
  for (const KN& kn : kShapes)
    for (size_t m : kRows)
      for (size_t t : kThreads)
        for (const std::string& impl : impls) {
          const GemmShape s{m, kn.n, kn.k, t};
          benchmark::RegisterBenchmark(Name(impl, s).c_str(), BM_Gemm, impl, s)
              ->Unit(benchmark::kMicrosecond)
              ->UseRealTime();
        }
  // The encoder's attention products per head and 48-row query block at
  // paper scale for 60 s (T = 1500, head size 64): q.k^T (N = T, K = 64)
  // and p.v (N = 64, K = T), on the fp32 kernels.
  for (const KN& kn : {KN{1500, 64}, KN{64, 1500}})
    for (const std::string& impl : impls) {
      if (impl != "qasr_f32panel" && impl != "onednn_f32" && impl != "xnnpack_f32") continue;
      const GemmShape s{48, kn.n, kn.k, 1};
      benchmark::RegisterBenchmark(Name(impl, s).c_str(), BM_Gemm, impl, s)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
  // GEMV-like calls with DRAM-resident weights: the big layers and the
  // vocabulary projection, for one row and for a decoder step over 5 beams.
  for (const KN& kn : {KN{1024, 4096}, KN{4096, 1024}, KN{1024, 5000}})
    for (size_t m : {1, 5})
      for (const std::string& impl : impls) {
        if (impl == "qasr_f32dense") continue;  // same weights as qasr_f32panel, slower form
        const GemmShape s{m, kn.n, kn.k, 1};
        benchmark::RegisterBenchmark((Name(impl, s) + "/stream").c_str(), BM_GemmStream, impl, s)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
}

}  // namespace
}  // namespace qasr::bench

int main(int argc, char** argv) {
  return qasr::bench::RunBenchmarks(argc, argv, qasr::bench::RegisterAll);
}
