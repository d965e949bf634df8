// ExactW8FromF32: weights that are 8-bit codes times an fp16 row scale come
// back as packed w8 whose dequantization is the input bit for bit; anything
// else is refused (the engine then keeps fake-quantized fp32).
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "engine/ops/linear.h"
#include "kernels/formats/fp16.h"

namespace qasr::engine {
namespace {

std::vector<float> Dequantize(const kernels::PackedWeightsView& p) {
  const kernels::UnpackedWeights u = kernels::Unpack(p);
  const size_t rows = u.shape.rows, cols = u.shape.cols;
  std::vector<float> w(rows * cols);
  for (size_t n = 0; n < rows; ++n)
    for (size_t k = 0; k < cols; ++k)
      w[n * cols + k] = static_cast<float>(int{u.codes[n * cols + k]} - int{u.zeros[n]}) *
                        kernels::F32FromF16(u.scales[n]);
  return w;
}

// Rows of c * s: c in [-128, 127] with the row's largest |c| = `top`.
std::vector<float> GridRows(size_t rows, size_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> w(rows * cols);
  for (size_t n = 0; n < rows; ++n) {
    const int top = n % 2 == 0 ? 127 : 128;
    const float s = kernels::F32FromF16(kernels::F16FromF32(0.001f * static_cast<float>(n + 1)));
    std::uniform_int_distribution<int> code(top == 128 ? -128 : -top, top == 128 ? 127 : top);
    for (size_t k = 0; k < cols; ++k) w[n * cols + k] = static_cast<float>(code(rng)) * s;
    w[n * cols] = static_cast<float>(top == 128 ? -128 : top) * s;  // attains |c| = top
  }
  return w;
}

TEST(ExactW8, GridWeightsRoundTripBitForBit) {
  for (size_t cols : {9, 144, 1152}) {
    std::vector<float> w = GridRows(12, cols, static_cast<uint32_t>(cols));
    std::fill(w.begin() + 5 * cols, w.begin() + 6 * cols, 0.0f);  // an all-zero row
    Result<kernels::PackedWeights> p = ExactW8FromF32(w.data(), 12, cols);
    ASSERT_TRUE(p.ok()) << p.status().message();
    const std::vector<float> back = Dequantize(p->view());
    ASSERT_EQ(std::memcmp(back.data(), w.data(), w.size() * sizeof(float)), 0) << cols;
  }
}

TEST(ExactW8, RefusesWeightsOffTheGrid) {
  std::vector<float> w = GridRows(4, 144, 3);
  w[2 * 144 + 7] *= 1.0001f;  // one weight between grid points
  EXPECT_FALSE(ExactW8FromF32(w.data(), 4, 144).ok());
  std::vector<float> random(4 * 144);
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : random) v = normal(rng);
  EXPECT_FALSE(ExactW8FromF32(random.data(), 4, 144).ok());
  // On a grid, but its largest code is 37: not recovered (only grids that
  // reach 127 or 128 are searched).
  std::vector<float> small = GridRows(3, 144, 6);
  for (size_t k = 144; k < 288; ++k)
    small[k] = static_cast<float>(static_cast<int>(k % 75) - 37) * 0.25f;
  EXPECT_FALSE(ExactW8FromF32(small.data(), 3, 144).ok());
  std::vector<float> bad = GridRows(2, 9, 4);
  bad[3] = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(ExactW8FromF32(bad.data(), 2, 9).ok());
  EXPECT_FALSE(ExactW8FromF32(nullptr, 2, 9).ok());
}

}  // namespace
}  // namespace qasr::engine
