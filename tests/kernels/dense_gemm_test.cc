// Dense fp32 GEMM: every compiled target this CPU supports against a double
// reference, over M/N/K remainders and strides, with and without a pool.
#include "kernels/dense/dense_gemm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <span>
#include <vector>

#include "kernels/ref/norm_ref.h"
#include "tests/kernels/test_util.h"

namespace qasr::kernels {
namespace {

struct Shape {
  size_t m, n, k;
};

TEST(DenseGemm, AllTargetsMatchReference) {
  const Shape shapes[] = {{1, 1, 1},   {1, 7, 3},   {2, 33, 17},  {5, 96, 96},   {4, 64, 320},
                          {3, 5, 192}, {17, 9, 48}, {64, 40, 96}, {70, 130, 65}, {250, 96, 96}};
  ThreadPool pool(testing::TestThreads(3));
  std::mt19937 rng(7);
  std::normal_distribution<float> dist;
  for (const DenseKernels* kt : SupportedDenseKernels()) {
    for (const Shape& s : shapes) {
      const size_t lda = s.k + 3, ldw = s.k + 1, ldy = s.n + 2;
      std::vector<float> x(s.m * lda), w(s.n * ldw), bias(s.n);
      for (auto& v : x) v = dist(rng);
      for (auto& v : w) v = dist(rng);
      for (auto& v : bias) v = dist(rng);
      for (bool with_bias : {false, true}) {
        for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
          std::vector<float> y(s.m * ldy, -7.0f);
          ASSERT_TRUE(DenseGemm(*kt, x.data(), lda, s.m, w.data(), ldw, s.n, s.k,
                                with_bias ? bias.data() : nullptr, y.data(), ldy, p)
                          .ok());
          for (size_t i = 0; i < s.m; ++i)
            for (size_t j = 0; j < ldy; ++j) {
              if (j >= s.n) {
                ASSERT_EQ(y[i * ldy + j], -7.0f) << "wrote past N";
                continue;
              }
              double ref = with_bias ? bias[j] : 0.0, mag = std::fabs(ref);
              for (size_t t = 0; t < s.k; ++t) {
                ref += static_cast<double>(x[i * lda + t]) * w[j * ldw + t];
                mag += std::fabs(static_cast<double>(x[i * lda + t]) * w[j * ldw + t]);
              }
              ASSERT_NEAR(y[i * ldy + j], ref, 1e-6 * mag + 1e-6)
                  << kt->name << " M" << s.m << " N" << s.n << " K" << s.k;
            }
        }
      }
    }
  }
}

TEST(DenseGemm, PanelsMatchReference) {
  const Shape shapes[] = {{1, 1, 1},   {1, 17, 3},   {2, 33, 9},   {5, 96, 96},   {7, 64, 320},
                          {6, 5, 192}, {17, 16, 48}, {64, 40, 96}, {70, 130, 65}, {250, 96, 96}};
  ThreadPool pool(testing::TestThreads(3));
  std::mt19937 rng(9);
  std::normal_distribution<float> dist;
  for (const DenseKernels* kt : SupportedDenseKernels()) {
    for (const Shape& s : shapes) {
      for (bool transposed : {false, true}) {
        const size_t lda = s.k + 1, ldw = (transposed ? s.n : s.k) + 2, ldy = s.n + 1;
        std::vector<float> x(s.m * lda), w((transposed ? s.k : s.n) * ldw), bias(s.n);
        for (auto& v : x) v = dist(rng);
        for (auto& v : w) v = dist(rng);
        for (auto& v : bias) v = dist(rng);
        DensePanels panels;
        ASSERT_TRUE(PackPanels(w.data(), ldw, s.n, s.k, transposed, panels).ok());
        for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
          std::vector<float> y(s.m * ldy, -7.0f);
          ASSERT_TRUE(
              DenseGemmPanels(*kt, x.data(), lda, s.m, panels, bias.data(), y.data(), ldy, p).ok());
          for (size_t i = 0; i < s.m; ++i)
            for (size_t j = 0; j < ldy; ++j) {
              if (j >= s.n) {
                ASSERT_EQ(y[i * ldy + j], -7.0f) << "wrote past N";
                continue;
              }
              double ref = bias[j], mag = std::fabs(ref);
              for (size_t t = 0; t < s.k; ++t) {
                const float wv = transposed ? w[t * ldw + j] : w[j * ldw + t];
                ref += static_cast<double>(x[i * lda + t]) * wv;
                mag += std::fabs(static_cast<double>(x[i * lda + t]) * wv);
              }
              ASSERT_NEAR(y[i * ldy + j], ref, 1e-6 * mag + 1e-6)
                  << kt->name << " M" << s.m << " N" << s.n << " K" << s.k;
            }
        }
      }
    }
  }
}

// Packing split between threads writes the same panels, padding included:
// one panel per task (K = 1500), several per task (K = 64), N not a multiple
// of the panel width, both source layouts, 2 and 3 threads.
TEST(DenseGemm, PackPanelsOnAPoolIsBitIdentical) {
  if (testing::NoThreads()) GTEST_SKIP() << "QASR_TEST_NO_THREADS is set";
  const size_t dims[][2] = {{1, 1}, {17, 64}, {100, 1500}, {1024, 64}, {333, 257}};
  std::mt19937 rng(11);
  std::normal_distribution<float> dist;
  for (size_t threads : {2, 3}) {
    ThreadPool pool(threads);
    for (const auto& [n, k] : dims)
      for (bool transposed : {false, true}) {
        const size_t ldw = (transposed ? n : k) + 3;
        std::vector<float> w((transposed ? k : n) * ldw);
        for (auto& v : w) v = dist(rng);
        DensePanels serial, parallel;
        ASSERT_TRUE(PackPanels(w.data(), ldw, n, k, transposed, serial).ok());
        ASSERT_TRUE(PackPanels(w.data(), ldw, n, k, transposed, parallel, &pool).ok());
        ASSERT_EQ(serial.panels, parallel.panels);
        const size_t floats = serial.panels * k * kPanelCols;
        EXPECT_EQ(std::memcmp(serial.data.get(), parallel.data.get(), floats * sizeof(float)), 0)
            << "N" << n << " K" << k << " transposed " << transposed << " threads " << threads;
      }
  }
}

// Packing a block of source rows at a time (into storage that starts as
// garbage) gives PackPanels' bytes, padding included; misplaced blocks are
// errors.
TEST(DenseGemm, PackPanelRowsInBlocksIsBitIdentical) {
  const size_t dims[][2] = {{1, 1}, {17, 64}, {100, 1500}, {64, 40}, {333, 257}};
  std::mt19937 rng(12);
  std::normal_distribution<float> dist;
  for (const auto& [n, k] : dims)
    for (bool transposed : {false, true})
      for (size_t block : {size_t{16}, size_t{48}, size_t{256}}) {
        const size_t ldw = (transposed ? n : k) + 3, rows = transposed ? k : n;
        std::vector<float> w(rows * ldw);
        for (auto& v : w) v = dist(rng);
        DensePanels whole, pieces;
        ASSERT_TRUE(PackPanels(w.data(), ldw, n, k, transposed, whole).ok());
        ASSERT_TRUE(ResizePanels(n, k, pieces).ok());
        std::fill_n(pieces.data.get(), pieces.capacity, std::nanf(""));
        // Blocks in reverse order, each copied out of w as a producer would.
        for (size_t r1 = rows; r1 > 0;) {
          const size_t r0 = (r1 - 1) / block * block;
          std::vector<float> rows_block(w.begin() + static_cast<ptrdiff_t>(r0 * ldw),
                                        w.begin() + static_cast<ptrdiff_t>(r1 * ldw));
          ASSERT_TRUE(PackPanelRows(rows_block.data(), ldw, n, k, transposed, r0, r1, pieces).ok());
          r1 = r0;
        }
        ASSERT_EQ(whole.panels, pieces.panels);
        const size_t floats = whole.panels * k * kPanelCols;
        EXPECT_EQ(std::memcmp(whole.data.get(), pieces.data.get(), floats * sizeof(float)), 0)
            << "N" << n << " K" << k << " transposed " << transposed << " block " << block;
      }
  DensePanels p;
  std::vector<float> w(64 * 64, 1.0f);
  ASSERT_TRUE(ResizePanels(64, 64, p).ok());
  EXPECT_FALSE(PackPanelRows(w.data(), 64, 64, 64, false, 8, 24, p).ok());  // not on panels
  EXPECT_FALSE(PackPanelRows(w.data(), 64, 64, 64, false, 0, 65, p).ok());  // past N
  EXPECT_FALSE(PackPanelRows(w.data(), 64, 64, 64, true, 10, 9, p).ok());   // empty the wrong way
  EXPECT_FALSE(PackPanelRows(w.data(), 64, 32, 64, true, 0, 8, p).ok());    // sized for 64 x 64
  EXPECT_FALSE(PackPanelRows(w.data(), 8, 64, 64, false, 0, 16, p).ok());   // stride < K
  EXPECT_FALSE(ResizePanels(0, 4, p).ok());
}

TEST(DenseGemm, SoftmaxMatchesReference) {
  std::mt19937 rng(11);
  std::normal_distribution<float> dist(0.0f, 4.0f);
  for (const DenseKernels* kt : SupportedDenseKernels()) {
    for (size_t n : {1, 2, 7, 8, 16, 33, 100, 257}) {
      std::vector<float> x(n);
      for (auto& v : x) v = dist(rng);
      if (n > 3) x[2] = -150.0f;  // underflows to 0
      std::vector<double> ref(n);
      double mx = x[0], sum = 0.0;
      for (float v : x) mx = std::max<double>(mx, v);
      for (size_t i = 0; i < n; ++i) sum += ref[i] = std::exp(x[i] - mx);
      kt->softmax(x.data(), n);
      for (size_t i = 0; i < n; ++i)
        ASSERT_NEAR(x[i], ref[i] / sum, 1e-6 * ref[i] / sum + 1e-9) << kt->name << " n" << n;
    }
  }
}

// One query row over gathered keys/values (rows of a wider cache, reached
// through per-step pointers plus a head offset) against a double reference:
// step counts around the 4-key blocks, head sizes around the vector widths.
TEST(DenseGemm, AttendRowMatchesReference) {
  std::mt19937 rng(13);
  std::normal_distribution<float> dist;
  for (const DenseKernels* kt : SupportedDenseKernels()) {
    for (size_t dim : {1, 5, 16, 24, 64, 100}) {
      for (size_t steps : {1, 3, 4, 5, 8, 13, 40}) {
        const size_t width = 3 * dim + 2, offset = dim + 1;  // this head's slice of a row
        std::vector<float> cache_k(steps * width), cache_v(steps * width), q(dim);
        for (auto& v : cache_k) v = dist(rng);
        for (auto& v : cache_v) v = dist(rng);
        for (auto& v : q) v = dist(rng);
        // Gathered in reverse order, as a reordered beam's history may be.
        std::vector<const float*> keys(steps), values(steps);
        for (size_t t = 0; t < steps; ++t) {
          keys[t] = cache_k.data() + (steps - 1 - t) * width;
          values[t] = cache_v.data() + (steps - 1 - t) * width;
        }
        const float scale = 0.37f;
        std::vector<double> p(steps), ref(dim, 0.0);
        double mx = -1e300, sum = 0.0;
        for (size_t t = 0; t < steps; ++t) {
          double dot = 0.0;
          for (size_t j = 0; j < dim; ++j)
            dot += static_cast<double>(q[j] * scale) * keys[t][offset + j];
          p[t] = dot;
          mx = std::max(mx, dot);
        }
        for (auto& v : p) sum += v = std::exp(v - mx);
        for (size_t t = 0; t < steps; ++t)
          for (size_t j = 0; j < dim; ++j) ref[j] += p[t] / sum * values[t][offset + j];
        std::vector<float> scores(steps), out(dim, -5.0f);
        kt->attend_row(q.data(), scale, keys.data(), values.data(), offset, steps, dim,
                       scores.data(), out.data());
        for (size_t t = 0; t < steps; ++t)
          ASSERT_NEAR(scores[t], p[t] / sum, 1e-5) << kt->name << " dim" << dim << " s" << steps;
        for (size_t j = 0; j < dim; ++j)
          ASSERT_NEAR(out[j], ref[j], 1e-5 * (1.0 + std::abs(ref[j])))
              << kt->name << " dim" << dim << " steps" << steps << " j" << j;
      }
    }
  }
}

// LayerNorm kernels equal the scalar definition bit for bit on every target:
// row lengths around the 8 partial sums and the vector widths, strided rows,
// in place, a row far from zero mean (cancellation), a constant row (var 0).
TEST(DenseGemm, LayerNormRowsMatchesReferenceBitwise) {
  for (const DenseKernels* kt : SupportedDenseKernels()) {
    for (size_t dim : {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 80, 256, 1000}) {
      const size_t rows = 6, ldx = dim + 3, ldy = dim + 1;
      std::vector<float> x = testing::RandomActivations(rows * ldx, static_cast<uint32_t>(dim));
      for (size_t i = 0; i < dim; ++i) x[ldx + i] += 1000.0f;
      std::fill(x.begin() + 2 * ldx, x.begin() + 2 * ldx + dim, 0.25f);
      const std::vector<float> gamma = testing::RandomActivations(dim, 7);
      const std::vector<float> beta = testing::RandomActivations(dim, 8);
      std::vector<float> y(rows * ldy, -9.0f), r(rows * ldy, -9.0f);
      kt->layer_norm_rows(x.data(), ldx, rows, dim, gamma.data(), beta.data(), 1e-5f, y.data(),
                          ldy);
      ref::LayerNormRows(x.data(), ldx, rows, dim, gamma.data(), beta.data(), 1e-5f, r.data(), ldy);
      ASSERT_EQ(std::memcmp(y.data(), r.data(), y.size() * sizeof(float)), 0)
          << kt->name << " dim " << dim;
      std::vector<float> in_place = x;
      kt->layer_norm_rows(in_place.data(), ldx, rows, dim, gamma.data(), beta.data(), 1e-5f,
                          in_place.data(), ldx);
      for (size_t m = 0; m < rows; ++m)
        ASSERT_EQ(std::memcmp(in_place.data() + m * ldx, r.data() + m * ldy, dim * sizeof(float)),
                  0)
            << kt->name << " dim " << dim << " row " << m;
    }
  }
}

TEST(DenseGemm, LayerNormFreqMatchesReferenceBitwise) {
  for (const DenseKernels* kt : SupportedDenseKernels()) {
    for (size_t channels : {1, 3, 8, 16, 17, 32, 64})
      for (size_t freq : {1, 5, 40, 80})
        for (bool relu : {false, true}) {
          const size_t time = 3, n = time * freq * channels;
          std::vector<float> x =
              testing::RandomActivations(n, static_cast<uint32_t>(channels + freq));
          for (size_t i = 0; i < freq * channels; i += channels) x[i] += 500.0f;
          const std::vector<float> gamma = testing::RandomActivations(freq, 9);
          const std::vector<float> beta = testing::RandomActivations(freq, 10);
          std::vector<float> y = x, r = x;
          std::vector<double> scratch(3 * channels);
          kt->layer_norm_freq(y.data(), time, freq, channels, gamma.data(), beta.data(), 1e-5f,
                              relu, scratch.data());
          ref::LayerNormFreq(r.data(), time, freq, channels, gamma.data(), beta.data(), 1e-5f,
                             relu);
          ASSERT_EQ(std::memcmp(y.data(), r.data(), n * sizeof(float)), 0)
              << kt->name << " channels " << channels << " freq " << freq << " relu " << relu;
          if (relu) {
            for (float v : y) ASSERT_FALSE(std::signbit(v));
          }
        }
  }
}

TEST(DenseGemm, RejectsBadStrides) {
  const DenseKernels& k = ChosenDenseKernels();
  float x[4] = {}, w[4] = {}, y[4] = {};
  EXPECT_FALSE(DenseGemm(k, x, 1, 1, w, 2, 1, 2, nullptr, y, 1, nullptr).ok());
  EXPECT_FALSE(DenseGemm(k, nullptr, 2, 1, w, 2, 1, 2, nullptr, y, 1, nullptr).ok());
  EXPECT_TRUE(DenseGemm(k, x, 2, 0, w, 2, 1, 2, nullptr, y, 1, nullptr).ok());
}

// The direct one-channel 3x3 convolution: bit-identical to im2col + the
// panel GEMM of the same target, and within float rounding of a double
// reference, over odd sizes, channel counts off the 16-column panels and
// frame ranges split across calls.
TEST(DenseGemm, OneChannelConvMatchesIm2colBitForBit) {
  struct ConvShape {
    size_t time, freq, out;
  };
  const ConvShape shapes[] = {{1, 1, 1},    {2, 5, 16},   {7, 13, 17},
                              {30, 80, 16}, {11, 40, 64}, {3, 7, 33}};
  std::mt19937 rng(13);
  std::normal_distribution<float> dist;
  for (const DenseKernels* kt : SupportedDenseKernels()) {
    for (const ConvShape& s : shapes) {
      const size_t pixels = s.time * s.freq;
      std::vector<float> x(pixels), w(s.out * 9), bias(s.out);
      for (auto& v : x) v = dist(rng);
      for (auto& v : w) v = dist(rng);
      for (auto& v : bias) v = dist(rng);
      DensePanels panels;
      ASSERT_TRUE(PackPanels(w.data(), 9, s.out, 9, false, panels).ok());
      const auto at = [&](ptrdiff_t t, ptrdiff_t f) {
        const bool in = t >= 0 && f >= 0 && t < static_cast<ptrdiff_t>(s.time) &&
                        f < static_cast<ptrdiff_t>(s.freq);
        return in ? x[static_cast<size_t>(t) * s.freq + static_cast<size_t>(f)] : 0.0f;
      };
      std::vector<float> patches(pixels * 9);
      for (size_t t = 0; t < s.time; ++t)
        for (size_t f = 0; f < s.freq; ++f)
          for (size_t k = 0; k < 9; ++k)
            patches[(t * s.freq + f) * 9 + k] =
                at(static_cast<ptrdiff_t>(t + k / 3) - 1, static_cast<ptrdiff_t>(f + k % 3) - 1);
      std::vector<float> want(pixels * s.out), got(pixels * s.out, -7.0f);
      ASSERT_TRUE(DenseGemmPanels(*kt, patches.data(), 9, pixels, panels, bias.data(), want.data(),
                                  s.out, nullptr)
                      .ok());
      std::vector<float> pad(3 * (s.freq + 2));
      const size_t mid = s.time / 2;
      ASSERT_TRUE(Conv3x3OneChannel(*kt, x.data(), s.time, s.freq, panels, bias.data(), got.data(),
                                    mid, s.time, pad)
                      .ok());
      ASSERT_TRUE(Conv3x3OneChannel(*kt, x.data(), s.time, s.freq, panels, bias.data(), got.data(),
                                    0, mid, pad)
                      .ok());
      ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0)
          << kt->name << " T" << s.time << " F" << s.freq << " O" << s.out;
      for (size_t t = 0; t < s.time; ++t)
        for (size_t f = 0; f < s.freq; ++f)
          for (size_t o = 0; o < s.out; ++o) {
            double ref = bias[o], mag = std::fabs(ref);
            for (size_t k = 0; k < 9; ++k) {
              const double term =
                  static_cast<double>(patches[(t * s.freq + f) * 9 + k]) * w[o * 9 + k];
              ref += term;
              mag += std::fabs(term);
            }
            ASSERT_NEAR(got[(t * s.freq + f) * s.out + o], ref, 1e-6 * mag + 1e-6) << kt->name;
          }
    }
  }
}

TEST(DenseGemm, OneChannelConvRejectsBadArguments) {
  const DenseKernels& k = ChosenDenseKernels();
  std::vector<float> w(16 * 9, 1.0f), x(4 * 5, 1.0f), y(4 * 5 * 16), pad(3 * 7);
  DensePanels panels, wrong_k;
  ASSERT_TRUE(PackPanels(w.data(), 9, 16, 9, false, panels).ok());
  ASSERT_TRUE(PackPanels(w.data(), 8, 16, 8, false, wrong_k).ok());
  EXPECT_TRUE(Conv3x3OneChannel(k, x.data(), 4, 5, panels, nullptr, y.data(), 0, 4, pad).ok());
  EXPECT_FALSE(Conv3x3OneChannel(k, x.data(), 4, 5, wrong_k, nullptr, y.data(), 0, 4, pad).ok());
  EXPECT_FALSE(Conv3x3OneChannel(k, x.data(), 4, 5, panels, nullptr, y.data(), 0, 5, pad).ok());
  EXPECT_FALSE(Conv3x3OneChannel(k, x.data(), 4, 5, panels, nullptr, y.data(), 3, 2, pad).ok());
  EXPECT_FALSE(Conv3x3OneChannel(k, x.data(), 4, 5, panels, nullptr, y.data(), 0, 4,
                                 std::span<float>(pad).first(20))
                   .ok());
  EXPECT_FALSE(Conv3x3OneChannel(k, nullptr, 4, 5, panels, nullptr, y.data(), 0, 4, pad).ok());
}

}  // namespace
}  // namespace qasr::kernels
