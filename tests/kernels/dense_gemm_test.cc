// Dense fp32 GEMM: every compiled target this CPU supports against a double
// reference, over M/N/K remainders and strides, with and without a pool.
#include "kernels/dense/dense_gemm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

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

TEST(DenseGemm, RejectsBadStrides) {
  const DenseKernels& k = ChosenDenseKernels();
  float x[4] = {}, w[4] = {}, y[4] = {};
  EXPECT_FALSE(DenseGemm(k, x, 1, 1, w, 2, 1, 2, nullptr, y, 1, nullptr).ok());
  EXPECT_FALSE(DenseGemm(k, nullptr, 2, 1, w, 2, 1, 2, nullptr, y, 1, nullptr).ok());
  EXPECT_TRUE(DenseGemm(k, x, 2, 0, w, 2, 1, 2, nullptr, y, 1, nullptr).ok());
}

}  // namespace
}  // namespace qasr::kernels
