// Small row-wise ops of the VGGTransformer: LayerNorm, ReLU, residual add and
// log-softmax. LayerNorm runs the SIMD kernels DenseKernels::layer_norm_rows /
// layer_norm_freq (kernels/dense/norm-inl.h; scalar definition in
// kernels/ref/norm_ref.h, same bits on every target), as attention's softmax
// is DenseKernels::softmax; the rest are plain loops. Statistics accumulate in
// double so results stay within fp32 rounding of PyTorch whatever its
// summation order. Thread-safety: pure functions on caller-owned buffers (the
// ctx overloads: one caller per context).
#pragma once

#include <cstddef>

#include "engine/ops/context.h"

namespace qasr::engine {

inline constexpr float kLayerNormEps = 1e-5f;  // nn.LayerNorm default, model.py

void Relu(float* x, size_t n);
// x += y
void AddInPlace(float* x, const float* y, size_t n);
// Natural-log softmax of n logits, written to y (may alias x).
void LogSoftmax(const float* x, size_t n, float* y);

// Split into row / element ranges on ctx's thread pool (inline without one,
// or when the tensor is small); identical results.
// y[r] = (x[r] - mean) / sqrt(var + eps) * gamma + beta over `dim` values of
// each of `rows` rows (row strides ldx, ldy; in place allowed).
void LayerNormRows(const OpContext& ctx, const float* x, size_t ldx, size_t rows, size_t dim,
                   const float* gamma, const float* beta, float* y, size_t ldy);
// LayerNorm over the frequency axis of a [time][freq][channel] tensor, per
// (time, channel), in place: model.py's nn.LayerNorm(F) on (B, C, T, F); with
// relu, ReLU follows in the same pass.
void LayerNormFreq(const OpContext& ctx, float* x, size_t time, size_t freq, size_t channels,
                   const float* gamma, const float* beta, bool relu);
void Relu(const OpContext& ctx, float* x, size_t n);
void AddInPlace(const OpContext& ctx, float* x, const float* y, size_t n);

}  // namespace qasr::engine
