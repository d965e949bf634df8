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

// Streaming read probe; one pass = bytes read. Cache-resident sizes: one
// sequential pass with four scalar sums (the compiler vectorizes it; the
// fastest form measured here for L2/L3). DRAM (`streams` = 4): four
// concurrent sequential streams of 32-byte vector sums (GCC vector
// extension), which keep more cache-line misses in flight: 15 GB/s against
// 10-11 GB/s for one stream on this machine, the rate oneDNN's f32 GEMV
// also reaches.
void BM_MemRead(benchmark::State& state, size_t bytes, size_t streams) {
  using V = uint64_t __attribute__((vector_size(32)));
  std::vector<V> buf(bytes / sizeof(V), V{1, 1, 1, 1});
  for (auto _ : state) {
    if (streams == 1) {
      const auto* p = reinterpret_cast<const uint64_t*>(buf.data());
      const size_t n = buf.size() * 4;
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (size_t i = 0; i + 4 <= n; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
      }
      benchmark::DoNotOptimize(s0 + s1 + s2 + s3);
    } else {
      const size_t quarter = buf.size() / 4;
      V a = {}, b = {}, c = {}, d = {};
      for (size_t i = 0; i < quarter; ++i) {
        a += buf[i];
        b += buf[quarter + i];
        c += buf[2 * quarter + i];
        d += buf[3 * quarter + i];
      }
      const V total = a + b + c + d;
      benchmark::DoNotOptimize(total);
    }
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
  benchmark::RegisterBenchmark("membw/read", BM_MemRead, size_t{256} << 20, size_t{4})
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
