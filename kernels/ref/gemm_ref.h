// Scalar reference of every kernel: the definition the SIMD kernels are tested
// against. Works on unpacked weights so it is independent of the packed layout.
// Slow by design; no SIMD, no threads. Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/formats/activation_format.h"
#include "kernels/formats/weight_format.h"

namespace qasr::kernels::ref {

// One row: codes[padded_cols] (zero padded), *scale, sums[groups].
void QuantizeRow(const float* x, const WeightLayout& w, int8_t* codes, float* scale, int32_t* sums);
// x is rows x cols with row stride lda (floats); out must be Reshape()d.
void QuantizeActivations(const float* x, size_t lda, QuantizedActivations& out,
                         const WeightLayout& w);

// y[k] = xq[k] * sx for one row of `cols` values (0 where the row quantizes
// to all-zero codes): the fake-quantized input of an fp32-weight layer.
void FakeQuantizeRow(const float* x, size_t cols, float* y);

// d[m][n][g] = sum_k xq*q - z * xsum over group g (exact int32).
void GroupDots(const QuantizedActivations& x, const UnpackedWeights& w, int32_t* dots);

// y[m][n] = fma(sx[m], acc, bias[n]) with acc = fma(s_g, float(d_g), acc)
// over g ascending. bias may be null (zeros).
void GemmA8(const QuantizedActivations& x, const UnpackedWeights& w, const float* bias, float* y,
            size_t ldy);

// y[m][n] = sum_g fma(s_g, a_g, .) + bias with a_g = fma(x[k], float(q - z), a_g)
// over k ascending; fp32 activations, weights dequantized on the fly.
void GemmF32(const float* x, size_t lda, size_t rows, const UnpackedWeights& w, const float* bias,
             float* y, size_t ldy);

}  // namespace qasr::kernels::ref
