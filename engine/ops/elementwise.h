// Small row-wise ops of the VGGTransformer: LayerNorm, ReLU, residual add and
// log-softmax (attention's softmax is a SIMD kernel: DenseKernels::softmax). Plain loops (no
// intrinsics); the compiler vectorizes the inner loops. Statistics accumulate in double so results
// stay within fp32 rounding of PyTorch whatever its summation order. Thread-safety: pure functions
// on caller-owned buffers (the ctx overloads: one caller per context).
#pragma once

#include <cstddef>

#include "engine/ops/context.h"

namespace qasr::engine {

inline constexpr float kLayerNormEps = 1e-5f;  // nn.LayerNorm default, model.py

// y[r] = (x[r] - mean) / sqrt(var + eps) * gamma + beta over `dim` values of
// each of `rows` rows (row strides ldx, ldy; in place allowed).
void LayerNormRows(const float* x, size_t ldx, size_t rows, size_t dim, const float* gamma,
                   const float* beta, float* y, size_t ldy);

// LayerNorm over the frequency axis of a [time][freq][channel] tensor, per
// (time, channel), in place: model.py's nn.LayerNorm(F) on (B, C, T, F).
void LayerNormFreq(float* x, size_t time, size_t freq, size_t channels, const float* gamma,
                   const float* beta);

void Relu(float* x, size_t n);
// x += y
void AddInPlace(float* x, const float* y, size_t n);
// Natural-log softmax of n logits, written to y (may alias x).
void LogSoftmax(const float* x, size_t n, float* y);

// The same ops split into row / element ranges on ctx's thread pool (inline
// without one, or when the tensor is small); identical results.
void LayerNormRows(const OpContext& ctx, const float* x, size_t ldx, size_t rows, size_t dim,
                   const float* gamma, const float* beta, float* y, size_t ldy);
void LayerNormFreq(const OpContext& ctx, float* x, size_t time, size_t freq, size_t channels,
                   const float* gamma, const float* beta);
void Relu(const OpContext& ctx, float* x, size_t n);
void AddInPlace(const OpContext& ctx, float* x, const float* y, size_t n);

}  // namespace qasr::engine
