// The table of GEMM kernel pointers for one SIMD target. The CPU is probed
// once (ChosenGemmKernels) and the engine keeps the reference; operators call
// through the table and never name an ISA. Tests and selfcheck iterate
// SupportedGemmKernels() to run every compiled target this CPU supports.
// Thread-safety: tables are immutable statics.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/formats/activation_format.h"
#include "kernels/formats/weight_format.h"

namespace qasr::kernels {

// Quantized-activation GEMM over rows [m0, m1) and weight tiles [t0, t1).
// Writes y (fp32) or, when dots is non-null, the exact per-group int32 dots
// d[m][n][g] instead (used by tests to check integer accumulators).
struct A8Job {
  const QuantizedActivations* x = nullptr;
  PackedWeightsView w;
  const float* bias = nullptr;  // w.rows entries or null
  float* y = nullptr;           // row stride ldy
  size_t ldy = 0;
  int32_t* dots = nullptr;
};
// fp32-activation GEMM with weights dequantized on the fly.
struct F32Job {
  const float* x = nullptr;  // row stride lda
  size_t lda = 0;
  PackedWeightsView w;
  const float* bias = nullptr;
  float* y = nullptr;
  size_t ldy = 0;
};

using A8TileFn = void (*)(const A8Job& job, size_t m0, size_t m1, size_t t0, size_t t1);
using F32TileFn = void (*)(const F32Job& job, size_t m0, size_t m1, size_t t0, size_t t1);
// Quantizes rows [m0, m1) of x into out (already Reshape()d).
using QuantizeFn = void (*)(const float* x, size_t lda, size_t m0, size_t m1,
                            QuantizedActivations& out);
// The patches of a k x k, stride 1, zero-padded convolution over
// channels-last x[time][freq][cin]: patch (t, f) is row (t - t0) * freq + f
// of `out`, columns (i * k + j) * cin + c (engine/ops/conv2d.h).
// pixel_amax: scratch of (F + 2) * (freq + kernel + 16) + 16 floats, F =
// t1 - t0 + kernel - 1 (the frames the patches touch): those frames' pixel
// maxima max_c |x[t][f][c]| (or, one channel, the frames themselves) in
// zero-padded rows, and one frame's patch scales.
struct PatchJob {
  const float* x = nullptr;
  size_t time = 0, freq = 0, cin = 0, kernel = 3;
  float* pixel_amax = nullptr;
};
// Quantizes the patches of output frames [t0, t1) into rows
// (t - t0) * freq + f of out (one group per row; already Reshape()d).
using QuantizePatchesFn = void (*)(const PatchJob& job, size_t t0, size_t t1,
                                   QuantizedActivations& out);
// Rows [m0, m1) of x (cols values each) -> y = xq * sx (row stride ldy).
using FakeQuantizeFn = void (*)(const float* x, size_t lda, size_t m0, size_t m1, size_t cols,
                                float* y, size_t ldy);

struct GemmKernels {
  int64_t target = 0;  // a HWY_* target bit
  const char* name = "";
  A8TileFn a8[kNumWeightFormats] = {};  // indexed by FormatIndex(bits)
  F32TileFn f32[kNumWeightFormats] = {};
  QuantizeFn quantize = nullptr;
  FakeQuantizeFn fake_quantize = nullptr;
  QuantizePatchesFn quantize_patches = nullptr;
};

// Best table for this CPU (probed once, thread-safe).
const GemmKernels& ChosenGemmKernels();
// One table per compiled target this CPU supports, best first.
std::vector<const GemmKernels*> SupportedGemmKernels();

}  // namespace qasr::kernels
