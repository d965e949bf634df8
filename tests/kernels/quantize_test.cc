// Activation quantization: every target equals the scalar definition bit for
// bit (codes, row scales, group sums), including ties and all-zero rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>

#include "kernels/gemm/gemm.h"
#include "kernels/ref/gemm_ref.h"
#include "tests/kernels/test_util.h"

namespace qasr::kernels {
namespace {

class QuantizeTest : public ::testing::TestWithParam<const GemmKernels*> {};

void ExpectSame(const QuantizedActivations& a, const QuantizedActivations& b) {
  ASSERT_EQ(a.rows, b.rows);
  for (size_t m = 0; m < a.rows; ++m) {
    ASSERT_EQ(std::memcmp(a.row(m), b.row(m), a.padded_cols), 0) << "row " << m;
    EXPECT_EQ(a.scales[m], b.scales[m]) << "row " << m;
  }
  EXPECT_EQ(a.sums, b.sums);
}

TEST_P(QuantizeTest, TiesRoundHalfToEven) {
  const WeightLayout l = *WeightLayout::Make({4, 8, 40, 32});
  // amax = 127 makes inv exactly 1, so x * inv keeps the .5 ties.
  std::vector<float> x = {127.0f, 2.5f, -3.5f, 0.5f, -0.5f, 126.5f, -126.5f, 1.5f, -2.5f, 3.5f};
  x.resize(40, 4.5f);
  QuantizedActivations q;
  ASSERT_TRUE(QuantizeActivations(*GetParam(), x.data(), 40, 1, l, q, nullptr).ok());
  const int8_t expect[] = {127, 2, -4, 0, 0, 126, -126, 2, -2, 4};
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(q.row(0)[i], expect[i]) << i;
  for (size_t i = 10; i < 40; ++i) EXPECT_EQ(q.row(0)[i], 4) << i;
  EXPECT_EQ(q.scales[0], 1.0f);
}

TEST_P(QuantizeTest, ZeroAndTinyRowsGiveZeroCodes) {
  const WeightLayout l = *WeightLayout::Make({4, 8, 70, 32});
  std::vector<float> x(3 * 70, 0.0f);
  x[70 + 5] = 1e-38f;     // 127 / amax overflows
  x[140 + 69] = -1e-30f;  // tiny but fine
  QuantizedActivations q, r;
  ASSERT_TRUE(QuantizeActivations(*GetParam(), x.data(), 70, 3, l, q, nullptr).ok());
  ASSERT_TRUE(r.Reshape(3, l).ok());
  ref::QuantizeActivations(x.data(), 70, r, l);
  ExpectSame(q, r);
  EXPECT_EQ(q.scales[0], 0.0f);
  EXPECT_EQ(q.scales[1], 0.0f);
  EXPECT_EQ(q.row(2)[69], -127);
}

TEST_P(QuantizeTest, MatchesReferenceOnRandomRows) {
  for (size_t k : {1, 7, 31, 32, 33, 100, 1000, 4099})
    for (size_t g : {32, 64, 128, 100000}) {
      const WeightLayout l = *WeightLayout::Make({4, 8, k, g});
      const size_t rows = 5, lda = k + 3;
      std::vector<float> buf = testing::RandomActivations(rows * lda + 1, static_cast<uint32_t>(k));
      const float* x = buf.data() + 1;  // misaligned rows
      QuantizedActivations q, r;
      ThreadPool pool(testing::TestThreads(2));
      ASSERT_TRUE(QuantizeActivations(*GetParam(), x, lda, rows, l, q, &pool).ok());
      ASSERT_TRUE(r.Reshape(rows, l).ok());
      ref::QuantizeActivations(x, lda, r, l);
      ExpectSame(q, r);
    }
}

// Bitwise (so +0 and -0 differ) equality with the scalar definition, for row
// lengths below, at and around the vector widths, misaligned rows, strides
// with gaps that must stay untouched, zero and tiny rows, and ties.
TEST_P(QuantizeTest, FakeQuantizeMatchesReferenceBitwise) {
  for (size_t k : {1, 3, 9, 15, 16, 17, 31, 144, 288, 1000}) {
    const size_t rows = 37, lda = k + 5, ldy = k + 2;
    std::vector<float> buf = testing::RandomActivations(rows * lda + 1, static_cast<uint32_t>(k));
    float* x = buf.data() + 1;                      // misaligned rows
    std::fill(x + 3 * lda, x + 3 * lda + k, 0.0f);  // all-zero row
    std::fill(x + 4 * lda, x + 4 * lda + k, 0.0f);
    x[4 * lda + k - 1] = 1e-38f;  // 127 / amax overflows: all-zero codes
    x[5 * lda] = 127.0f;          // inv = 1: ties stay ties
    for (size_t i = 1; i < k; ++i) x[5 * lda + i] = -0.5f * static_cast<float>(i);
    x[6 * lda] = -1.0f;  // tiny negatives round to -0 before the + 0
    for (size_t i = 1; i < k; ++i) x[6 * lda + i] = -1e-4f;
    const float sentinel = 12345.0f;
    std::vector<float> y(rows * ldy, sentinel), r(rows * ldy, sentinel);
    ThreadPool pool(testing::TestThreads(2));
    ASSERT_TRUE(FakeQuantizeActivations(*GetParam(), x, lda, rows, k, y.data(), ldy, &pool).ok());
    for (size_t m = 0; m < rows; ++m) ref::FakeQuantizeRow(x + m * lda, k, r.data() + m * ldy);
    ASSERT_EQ(std::memcmp(y.data(), r.data(), y.size() * sizeof(float)), 0) << "k = " << k;
    for (size_t m = 0; m < rows; ++m)
      for (size_t i = k; i < ldy; ++i) ASSERT_EQ(y[m * ldy + i], sentinel);
    if (k > 1) {
      EXPECT_FALSE(std::signbit(y[6 * ldy + 1])) << "k = " << k;
      EXPECT_EQ(y[5 * ldy + 1], 0.0f);  // -0.5 rounds to even 0
    }
  }
}

// im2col rows of output frames [t0, t1) (engine/ops/conv2d.cc's layout).
std::vector<float> Im2col(const std::vector<float>& x, size_t time, size_t freq, size_t cin,
                          size_t k, size_t t0, size_t t1) {
  const size_t pad = k / 2, cols = k * k * cin;
  std::vector<float> rows((t1 - t0) * freq * cols, 0.0f);
  for (size_t t = t0; t < t1; ++t)
    for (size_t f = 0; f < freq; ++f)
      for (size_t i = 0; i < k; ++i)
        for (size_t j = 0; j < k; ++j) {
          const ptrdiff_t tt = static_cast<ptrdiff_t>(t + i) - static_cast<ptrdiff_t>(pad);
          const ptrdiff_t ff = static_cast<ptrdiff_t>(f + j) - static_cast<ptrdiff_t>(pad);
          if (tt < 0 || tt >= static_cast<ptrdiff_t>(time) || ff < 0 ||
              ff >= static_cast<ptrdiff_t>(freq))
            continue;
          for (size_t c = 0; c < cin; ++c)
            rows[((t - t0) * freq + f) * cols + (i * k + j) * cin + c] =
                x[(static_cast<size_t>(tt) * freq + static_cast<size_t>(ff)) * cin + c];
        }
  return rows;
}

// Fused patch quantization = im2col + QuantizeActivations, bit for bit, with
// zero padding at every edge, all-zero patches, odd channel counts and
// kernel sizes 1, 3, 5.
TEST_P(QuantizeTest, ConvPatchesMatchIm2colThenQuantize) {
  const size_t time = 7;
  for (size_t cin : {1, 3, 16, 17})
    for (size_t k : {1, 3, 5})
      for (size_t freq : {1, 2, 9, 17, 40, 80}) {
        std::vector<float> x = testing::RandomActivations(
            time * freq * cin, static_cast<uint32_t>(cin * 100 + k + freq));
        std::fill(x.begin(), x.begin() + 2 * freq * cin, 0.0f);  // zero frames: zero patches
        const size_t cols = k * k * cin;
        const WeightLayout l = *WeightLayout::Make({8, 8, cols, cols});
        for (auto [t0, t1] : {std::pair<size_t, size_t>{0, time}, {3, 5}, {6, 7}}) {
          const std::string where = testing::Cat("cin ", cin, " k ", k, " freq ", freq, " t ", t0);
          QuantizedActivations got, want;
          std::vector<float> scratch;
          ASSERT_TRUE(QuantizeConvPatches(*GetParam(), x.data(), time, freq, cin, k, t0, t1, l, got,
                                          scratch)
                          .ok())
              << where;
          const std::vector<float> rows = Im2col(x, time, freq, cin, k, t0, t1);
          ASSERT_TRUE(QuantizeActivations(*GetParam(), rows.data(), cols, (t1 - t0) * freq, l, want,
                                          nullptr)
                          .ok());
          ASSERT_NO_FATAL_FAILURE(ExpectSame(got, want)) << where;
        }
      }
}

TEST_P(QuantizeTest, ConvPatchesRejectBadArguments) {
  std::vector<float> x(4 * 5 * 2, 1.0f), scratch;
  QuantizedActivations q;
  const WeightLayout l = *WeightLayout::Make({8, 8, 18, 18});
  const GemmKernels& k = *GetParam();
  EXPECT_TRUE(QuantizeConvPatches(k, x.data(), 4, 5, 2, 3, 0, 4, l, q, scratch).ok());
  EXPECT_FALSE(QuantizeConvPatches(k, nullptr, 4, 5, 2, 3, 0, 4, l, q, scratch).ok());
  EXPECT_FALSE(QuantizeConvPatches(k, x.data(), 4, 5, 2, 2, 0, 4, l, q, scratch).ok());  // even k
  EXPECT_FALSE(
      QuantizeConvPatches(k, x.data(), 4, 5, 2, 3, 0, 5, l, q, scratch).ok());  // t1 > time
  EXPECT_FALSE(QuantizeConvPatches(k, x.data(), 4, 5, 2, 3, 2, 2, l, q, scratch).ok());  // empty
  EXPECT_FALSE(QuantizeConvPatches(k, x.data(), 4, 5, 3, 3, 0, 4, l, q, scratch).ok());  // K != 27
  std::vector<float> wide(4 * 5 * 16, 1.0f);
  const WeightLayout whole = *WeightLayout::Make({8, 8, 144, 144});
  const WeightLayout grouped = *WeightLayout::Make({8, 8, 144, 32});  // 5 groups
  EXPECT_TRUE(QuantizeConvPatches(k, wide.data(), 4, 5, 16, 3, 0, 4, whole, q, scratch).ok());
  EXPECT_FALSE(QuantizeConvPatches(k, wide.data(), 4, 5, 16, 3, 0, 4, grouped, q, scratch).ok());
}

TEST_P(QuantizeTest, FakeQuantizeRejectsBadArguments) {
  std::vector<float> x(40), y(40);
  EXPECT_FALSE(
      FakeQuantizeActivations(*GetParam(), nullptr, 40, 1, 40, y.data(), 40, nullptr).ok());
  EXPECT_FALSE(
      FakeQuantizeActivations(*GetParam(), x.data(), 40, 1, 40, nullptr, 40, nullptr).ok());
  EXPECT_FALSE(
      FakeQuantizeActivations(*GetParam(), x.data(), 39, 1, 40, y.data(), 40, nullptr).ok());
  EXPECT_FALSE(
      FakeQuantizeActivations(*GetParam(), x.data(), 40, 1, 40, y.data(), 39, nullptr).ok());
  EXPECT_FALSE(
      FakeQuantizeActivations(*GetParam(), x.data(), 40, 1, 0, y.data(), 40, nullptr).ok());
}

TEST_P(QuantizeTest, RejectsBadArguments) {
  const WeightLayout l = *WeightLayout::Make({4, 8, 40, 32});
  std::vector<float> x(40);
  QuantizedActivations q;
  EXPECT_FALSE(QuantizeActivations(*GetParam(), nullptr, 40, 1, l, q, nullptr).ok());
  EXPECT_FALSE(QuantizeActivations(*GetParam(), x.data(), 39, 1, l, q, nullptr).ok());
  EXPECT_FALSE(QuantizeActivations(*GetParam(), x.data(), 40, 0, l, q, nullptr).ok());
}

INSTANTIATE_TEST_SUITE_P(Targets, QuantizeTest, ::testing::ValuesIn(SupportedGemmKernels()),
                         [](const auto& info) { return std::string(info.param->name); });

}  // namespace
}  // namespace qasr::kernels
