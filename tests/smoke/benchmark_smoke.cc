// A Google Benchmark binary with one benchmark: proves the library links and runs.
#include <benchmark/benchmark.h>

#include <numeric>
#include <vector>

static void BM_SmokeDotProduct(benchmark::State& state) {
  const auto n = static_cast<size_t>(state.range(0));
  std::vector<float> a(n, 1.5f), b(n, 2.0f);
  for (auto _ : state) {
    benchmark::DoNotOptimize(std::inner_product(a.begin(), a.end(), b.begin(), 0.f));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
}
BENCHMARK(BM_SmokeDotProduct)->Arg(256);

BENCHMARK_MAIN();
