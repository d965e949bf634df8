#include "kernels/ref/gemm_ref.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/formats/fp16.h"

namespace qasr::kernels::ref {

void QuantizeRow(const float* x, const WeightLayout& w, int8_t* codes, float* scale,
                 int32_t* sums) {
  const size_t cols = w.shape.cols;
  float amax = 0.0f;
  for (size_t k = 0; k < cols; ++k) amax = std::fmax(amax, std::fabs(x[k]));
  const float inv = ActivationInverseScale(amax);
  *scale = inv == 0.0f ? 0.0f : amax / 127.0f;
  std::memset(codes, 0, w.padded_cols);
  for (size_t g = 0; g < w.groups; ++g) sums[g] = 0;
  if (inv == 0.0f) return;
  for (size_t k = 0; k < cols; ++k) {
    codes[k] = QuantizeActivation(x[k], inv);
    sums[k / w.group_cols] += codes[k];
  }
}

void QuantizeActivations(const float* x, size_t lda, QuantizedActivations& out,
                         const WeightLayout& w) {
  for (size_t m = 0; m < out.rows; ++m)
    QuantizeRow(x + m * lda, w, out.row(m), &out.scales[m], &out.sums[m * out.groups]);
}

void FakeQuantizeRow(const float* x, size_t cols, float* y) {
  float amax = 0.0f;
  for (size_t k = 0; k < cols; ++k) amax = std::fmax(amax, std::fabs(x[k]));
  const float inv = ActivationInverseScale(amax);
  const float sx = inv == 0.0f ? 0.0f : amax / 127.0f;
  for (size_t k = 0; k < cols; ++k)
    y[k] = inv == 0.0f ? 0.0f : static_cast<float>(QuantizeActivation(x[k], inv)) * sx;
}

void GroupDots(const QuantizedActivations& x, const UnpackedWeights& w, int32_t* dots) {
  const size_t n_rows = w.shape.rows, k = w.shape.cols, ng = x.groups, gc = x.group_cols;
  for (size_t m = 0; m < x.rows; ++m) {
    const int8_t* xq = x.row(m);
    for (size_t n = 0; n < n_rows; ++n) {
      const uint8_t* q = &w.codes[n * k];
      for (size_t g = 0; g < ng; ++g) {
        const size_t end = std::min(k, (g + 1) * gc);
        int32_t acc = 0;
        for (size_t i = g * gc; i < end; ++i) acc += int32_t{xq[i]} * int32_t{q[i]};
        dots[(m * n_rows + n) * ng + g] = acc - int32_t{w.zeros[n * ng + g]} * x.sums[m * ng + g];
      }
    }
  }
}

void GemmA8(const QuantizedActivations& x, const UnpackedWeights& w, const float* bias, float* y,
            size_t ldy) {
  const size_t n_rows = w.shape.rows, ng = x.groups;
  std::vector<int32_t> dots(x.rows * n_rows * ng);
  GroupDots(x, w, dots.data());
  for (size_t m = 0; m < x.rows; ++m)
    for (size_t n = 0; n < n_rows; ++n) {
      float acc = 0.0f;
      for (size_t g = 0; g < ng; ++g)
        acc = std::fma(F32FromF16(w.scales[n * ng + g]),
                       static_cast<float>(dots[(m * n_rows + n) * ng + g]), acc);
      y[m * ldy + n] = std::fma(x.scales[m], acc, bias ? bias[n] : 0.0f);
    }
}

void GemmF32(const float* x, size_t lda, size_t rows, const UnpackedWeights& w, const float* bias,
             float* y, size_t ldy) {
  const size_t n_rows = w.shape.rows, k = w.shape.cols;
  const size_t gc = std::min(w.shape.group, k), ng = (k + gc - 1) / gc;
  for (size_t m = 0; m < rows; ++m)
    for (size_t n = 0; n < n_rows; ++n) {
      float acc = 0.0f;
      for (size_t g = 0; g < ng; ++g) {
        const int z = w.zeros[n * ng + g];
        float a = 0.0f;
        for (size_t i = g * gc; i < std::min(k, (g + 1) * gc); ++i)
          a = std::fma(x[m * lda + i], static_cast<float>(int{w.codes[n * k + i]} - z), a);
        acc = std::fma(F32FromF16(w.scales[n * ng + g]), a, acc);
      }
      y[m * ldy + n] = acc + (bias ? bias[n] : 0.0f);
    }
}

}  // namespace qasr::kernels::ref
