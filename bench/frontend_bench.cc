// Frontend throughput: seconds of audio turned into features per second of
// CPU, one thread. The torchaudio baseline runs in the same invocation through
// bench/frontend_vs_torchaudio.py, which reads this binary's JSON.
// Audio: $QASR_BENCH_AUDIO (any file libsndfile reads) or, unset, 10 s of
// synthetic tones + noise encoded as 16 kHz and 44.1 kHz 16-bit WAV.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <numbers>
#include <string>
#include <vector>

#include "frontend/frontend.h"

namespace {

using namespace qasr::frontend;

std::vector<uint8_t> SyntheticWav(int rate, double seconds) {
  const auto n = static_cast<size_t>(rate * seconds);
  std::vector<uint8_t> b;
  auto put = [&](uint32_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  auto tag = [&](const char* t) {
    for (; *t != '\0'; ++t) b.push_back(static_cast<uint8_t>(*t));
  };
  b.reserve(44 + 2 * n);
  tag("RIFF");
  put(static_cast<uint32_t>(36 + 2 * n), 4);
  tag("WAVEfmt ");
  put(16, 4), put(1, 2), put(1, 2), put(rate, 4), put(rate * 2, 4), put(2, 2), put(16, 2);
  tag("data");
  put(static_cast<uint32_t>(2 * n), 4);
  uint32_t lcg = 1;
  for (size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / rate;
    double x = 0.3 * std::sin(2 * std::numbers::pi * (200 + 50 * std::sin(t)) * t) +
               0.1 * std::sin(2 * std::numbers::pi * 2500 * t);
    lcg = lcg * 1664525u + 1013904223u;
    x += 0.05 * (static_cast<double>(lcg >> 8) / (1 << 24) - 0.5);
    put(static_cast<uint16_t>(static_cast<int16_t>(x * 32767)), 2);
  }
  return b;
}

std::vector<uint8_t> LoadAudio(const char* env, int synthetic_rate) {
  if (const char* path = std::getenv(env); path != nullptr && *path != '\0') {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  return SyntheticWav(synthetic_rate, 10.0);
}

// Decode (from memory) + resample to 16 kHz + fbank + CMVN.
void BM_FrontendEndToEnd(benchmark::State& state, const char* env, int synthetic_rate) {
  const auto bytes = LoadAudio(env, synthetic_rate);
  auto fbank = Fbank::Create();
  auto probe = DecodeMemory(bytes);
  if (!fbank.ok() || !probe.ok()) {
    state.SkipWithError(probe.ok() ? "fbank" : probe.status().ToString().c_str());
    return;
  }
  const double audio_s = probe->duration_s();
  for (auto _ : state) {
    auto wave = DecodeMemory(bytes);
    auto features = ComputeFeatures(*fbank, *wave);
    benchmark::DoNotOptimize(features->data.data());
  }
  state.counters["audio_s"] = audio_s;
  state.counters["input_rate"] = probe->sample_rate;
  state.counters["x_realtime"] = benchmark::Counter(
      audio_s * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// Fbank alone on a 16 kHz waveform (no decode, no resampling, no CMVN).
void BM_FbankOnly(benchmark::State& state) {
  const auto bytes = LoadAudio("QASR_BENCH_AUDIO_16K", 16000);
  auto wave = ToFeatureRate(*DecodeMemory(bytes), ResampleQuality::kHigh);
  auto fbank = Fbank::Create();
  for (auto _ : state) {
    auto features = fbank->Compute(wave->samples);
    benchmark::DoNotOptimize(features->data.data());
  }
  state.SetLabel(fbank->kernel_target());
  state.counters["x_realtime"] = benchmark::Counter(
      wave->duration_s() * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

BENCHMARK_CAPTURE(BM_FrontendEndToEnd, wav16k, "QASR_BENCH_AUDIO_16K", 16000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_FrontendEndToEnd, wav44k, "QASR_BENCH_AUDIO_44K", 44100)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FbankOnly)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
