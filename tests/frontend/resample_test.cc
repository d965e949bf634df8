#include "frontend/audio/resample.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numbers>
#include <random>

#include "tests/frontend/test_audio.h"

namespace qasr::frontend {
namespace {

// SNR (dB) of `y` against the ideal sine of `freq` Hz at `rate`, fitting
// amplitude and phase by least squares, skipping `edge` samples at each end.
double SineSnrDb(const std::vector<float>& y, double rate, double freq, size_t edge) {
  double ss = 0, sc = 0, cc = 0, ys = 0, yc = 0;
  for (size_t i = edge; i + edge < y.size(); ++i) {
    const double s = std::sin(2 * std::numbers::pi * freq * i / rate);
    const double c = std::cos(2 * std::numbers::pi * freq * i / rate);
    ss += s * s, sc += s * c, cc += c * c, ys += y[i] * s, yc += y[i] * c;
  }
  const double det = ss * cc - sc * sc;
  const double a = (ys * cc - yc * sc) / det;
  const double b = (yc * ss - ys * sc) / det;
  double signal = 0, noise = 0;
  for (size_t i = edge; i + edge < y.size(); ++i) {
    const double fit = a * std::sin(2 * std::numbers::pi * freq * i / rate) +
                       b * std::cos(2 * std::numbers::pi * freq * i / rate);
    signal += fit * fit;
    noise += (y[i] - fit) * (y[i] - fit);
  }
  return 10 * std::log10(signal / noise);
}

class ResampleSnrTest : public ::testing::TestWithParam<int> {};

TEST_P(ResampleSnrTest, SineComesOutAt16kWithHighSnr) {
  const int rate = GetParam();
  const double freq = 997.0;
  const auto x = testing::Sine(static_cast<size_t>(rate), rate, freq, 0.5 * 32768);
  auto y = Resample(x, rate, 16000);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_NEAR(static_cast<double>(y->size()), 16000.0, 2.0);
  const double snr = SineSnrDb(*y, 16000, freq, 400);
  std::printf("resample %6d -> 16000 Hz: SNR %.1f dB\n", rate, snr);
  EXPECT_GE(snr, 90.0);
  // The delay is compensated: the output is in phase with the ideal sine.
  const auto ideal = testing::Sine(16000, 16000, freq, 0.5 * 32768);
  double err = 0;
  for (size_t i = 400; i < 15600; ++i) err = std::max(err, std::fabs(double((*y)[i]) - ideal[i]));
  EXPECT_LT(err, 16384 * 1e-3);
}

INSTANTIATE_TEST_SUITE_P(CommonRates, ResampleSnrTest,
                         ::testing::Values(8000, 11025, 22050, 32000, 44100, 48000, 96000));

TEST(ResampleTest, StreamingMatchesOneShotExactly) {
  const auto x = testing::Noise(44100, 3, 10000.0f);
  auto whole = Resample(x, 44100, 16000);
  ASSERT_TRUE(whole.ok());
  std::mt19937 rng(11);
  for (int trial = 0; trial < 3; ++trial) {
    auto stream = StreamingResampler::Create(44100, 16000);
    ASSERT_TRUE(stream.ok());
    std::vector<float> out;
    size_t pos = 0;
    while (pos < x.size()) {
      const size_t n = trial == 0 ? 1 : std::uniform_int_distribution<size_t>(0, 3000)(rng);
      const size_t take = std::min(n, x.size() - pos);
      ASSERT_TRUE(stream->Process({x.data() + pos, take}, &out).ok());
      pos += take;
    }
    ASSERT_TRUE(stream->Finish(&out).ok());
    ASSERT_EQ(out.size(), whole->size()) << "trial " << trial;
    EXPECT_EQ(0, std::memcmp(out.data(), whole->data(), out.size() * 4)) << "trial " << trial;
    EXPECT_FALSE(stream->Process(x, &out).ok());
  }
}

TEST(ResampleTest, EqualRatesCopyAndBadRatesFail) {
  const std::vector<float> x = {1, 2, 3};
  auto y = Resample(x, 16000, 16000);
  ASSERT_TRUE(y.ok());
  EXPECT_EQ(*y, x);
  EXPECT_FALSE(Resample(x, 0, 16000).ok());
  EXPECT_FALSE(Resample(x, 16000, -1).ok());
  auto empty = Resample({}, 44100, 16000);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace qasr::frontend
