#include "kernels/ref/norm_ref.h"

#include <cmath>
#include <vector>

#include "kernels/dense/dense_gemm.h"

namespace qasr::kernels::ref {

namespace {
template <class F>
double PartialSums(const float* x, size_t n, const F& f) {
  double p[kNormPartials] = {};
  for (size_t i = 0; i < n; ++i) p[i % kNormPartials] += f(static_cast<double>(x[i]));
  return NormCombine(p);
}
}  // namespace

void LayerNormRows(const float* x, size_t ldx, size_t rows, size_t dim, const float* gamma,
                   const float* beta, float eps, float* y, size_t ldy) {
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * ldx;
    float* yr = y + r * ldy;
    const double mean = PartialSums(xr, dim, [](double v) { return v; }) / static_cast<double>(dim);
    const double var = PartialSums(xr, dim, [&](double v) { return (v - mean) * (v - mean); }) /
                       static_cast<double>(dim);
    const float m = static_cast<float>(mean);
    const float rstd = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
    for (size_t i = 0; i < dim; ++i) yr[i] = (xr[i] - m) * rstd * gamma[i] + beta[i];
  }
}

void LayerNormFreq(float* x, size_t time, size_t freq, size_t channels, const float* gamma,
                   const float* beta, float eps, bool relu) {
  std::vector<double> mean(channels), var(channels);
  for (size_t t = 0; t < time; ++t) {
    float* xt = x + t * freq * channels;
    for (size_t c = 0; c < channels; ++c) {
      mean[c] = 0.0;
      for (size_t f = 0; f < freq; ++f) mean[c] += xt[f * channels + c];
      mean[c] /= static_cast<double>(freq);
      var[c] = 0.0;
      for (size_t f = 0; f < freq; ++f) {
        const double d = xt[f * channels + c] - mean[c];
        var[c] += d * d;
      }
    }
    for (size_t c = 0; c < channels; ++c) {
      const float m = static_cast<float>(mean[c]);
      const float rstd = static_cast<float>(
          1.0 / std::sqrt(var[c] / static_cast<double>(freq) + static_cast<double>(eps)));
      for (size_t f = 0; f < freq; ++f) {
        float& v = xt[f * channels + c];
        v = (v - m) * rstd * gamma[f] + beta[f];
        if (relu) v = v > 0.0f ? v : 0.0f;
      }
    }
  }
}

}  // namespace qasr::kernels::ref
