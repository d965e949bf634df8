#include "engine/ops/elementwise.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "engine/ops/parallel.h"
#include "kernels/dense/dense_gemm.h"

namespace qasr::engine {

void Relu(float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void AddInPlace(float* x, const float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] += y[i];
}

void LogSoftmax(const float* x, size_t n, float* y) {
  float mx = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(x[i] - mx));
  const float lse = mx + static_cast<float>(std::log(sum));
  for (size_t i = 0; i < n; ++i) y[i] = x[i] - lse;
}

namespace {
size_t GrainRows(size_t row_floats) {
  return std::max<size_t>(1, kParallelGrainFloats / std::max<size_t>(row_floats, 1));
}
}  // namespace

void LayerNormRows(const OpContext& ctx, const float* x, size_t ldx, size_t rows, size_t dim,
                   const float* gamma, const float* beta, float* y, size_t ldy) {
  ParallelRanges(ctx, rows, GrainRows(dim), [&](size_t r0, size_t r1) {
    ctx.dense->layer_norm_rows(x + r0 * ldx, ldx, r1 - r0, dim, gamma, beta, kLayerNormEps,
                               y + r0 * ldy, ldy);
  });
}

void LayerNormFreq(const OpContext& ctx, float* x, size_t time, size_t freq, size_t channels,
                   const float* gamma, const float* beta, bool relu) {
  ParallelRanges(ctx, time, GrainRows(freq * channels), [&](size_t t0, size_t t1) {
    std::vector<double> scratch(3 * channels);
    ctx.dense->layer_norm_freq(x + t0 * freq * channels, t1 - t0, freq, channels, gamma, beta,
                               kLayerNormEps, relu, scratch.data());
  });
}

void Relu(const OpContext& ctx, float* x, size_t n) {
  ParallelRanges(ctx, n, kParallelGrainFloats, [&](size_t a, size_t b) { Relu(x + a, b - a); });
}

void AddInPlace(const OpContext& ctx, float* x, const float* y, size_t n) {
  ParallelRanges(ctx, n, kParallelGrainFloats,
                 [&](size_t a, size_t b) { AddInPlace(x + a, y + a, b - a); });
}

}  // namespace qasr::engine
