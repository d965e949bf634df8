// bench_engine: the graph executor on one model file (QASR_BENCH_MODEL):
// the encoder on a fixed-length utterance and one decoder step for a few
// beams. bench/engine_vs_torch.py runs PyTorch on the same model in the same
// run and prints the ratios (never bare times).
// Names: engine/encode/frames:<F>/threads:<T> (F = 1000, 6000: 10 s, 60 s),
// engine/step/beams:<B>/threads:<T> (a step is averaged over steps 0..kSteps-1 of a fresh search).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "engine/runtime/session.h"

namespace qasr::bench {
namespace {

constexpr int kSteps = 32;

std::shared_ptr<const engine::Model> LoadModel() {
  const char* path = std::getenv("QASR_BENCH_MODEL");
  if (path == nullptr) return nullptr;
  auto m = engine::Model::Load(path);
  return m.ok() ? *m : nullptr;
}

std::vector<float> Features(size_t frames, size_t dim) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  std::vector<float> f(frames * dim);
  for (auto& v : f) v = normal(rng);
  return f;
}

void BM_Encode(benchmark::State& state, size_t frames, int threads) {
  auto model = LoadModel();
  if (!model) return state.SkipWithError("set QASR_BENCH_MODEL to a loadable .qasr");
  engine::Session s(model, threads);
  const auto feats = Features(frames, model->feature_dim());
  if (!s.Encode(feats, frames).ok()) return state.SkipWithError("encode failed");
  for (auto _ : state)
    if (!s.Encode(feats, frames).ok()) return state.SkipWithError("encode failed");
}

void BM_Step(benchmark::State& state, int beams, int threads) {
  auto model = LoadModel();
  if (!model) return state.SkipWithError("set QASR_BENCH_MODEL to a loadable .qasr");
  engine::Session s(model, threads);
  const size_t frames = 400;
  const auto feats = Features(frames, model->feature_dim());
  if (!s.Encode(feats, frames).ok()) return state.SkipWithError("encode failed");
  const size_t vocab = static_cast<size_t>(model->vocab_size());
  std::vector<float> lp(static_cast<size_t>(beams) * vocab);
  std::vector<int32_t> parents(static_cast<size_t>(beams)), tokens(static_cast<size_t>(beams));
  int step = kSteps;
  for (auto _ : state) {
    if (step == kSteps) {
      state.PauseTiming();
      if (!s.BeginDecode(beams).ok()) return state.SkipWithError("BeginDecode failed");
      step = 0;
      state.ResumeTiming();
    }
    const size_t n = step == 0 ? 1 : static_cast<size_t>(beams);
    for (size_t i = 0; i < n; ++i) {
      // Step 1 extends the single first hypothesis; later steps reorder.
      parents[i] = step <= 1 ? 0 : static_cast<int32_t>((i + static_cast<size_t>(step)) % n);
      tokens[i] = step == 0
                      ? 2
                      : static_cast<int32_t>(4 + (i * 7 + static_cast<size_t>(step)) % (vocab - 4));
    }
    if (!s.Step({parents.data(), n}, {tokens.data(), n}, {lp.data(), n * vocab}).ok())
      return state.SkipWithError("step failed");
    ++step;
  }
}

void RegisterAll() {
  for (int threads : {1, 2}) {
    const std::string t = "/threads:" + std::to_string(threads);
    // 10 s and 60 s of audio (the encoder's self-attention is quadratic in length).
    for (size_t frames : {size_t{1000}, size_t{6000}})
      benchmark::RegisterBenchmark(("engine/encode/frames:" + std::to_string(frames) + t).c_str(),
                                   BM_Encode, frames, threads)
          ->Unit(benchmark::kMillisecond);
    for (int beams : {1, 4, 10})
      benchmark::RegisterBenchmark(("engine/step/beams:" + std::to_string(beams) + t).c_str(),
                                   BM_Step, beams, threads)
          ->Unit(benchmark::kMicrosecond);
  }
}

}  // namespace
}  // namespace qasr::bench

int main(int argc, char** argv) {
  qasr::bench::RegisterAll();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
