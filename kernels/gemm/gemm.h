// Low-bit GEMM entry points: y[M][N] = x[M][K] * W[N][K]^T + bias.
// Shapes are checked here (a Status names what is wrong); tiling and
// threading live in gemm.cc, SIMD in the -inl.h kernels. The caller picks the
// kernel table once (ChosenGemmKernels()) and passes it down.
// Thread-safety: functions are reentrant; a ThreadPool serves one call at a
// time. Results do not depend on the pool's size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/base/status.h"
#include "kernels/base/thread_pool.h"
#include "kernels/formats/activation_format.h"
#include "kernels/formats/weight_format.h"
#include "kernels/gemm/gemm_table.h"

namespace qasr::kernels {

// Quantizes x (rows x w.cols, row stride lda floats) for weights of layout w.
// Reshapes `out`; allocates only when it must grow.
Status QuantizeActivations(const GemmKernels& k, const float* x, size_t lda, size_t rows,
                           const WeightLayout& w, QuantizedActivations& out, ThreadPool* pool);

// The int8 activations of a k x k, stride 1, zero-padded convolution over
// channels-last x[time][freq][cin] for output frames [t0, t1): exactly
// QuantizeActivations of its im2col rows (row (t - t0) * freq + f, columns
// (i * k + j) * cin + c) without materializing them. The weights must have
// one group per row (w.groups == 1, K = k * k * cin). `scratch` is reused.
Status QuantizeConvPatches(const GemmKernels& k, const float* x, size_t time, size_t freq,
                           size_t cin, size_t kernel, size_t t0, size_t t1, const WeightLayout& w,
                           QuantizedActivations& out, std::vector<float>& scratch);

// y = xq * sx (docs/QUANTIZATION.md §2): each row of x (rows x cols, stride
// lda) replaced by its dequantized dynamic int8 codes, into y (stride ldy).
// For fp32 weights whose inputs the toolkit fake-quantizes.
Status FakeQuantizeActivations(const GemmKernels& k, const float* x, size_t lda, size_t rows,
                               size_t cols, float* y, size_t ldy, ThreadPool* pool);

// y = dequant(x) * dequant(W)^T + bias; y has row stride ldy >= N. bias may
// be null. pool may be null (runs on the calling thread).
Status GemmA8(const GemmKernels& k, const QuantizedActivations& x, const PackedWeightsView& w,
              const float* bias, float* y, size_t ldy, ThreadPool* pool);

// Exact int32 group dots d[m][n][g] (M x N x groups, dense), for tests.
Status GemmA8GroupDots(const GemmKernels& k, const QuantizedActivations& x,
                       const PackedWeightsView& w, int32_t* dots, ThreadPool* pool);

// fp32 activations (row stride lda) with weights dequantized on the fly.
Status GemmF32(const GemmKernels& k, const float* x, size_t lda, size_t rows,
               const PackedWeightsView& w, const float* bias, float* y, size_t ldy,
               ThreadPool* pool);

}  // namespace qasr::kernels
