// Scalar definition of the LayerNorm kernels (DenseKernels::layer_norm_rows /
// layer_norm_freq): every SIMD target must give these bits. Slow by design.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>

namespace qasr::kernels::ref {

// y[r] = (x[r] - mean) * rstd * gamma + beta (float), mean and variance of
// the row's `dim` values summed in double over kNormPartials interleaved
// partials (dense_gemm.h), rstd = 1 / sqrt(var + eps).
void LayerNormRows(const float* x, size_t ldx, size_t rows, size_t dim, const float* gamma,
                   const float* beta, float eps, float* y, size_t ldy);

// The same per (time, channel) over the frequency axis of
// x[time][freq][channels], in place, sums in frequency order; then
// v > 0 ? v : 0 if relu.
void LayerNormFreq(float* x, size_t time, size_t freq, size_t channels, const float* gamma,
                   const float* beta, float eps, bool relu);

}  // namespace qasr::kernels::ref
