#include "frontend/features/fbank.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "frontend/features/cmvn.h"
#include "frontend/streaming.h"
#include "tests/frontend/test_audio.h"

namespace qasr::frontend {
namespace {

std::vector<float> Speechy(size_t n, uint32_t seed) {
  auto x = testing::Noise(n, seed, 3000.0f);
  const auto tone = testing::Sine(n, 16000, 300.0, 8000.0);
  for (size_t i = 0; i < n; ++i) x[i] += tone[i];
  return x;
}

TEST(FbankTest, FrameCountsFollowSnipEdges) {
  auto fbank = Fbank::Create();
  ASSERT_TRUE(fbank.ok()) << fbank.status().ToString();
  EXPECT_EQ(fbank->window_size(), 400u);
  EXPECT_EQ(fbank->window_shift(), 160u);
  EXPECT_EQ(fbank->dim(), 80u);
  for (auto [n, frames] : std::vector<std::pair<size_t, size_t>>{
           {0, 0}, {1, 0}, {399, 0}, {400, 1}, {559, 1}, {560, 2}, {16000, 98}, {16123, 99}}) {
    EXPECT_EQ(fbank->NumFrames(n), frames) << n;
    auto f = fbank->Compute(std::vector<float>(n, 1.0f));
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(f->num_frames, frames);
    EXPECT_EQ(f->data.size(), frames * 80);
  }
}

TEST(FbankTest, SilenceIsTheLogFloor) {
  auto fbank = Fbank::Create();
  auto f = fbank->Compute(std::vector<float>(1600, 0.0f));
  ASSERT_TRUE(f.ok());
  const float floor = std::log(std::numeric_limits<float>::epsilon());
  for (float v : f->data) EXPECT_FLOAT_EQ(v, floor);
}

// Every compiled SIMD target this CPU runs (own FFT, frames across lanes)
// against the scalar reference (per frame, FFTW), at frame sizes that give
// FFTs with an even and an odd number of radix-2 passes, odd windows, and
// frame counts that leave a partial last batch.
TEST(FbankTest, EverySimdTargetMatchesScalarReference) {
  struct Case {
    int rate;
    float frame_ms;
    float shift_ms;
  };
  // Windows 400 (N 512), 551 (N 1024), 200 (N 256), 1102 (N 2048), 40 (N 64).
  const Case cases[] = {
      {16000, 25, 10}, {22050, 25, 10}, {8000, 25, 10}, {44100, 25, 10}, {16000, 2.5f, 1}};
  const auto kernels = SupportedFbankKernels();
  ASSERT_FALSE(kernels.empty());
  for (const Case& c : cases) {
    FbankOptions options;
    options.sample_rate = c.rate;
    options.frame_length_ms = c.frame_ms;
    options.frame_shift_ms = c.shift_ms;
    options.num_mel_bins = c.frame_ms < 5 ? 10 : 80;
    auto ref = Fbank::Create(options, ScalarFbankKernels());
    ASSERT_TRUE(ref.ok()) << ref.status().ToString();
    for (uint32_t seed : {1u, 2u}) {
      // Speech-like input, and a pure tone whose far bins are ~100 dB down.
      const size_t n = static_cast<size_t>(c.rate) + 77 * seed;
      const auto x = seed == 1 ? Speechy(n, seed) : testing::Sine(n, c.rate, 440.0, 8000.0);
      auto want = ref->Compute(x);
      ASSERT_TRUE(want.ok());
      for (const FbankKernels& k : kernels) {
        auto simd = Fbank::Create(options, k);
        ASSERT_TRUE(simd.ok());
        auto got = simd->Compute(x);
        ASSERT_TRUE(got.ok());
        ASSERT_EQ(got->num_frames, want->num_frames);
        ASSERT_EQ(got->data.size(), want->data.size());
        float worst = 0;
        for (size_t i = 0; i < got->data.size(); ++i)
          worst = std::max(worst, std::fabs(got->data[i] - want->data[i]));
        EXPECT_LT(worst, 2e-5f) << k.name << " at " << c.rate << " Hz, " << c.frame_ms
                                << " ms frames, seed " << seed;
      }
    }
  }
}

TEST(FbankTest, RejectsNonFiniteAndHugeSamples) {
  auto fbank = Fbank::Create();
  std::vector<float> x(800, 1.0f);
  x[123] = std::numeric_limits<float>::quiet_NaN();
  auto f = fbank->Compute(x);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("sample 123"), std::string::npos);
  x[123] = 1e30f;
  EXPECT_FALSE(fbank->Compute(x).ok());
}

TEST(FbankTest, RejectsBadOptions) {
  FbankOptions o;
  o.num_mel_bins = 0;
  EXPECT_FALSE(Fbank::Create(o).ok());
  o = {};
  o.low_freq = 9000;
  EXPECT_FALSE(Fbank::Create(o).ok());
  o = {};
  o.frame_shift_ms = 0;
  EXPECT_FALSE(Fbank::Create(o).ok());
  o = {};
  o.sample_rate = 0;
  EXPECT_FALSE(Fbank::Create(o).ok());
}

TEST(MelTest, TrianglesCoverTheBand) {
  auto mel = MakeMelBanks(80, 512, 16000, 20, 0);
  ASSERT_TRUE(mel.ok());
  for (size_t m = 0; m < 80; ++m) {
    float peak = 0;
    for (size_t k = 0; k < 256; ++k) {
      const float w = mel->Weight(m, k);
      EXPECT_GE(w, 0.0f);
      EXPECT_LE(w, 1.0f);
      peak = std::max(peak, w);
    }
    EXPECT_GT(peak, 0.3f) << m;
  }
  EXPECT_EQ(mel->Weight(0, 0), 0.0f);  // 0 Hz is below 20 Hz
  EXPECT_FALSE(MakeMelBanks(80, 512, 16000, 20, 9000).ok());
}

TEST(StreamingFbankTest, RandomChunksGiveIdenticalFrames) {
  auto fbank = Fbank::Create();
  const auto x = Speechy(16000 * 2 + 31, 2);
  auto whole = fbank->Compute(x);
  ASSERT_TRUE(whole.ok());
  std::mt19937 rng(7);
  for (int trial = 0; trial < 4; ++trial) {
    StreamingFbank stream(*fbank);
    Features out;
    size_t pos = 0;
    while (pos < x.size()) {
      // Trial 0: one sample at a time; others: random sizes up to 2000.
      const size_t n = trial == 0 ? 1 : std::uniform_int_distribution<size_t>(0, 2000)(rng);
      const size_t take = std::min(n, x.size() - pos);
      ASSERT_TRUE(stream.Accept({x.data() + pos, take}, &out).ok());
      pos += take;
      EXPECT_EQ(out.num_frames, fbank->NumFrames(pos));
    }
    ASSERT_EQ(out.num_frames, whole->num_frames);
    EXPECT_EQ(0, std::memcmp(out.data.data(), whole->data.data(), out.data.size() * 4))
        << "trial " << trial;
  }
}

TEST(StreamingFbankTest, RejectsNonFiniteChunkWithoutConsumingIt) {
  auto fbank = Fbank::Create();
  StreamingFbank stream(*fbank);
  Features out;
  std::vector<float> bad(100, 0.0f);
  bad[5] = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(stream.Accept(bad, &out).ok());
  EXPECT_EQ(stream.samples_accepted(), 0u);
}

Features Make(size_t frames, size_t dim, const std::function<float(size_t, size_t)>& f) {
  Features x;
  x.num_frames = frames;
  x.dim = dim;
  for (size_t t = 0; t < frames; ++t) {
    for (size_t j = 0; j < dim; ++j) x.data.push_back(f(t, j));
  }
  return x;
}

TEST(CmvnTest, NormalisesWithUnbiasedStd) {
  auto x = Make(5, 2, [](size_t t, size_t j) { return float(t * t + 3 * j); });
  ApplyCmvn(&x);
  for (size_t j = 0; j < 2; ++j) {
    double mean = 0, var = 0;
    for (size_t t = 0; t < 5; ++t) mean += x.row(t)[j];
    mean /= 5;
    for (size_t t = 0; t < 5; ++t) var += (x.row(t)[j] - mean) * (x.row(t)[j] - mean);
    EXPECT_NEAR(mean, 0.0, 1e-6);
    EXPECT_NEAR(var / 4, 1.0, 1e-5);  // unbiased
  }
}

TEST(CmvnTest, TinyVarianceInOneDimUsesStdPlusEpsilonEverywhere) {
  // dim 0 constant (variance 0 < 1e-8), dim 1 values 0, 2 (std sqrt(2)).
  auto x = Make(2, 2, [](size_t t, size_t j) { return j == 0 ? 5.0f : 2.0f * t; });
  ApplyCmvn(&x);
  EXPECT_FLOAT_EQ(x.row(0)[0], 0.0f);
  EXPECT_FLOAT_EQ(x.row(1)[1], static_cast<float>(1.0 / (std::sqrt(2.0) + 1e-8)));
}

TEST(CmvnTest, FewerThanTwoFramesUnchanged) {
  auto x = Make(1, 3, [](size_t, size_t j) { return float(j + 1); });
  ApplyCmvn(&x);
  EXPECT_EQ(x.data, (std::vector<float>{1, 2, 3}));
  Features empty;
  empty.dim = 80;
  ApplyCmvn(&empty);
  EXPECT_EQ(empty.num_frames, 0u);
}

}  // namespace
}  // namespace qasr::frontend

namespace qasr::frontend {
namespace {

TEST(StreamingFrontendTest, AnyRateInChunksMatchesWholeFile) {
  auto fbank = Fbank::Create();
  ASSERT_TRUE(fbank.ok());
  for (int rate : {16000, 44100, 8000}) {
    const auto x = testing::Noise(static_cast<size_t>(rate) + 1234, 5, 8000.0f);
    auto whole = ComputeFeatures(*fbank, Waveform{rate, x}, {.cmvn = false});
    ASSERT_TRUE(whole.ok());
    auto stream = StreamingFrontend::Create(*fbank, rate);
    ASSERT_TRUE(stream.ok());
    Features out;
    std::mt19937 rng(static_cast<uint32_t>(rate));
    for (size_t pos = 0; pos < x.size();) {
      const size_t take =
          std::min(std::uniform_int_distribution<size_t>(1, 1500)(rng), x.size() - pos);
      ASSERT_TRUE(stream->Accept({x.data() + pos, take}, &out).ok());
      pos += take;
    }
    ASSERT_TRUE(stream->Finish(&out).ok());
    ASSERT_EQ(out.num_frames, whole->num_frames) << rate;
    EXPECT_EQ(0, std::memcmp(out.data.data(), whole->data.data(), out.data.size() * 4)) << rate;
  }
}

}  // namespace
}  // namespace qasr::frontend
