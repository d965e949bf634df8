// GEMM kernels on every compiled target this CPU supports, every bit width
// and group size, awkward shapes: integer group dots identical to the scalar
// reference, fp32 outputs within the documented bound (bit-identical on FMA
// targets), results independent of the thread count.
#include "kernels/gemm/gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <tuple>

#include "kernels/formats/fp16.h"
#include "kernels/ref/gemm_ref.h"
#include "tests/kernels/test_util.h"

namespace qasr::kernels {
namespace {

struct Shape {
  size_t m, n, k;
};
// N = 136 (17 tiles): a call with one row task splits N into tasks of
// tiles / 4 (here 4 tiles + a 1-tile tail), so only these shapes reach the
// 4-tile steps: the GEMV paths (M = 1, 2; 512-bit on VNNI, which also takes
// M = 3 .. 11 in blocks of up to 4 rows: 5 = 4 + 1, 6 = 4 + 2, 11 = 4 + 4 +
// 3) and, from 12 rows, the VNNI panel kernel
// (K = 1100: two K blocks). Smaller N gets
// 1-2 tiles per task.
constexpr Shape kShapes[] = {{1, 1, 1},      {1, 7, 31},      {2, 8, 32},     {3, 9, 33},
                             {4, 16, 64},    {5, 23, 97},     {7, 1, 128},    {8, 13, 257},
                             {13, 40, 100},  {1, 64, 1000},   {67, 37, 300},  {9, 100, 517},
                             {11, 19, 1100}, {1, 136, 300},   {2, 136, 300},  {5, 136, 300},
                             {6, 136, 300},  {11, 136, 1100}, {40, 136, 300}, {24, 136, 1100}};
constexpr size_t kGroups[] = {32, 64, 128, 1u << 20};  // the last is "whole row"

bool HasFma(const GemmKernels& k) {
  const std::string n = k.name;
  return n == "AVX2" || n == "AVX3" || n == "AVX3_DL" || n == "NEON" || n == "SVE" || n == "SVE2";
}

// Tolerance: |y - ref| <= (steps + 2) * 2^-23 * sum of |terms| (+ |bias|).
void ExpectClose(const GemmKernels& k, float got, float want, double abs_terms, size_t steps,
                 const std::string& where) {
  if (HasFma(k)) {
    ASSERT_EQ(got, want) << where << " (FMA targets are bit-identical)";
    return;
  }
  const double tol = (static_cast<double>(steps) + 2.0) * 0x1p-23 * abs_terms + 1e-37;
  ASSERT_LE(std::fabs(static_cast<double>(got) - want), tol) << where;
}

struct Problem {
  UnpackedWeights w;
  PackedWeights packed;
  std::vector<float> x_buf, bias_buf;
  const float* x;
  const float* bias;
  size_t lda;
};

// Zero points: random, or the symmetric grid's 2^(b-1) everywhere (8-bit
// weights then take the VNNI panel path), or everywhere but one row of the
// first group (that tile block falls back to the unpanelled path).
enum class Zeros { kRandom, kSymmetric, kSymmetricButOne };

Problem MakeProblem(int bits, const Shape& s, size_t group, uint32_t seed,
                    Zeros zeros = Zeros::kRandom) {
  const WeightShape ws{bits, s.n, s.k, group};
  Problem p{testing::RandomWeights(ws, seed), {}, {}, {}, nullptr, nullptr, s.k + 3};
  if (zeros != Zeros::kRandom) {
    std::fill(p.w.zeros.begin(), p.w.zeros.end(), static_cast<uint8_t>(1u << (bits - 1)));
    if (zeros == Zeros::kSymmetricButOne) p.w.zeros[(s.n / 2) * testing::GroupsOf(ws)] -= 1;
  }
  p.packed = *Pack(ws, p.w.codes, p.w.scales, p.w.zeros);
  p.x_buf = testing::RandomActivations(s.m * p.lda + 1, seed + 1);
  p.x = p.x_buf.data() + 1;  // misaligned
  p.bias_buf = testing::RandomActivations(s.n + 1, seed + 2);
  p.bias = p.bias_buf.data() + 1;
  return p;
}

class GemmTest : public ::testing::TestWithParam<std::tuple<const GemmKernels*, int>> {
 protected:
  const GemmKernels& k() const { return *std::get<0>(GetParam()); }
  int bits() const { return std::get<1>(GetParam()); }

  void CheckA8(const Shape& s, size_t group, uint32_t seed, ThreadPool* pool,
               Zeros zeros = Zeros::kRandom);
  void CheckF32(const Shape& s, size_t group, uint32_t seed, ThreadPool* pool);
};

void GemmTest::CheckA8(const Shape& s, size_t group, uint32_t seed, ThreadPool* pool, Zeros zeros) {
  Problem p = MakeProblem(bits(), s, group, seed, zeros);
  const WeightLayout& l = p.packed.view().layout();
  const std::string where = testing::ShapeName(l.shape, s.m);
  QuantizedActivations q;
  ASSERT_TRUE(QuantizeActivations(k(), p.x, p.lda, s.m, l, q, pool).ok());

  std::vector<int32_t> dots(s.m * s.n * l.groups, -1), want_dots(dots.size());
  ASSERT_TRUE(GemmA8GroupDots(k(), q, p.packed.view(), dots.data(), pool).ok());
  ref::GroupDots(q, p.w, want_dots.data());
  ASSERT_EQ(dots, want_dots) << where;

  const size_t ldy = s.n + 5;
  std::vector<float> y_buf(s.m * ldy + 1, -7.0f), want(s.m * s.n);
  float* y = y_buf.data() + 1;  // misaligned output
  ASSERT_TRUE(GemmA8(k(), q, p.packed.view(), p.bias, y, ldy, pool).ok());
  ref::GemmA8(q, p.w, p.bias, want.data(), s.n);
  for (size_t m = 0; m < s.m; ++m)
    for (size_t n = 0; n < s.n; ++n) {
      double terms = std::fabs(p.bias[n]);
      for (size_t g = 0; g < l.groups; ++g)
        terms += std::fabs(q.scales[m] * F32FromF16(p.w.scales[n * l.groups + g]) *
                           static_cast<double>(want_dots[(m * s.n + n) * l.groups + g]));
      ExpectClose(k(), y[m * ldy + n], want[m * s.n + n], terms, l.groups,
                  testing::Cat(where, " at ", m, ",", n));
      if (n + 1 == s.n) {  // padding columns of y untouched
        for (size_t c = s.n; c < ldy && m * ldy + c < s.m * ldy; ++c)
          ASSERT_EQ(y[m * ldy + c], -7.0f) << where;
      }
    }
}

void GemmTest::CheckF32(const Shape& s, size_t group, uint32_t seed, ThreadPool* pool) {
  Problem p = MakeProblem(bits(), s, group, seed);
  const WeightLayout& l = p.packed.view().layout();
  const std::string where = testing::ShapeName(l.shape, s.m);
  const size_t ldy = s.n + 2;
  std::vector<float> y(s.m * ldy), want(s.m * s.n);
  ASSERT_TRUE(GemmF32(k(), p.x, p.lda, s.m, p.packed.view(), p.bias, y.data(), ldy, pool).ok());
  ref::GemmF32(p.x, p.lda, s.m, p.w, p.bias, want.data(), s.n);
  for (size_t m = 0; m < s.m; ++m)
    for (size_t n = 0; n < s.n; ++n) {
      double terms = std::fabs(p.bias[n]);
      for (size_t kk = 0; kk < s.k; ++kk) {
        const size_t g = kk / l.group_cols;
        terms += std::fabs(F32FromF16(p.w.scales[n * l.groups + g]) * p.x[m * p.lda + kk] *
                           (int{p.w.codes[n * s.k + kk]} - int{p.w.zeros[n * l.groups + g]}));
      }
      ExpectClose(k(), y[m * ldy + n], want[m * s.n + n], terms, s.k + l.groups,
                  testing::Cat(where, " f32 at ", m, ",", n));
    }
}

TEST_P(GemmTest, A8MatchesReference) {
  uint32_t seed = 100;
  for (const Shape& s : kShapes)
    for (size_t g : kGroups) ASSERT_NO_FATAL_FAILURE(CheckA8(s, g, ++seed, nullptr));
}

TEST_P(GemmTest, A8SymmetricMatchesReference) {
  uint32_t seed = 300;
  for (const Shape& s : kShapes)
    for (size_t g : kGroups) {
      ASSERT_NO_FATAL_FAILURE(CheckA8(s, g, ++seed, nullptr, Zeros::kSymmetric));
      ASSERT_NO_FATAL_FAILURE(CheckA8(s, g, ++seed, nullptr, Zeros::kSymmetricButOne));
    }
}

TEST_P(GemmTest, F32MatchesReference) {
  uint32_t seed = 200;
  for (const Shape& s : kShapes)
    for (size_t g : kGroups) ASSERT_NO_FATAL_FAILURE(CheckF32(s, g, ++seed, nullptr));
}

TEST_P(GemmTest, LargeShapesThreaded) {
  ThreadPool pool(testing::TestThreads(3));
  ASSERT_NO_FATAL_FAILURE(CheckA8({70, 137, 1100}, 128, 7, &pool));
  // More rows than one task's row block (288): two row tasks, the second short.
  ASSERT_NO_FATAL_FAILURE(CheckA8({301, 70, 260}, 64, 10, &pool));
  ASSERT_NO_FATAL_FAILURE(CheckA8({1, 301, 2113}, 1u << 20, 8, &pool));
  ASSERT_NO_FATAL_FAILURE(CheckF32({19, 61, 1100}, 64, 9, &pool));
}

TEST_P(GemmTest, ResultsIndependentOfThreadCount) {
  if (testing::NoThreads()) GTEST_SKIP() << "QASR_TEST_NO_THREADS is set";
  const Shape s{37, 200, 256};
  Problem p = MakeProblem(bits(), s, 64, 11);
  const PackedWeightsView& w = p.packed.view();
  QuantizedActivations q;
  ASSERT_TRUE(QuantizeActivations(k(), p.x, p.lda, s.m, w.layout(), q, nullptr).ok());
  std::vector<float> one(s.m * s.n), many(s.m * s.n), f_one(one.size()), f_many(one.size());
  ASSERT_TRUE(GemmA8(k(), q, w, p.bias, one.data(), s.n, nullptr).ok());
  ASSERT_TRUE(GemmF32(k(), p.x, p.lda, s.m, w, p.bias, f_one.data(), s.n, nullptr).ok());
  for (size_t threads : {2, 3, 5}) {
    ThreadPool pool(threads);
    ASSERT_TRUE(GemmA8(k(), q, w, p.bias, many.data(), s.n, &pool).ok());
    ASSERT_TRUE(GemmF32(k(), p.x, p.lda, s.m, w, p.bias, f_many.data(), s.n, &pool).ok());
    EXPECT_EQ(std::memcmp(one.data(), many.data(), one.size() * 4), 0) << threads;
    EXPECT_EQ(std::memcmp(f_one.data(), f_many.data(), one.size() * 4), 0) << threads;
  }
}

TEST_P(GemmTest, ExtremeScalesStayExact) {
  const Shape s{3, 17, 96};
  Problem p = MakeProblem(bits(), s, 32, 13);
  for (size_t i = 0; i < p.w.scales.size(); ++i)
    p.w.scales[i] = (i % 3 == 0) ? 0x7BFF : (i % 3 == 1) ? 0x0001 : 0x8400;  // max, min, -2^-14
  for (size_t i = 0; i < p.w.codes.size(); ++i) p.w.codes[i] = (i % 2) ? (1 << bits()) - 1 : 0;
  const WeightShape ws{bits(), s.n, s.k, 32};
  PackedWeights packed = *Pack(ws, p.w.codes, p.w.scales, p.w.zeros);
  QuantizedActivations q;
  ASSERT_TRUE(QuantizeActivations(k(), p.x, p.lda, s.m, packed.view().layout(), q, nullptr).ok());
  std::vector<int32_t> dots(s.m * s.n * 3), want(dots.size());
  ASSERT_TRUE(GemmA8GroupDots(k(), q, packed.view(), dots.data(), nullptr).ok());
  ref::GroupDots(q, p.w, want.data());
  EXPECT_EQ(dots, want);
}

// Largest codes times +-127 over long groups: the worst case for the 16-bit
// pair sums of the vpmaddubsw kernels (docs/QUANTIZATION.md §3.3).
TEST_P(GemmTest, WorstCaseSumsStayExact) {
  const Shape s{6, 37, 1000};
  for (size_t group : {size_t{32}, size_t{160}, size_t{1} << 20}) {
    const WeightShape ws{bits(), s.n, s.k, group};
    UnpackedWeights w = testing::RandomWeights(ws, 21);
    for (auto& c : w.codes) c = static_cast<uint8_t>((1 << bits()) - 1);
    PackedWeights packed = *Pack(ws, w.codes, w.scales, w.zeros);
    std::vector<float> x(s.m * s.k);
    for (size_t m = 0; m < s.m; ++m)
      for (size_t kk = 0; kk < s.k; ++kk)
        x[m * s.k + kk] = m % 3 == 0 ? 1.0f : m % 3 == 1 ? -1.0f : ((kk / 4) % 2 ? 1.0f : -1.0f);
    QuantizedActivations q;
    const WeightLayout& l = packed.view().layout();
    ASSERT_TRUE(QuantizeActivations(k(), x.data(), s.k, s.m, l, q, nullptr).ok());
    std::vector<int32_t> dots(s.m * s.n * l.groups), want(dots.size());
    ASSERT_TRUE(GemmA8GroupDots(k(), q, packed.view(), dots.data(), nullptr).ok());
    ref::GroupDots(q, w, want.data());
    EXPECT_EQ(dots, want) << "group " << group;
  }
}

TEST_P(GemmTest, RejectsMismatchedShapes) {
  Problem p = MakeProblem(bits(), {2, 8, 64}, 32, 3);
  const WeightLayout other = *WeightLayout::Make({bits(), 8, 40, 32});
  QuantizedActivations q;
  ASSERT_TRUE(QuantizeActivations(k(), p.x, p.lda, 2, other, q, nullptr).ok());
  std::vector<float> y(16);
  EXPECT_FALSE(GemmA8(k(), q, p.packed.view(), nullptr, y.data(), 8, nullptr).ok());
  EXPECT_FALSE(
      GemmA8(k(), QuantizedActivations{}, p.packed.view(), nullptr, y.data(), 8, nullptr).ok());
  EXPECT_FALSE(GemmF32(k(), p.x, p.lda, 2, p.packed.view(), nullptr, y.data(), 7, nullptr).ok());
  EXPECT_FALSE(GemmF32(k(), p.x, 10, 2, p.packed.view(), nullptr, y.data(), 8, nullptr).ok());
}

std::string Name(const ::testing::TestParamInfo<GemmTest::ParamType>& info) {
  return testing::Cat(std::get<0>(info.param)->name, "_w", std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(Targets, GemmTest,
                         ::testing::Combine(::testing::ValuesIn(SupportedGemmKernels()),
                                            ::testing::Values(2, 3, 4, 8)),
                         Name);

}  // namespace
}  // namespace qasr::kernels
