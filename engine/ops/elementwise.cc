#include "engine/ops/elementwise.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "engine/ops/parallel.h"

namespace qasr::engine {

void LayerNormRows(const float* x, size_t ldx, size_t rows, size_t dim, const float* gamma,
                   const float* beta, float* y, size_t ldy) {
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * ldx;
    float* yr = y + r * ldy;
    double sum = 0.0;
    for (size_t i = 0; i < dim; ++i) sum += xr[i];
    const double mean = sum / static_cast<double>(dim);
    double var = 0.0;
    for (size_t i = 0; i < dim; ++i) {
      const double d = xr[i] - mean;
      var += d * d;
    }
    var /= static_cast<double>(dim);
    const float m = static_cast<float>(mean);
    const float rstd = static_cast<float>(1.0 / std::sqrt(var + kLayerNormEps));
    for (size_t i = 0; i < dim; ++i) yr[i] = (xr[i] - m) * rstd * gamma[i] + beta[i];
  }
}

void LayerNormFreq(float* x, size_t time, size_t freq, size_t channels, const float* gamma,
                   const float* beta) {
  // Statistics for all channels of one frame at once: the inner loops run
  // over contiguous channels.
  std::vector<double> mean(channels), var(channels);
  std::vector<float> m(channels), rstd(channels);
  for (size_t t = 0; t < time; ++t) {
    float* xt = x + t * freq * channels;
    std::fill(mean.begin(), mean.end(), 0.0);
    std::fill(var.begin(), var.end(), 0.0);
    for (size_t f = 0; f < freq; ++f)
      for (size_t c = 0; c < channels; ++c) mean[c] += xt[f * channels + c];
    for (size_t c = 0; c < channels; ++c) mean[c] /= static_cast<double>(freq);
    for (size_t f = 0; f < freq; ++f)
      for (size_t c = 0; c < channels; ++c) {
        const double d = xt[f * channels + c] - mean[c];
        var[c] += d * d;
      }
    for (size_t c = 0; c < channels; ++c) {
      m[c] = static_cast<float>(mean[c]);
      rstd[c] =
          static_cast<float>(1.0 / std::sqrt(var[c] / static_cast<double>(freq) + kLayerNormEps));
    }
    for (size_t f = 0; f < freq; ++f)
      for (size_t c = 0; c < channels; ++c) {
        float& v = xt[f * channels + c];
        v = (v - m[c]) * rstd[c] * gamma[f] + beta[f];
      }
  }
}

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
    LayerNormRows(x + r0 * ldx, ldx, r1 - r0, dim, gamma, beta, y + r0 * ldy, ldy);
  });
}

void LayerNormFreq(const OpContext& ctx, float* x, size_t time, size_t freq, size_t channels,
                   const float* gamma, const float* beta) {
  ParallelRanges(ctx, time, GrainRows(freq * channels), [&](size_t t0, size_t t1) {
    LayerNormFreq(x + t0 * freq * channels, t1 - t0, freq, channels, gamma, beta);
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
