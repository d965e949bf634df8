// Dense fp32 GEMM: y[m][n] = sum_k x[m][k] * w[n][k] + bias[n], with w in
// PyTorch's Linear layout [N][K] (used in place from a memory-mapped model)
// and arbitrary row strides, so attention products (Q.K^T per head) use it too.
// Shapes are checked here; tiling and threading in dense_gemm.cc; SIMD in
// dense-inl.h, compiled for every Highway target and chosen once
// (ChosenDenseKernels()).
// Why our own kernel and not oneDNN/XNNPACK: it runs on the engine's single
// kernels::ThreadPool, needs no weight repacking (mmap in place) and no
// per-shape primitive creation; bench_gemm (qasr_f32panel) compares it with
// oneDNN and XNNPACK at the engine's shapes (docs/BENCHMARKS.md).
// Thread-safety: reentrant; a ThreadPool serves one call at a time. Results do
// not depend on the pool's size (each output is computed by one task in one order).
#pragma once

#include <hwy/aligned_allocator.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/base/status.h"
#include "kernels/base/thread_pool.h"

namespace qasr::kernels {

struct DenseJob {
  const float* x = nullptr;  // [M][K], row stride lda
  size_t lda = 0;
  const float* w = nullptr;  // [N][K], row stride ldw
  size_t ldw = 0;
  const float* bias = nullptr;  // N entries or null
  float* y = nullptr;           // [M][N], row stride ldy
  size_t ldy = 0;
  size_t k = 0;
};

// Computes rows [m0, m1) x outputs [n0, n1) of a job.
using DenseTileFn = void (*)(const DenseJob& job, size_t m0, size_t m1, size_t n0, size_t n1);

// Weights packed for the outer-product kernel: ceil(N / kPanelCols) panels,
// each [K][kPanelCols] floats (columns >= N zero). One k step of a panel is
// one 64-byte line, so the kernel streams panels sequentially and keeps a
// 6 x 16 block of outputs in registers (AVX2: 12 accumulators; 512-bit
// targets take two panels, 6 x 32, also 12), several
// times the FMA density of the dot-product form at encoder-sized M.
// A CPU-independent in-memory layout, built once per weight at model load
// (or per call for attention operands).
inline constexpr size_t kPanelCols = 16;
struct DensePanels {
  size_t n = 0, k = 0, panels = 0;
  hwy::AlignedFreeUniquePtr<float[]> data;
  size_t capacity = 0;  // floats allocated
  const float* panel(size_t p) const { return data.get() + p * k * kPanelCols; }
};

// Packs w as [N][K] (row stride ldw; transposed = false) or as [K][N]
// (transposed = true). Reuses out's storage when large enough. With a pool,
// the panels are split between its threads, so a weight matrix packed on its
// first use (engine::LazyPanels) costs its copy and the page faults of the
// new panels once per thread, not serially; the bytes are the same.
Status PackPanels(const float* w, size_t ldw, size_t n, size_t k, bool transposed, DensePanels& out,
                  ThreadPool* pool = nullptr);

// Packing in pieces, for a matrix produced a block of rows at a time (the
// decoder's cross-attention keys and values, projected in chunks of encoder
// steps so that no [steps][d] buffer is needed). ResizePanels sizes `out` for
// the whole matrix (as PackPanels, reusing its storage when large enough);
// PackPanelRows then packs source rows [r0, r1), given at w (row stride
// ldw): the N index for transposed = false (r0 a multiple of kPanelCols,
// r1 one too unless it is n), the K index for transposed = true. Every row
// packed once in any order gives PackPanels' bytes.
Status ResizePanels(size_t n, size_t k, DensePanels& out);
Status PackPanelRows(const float* w, size_t ldw, size_t n, size_t k, bool transposed, size_t r0,
                     size_t r1, DensePanels& out);

struct PanelJob {
  const float* x = nullptr;  // [M][K], row stride lda
  size_t lda = 0;
  const DensePanels* w = nullptr;
  const float* bias = nullptr;
  float* y = nullptr;
  size_t ldy = 0;
};
// Rows [m0, m1) x panels [p0, p1).
using PanelTileFn = void (*)(const PanelJob& job, size_t m0, size_t m1, size_t p0, size_t p1);

// Direct 3x3 convolution (stride 1, zero padding 1) of a one-channel image
// x[time][freq] into channels-last y[time][freq][w.n], for output frames
// [t0, t1) of a call. w: the weights as panels with K = 9 (tap i * 3 + j).
struct Conv1Job {
  const float* x = nullptr;
  size_t time = 0, freq = 0;
  const DensePanels* w = nullptr;
  const float* bias = nullptr;  // w.n entries or null
  float* y = nullptr;
  float* pad = nullptr;  // scratch: 3 * (freq + 2) floats
};
using Conv1TileFn = void (*)(const Conv1Job& job, size_t t0, size_t t1);

// LayerNorm statistics are sums in double over kNormPartials interleaved
// partial sums (element i into partial i % kNormPartials), combined in this
// fixed order: the scalar definition (engine/ops/elementwise.cc) and every
// SIMD target (norm-inl.h) give the same bits.
inline constexpr size_t kNormPartials = 8;
inline double NormCombine(const double* p) {
  return ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
}
// y[r] = (x[r] - mean) / sqrt(var + eps) * gamma + beta over `dim` values of
// each row (strides ldx, ldy; in place allowed).
using LayerNormRowsFn = void (*)(const float* x, size_t ldx, size_t rows, size_t dim,
                                 const float* gamma, const float* beta, float eps, float* y,
                                 size_t ldy);
// The same over the frequency axis of x[time][freq][channels] per (time,
// channel), in place, then ReLU if `relu`; scratch: 3 * channels doubles.
using LayerNormFreqFn = void (*)(float* x, size_t time, size_t freq, size_t channels,
                                 const float* gamma, const float* beta, float eps, bool relu,
                                 double* scratch);

// One query row of one head over `steps` gathered keys and values (the
// decoder's KV cache): scores[s] = (q * scale) . (keys[s] + offset), p =
// softmax(scores) (in scores), out = sum_s p[s] * (values[s] + offset); dim
// floats per row, steps >= 1; out must not alias q.
using AttendRowFn = void (*)(const float* q, float scale, const float* const* keys,
                             const float* const* values, size_t offset, size_t steps, size_t dim,
                             float* scores, float* out);

struct DenseKernels {
  int64_t target = 0;
  const char* name = "";
  DenseTileFn tile = nullptr;
  PanelTileFn panel_tile = nullptr;
  // Softmax of a finite row in place (attention probabilities).
  void (*softmax)(float* x, size_t n) = nullptr;
  Conv1TileFn conv3x3_1ch = nullptr;
  LayerNormRowsFn layer_norm_rows = nullptr;
  LayerNormFreqFn layer_norm_freq = nullptr;
  AttendRowFn attend_row = nullptr;
};

// Best table for this CPU (probed once, thread-safe).
const DenseKernels& ChosenDenseKernels();
// One table per compiled target this CPU supports, best first.
std::vector<const DenseKernels*> SupportedDenseKernels();

// y = x * w^T + bias for M rows, N outputs, K inputs. pool may be null.
Status DenseGemm(const DenseKernels& kernels, const float* x, size_t lda, size_t m, const float* w,
                 size_t ldw, size_t n, size_t k, const float* bias, float* y, size_t ldy,
                 ThreadPool* pool);

// y = x * W^T + bias with W packed (PackPanels); M rows.
Status DenseGemmPanels(const DenseKernels& kernels, const float* x, size_t lda, size_t m,
                       const DensePanels& w, const float* bias, float* y, size_t ldy,
                       ThreadPool* pool);

// Output frames [t0, t1) of the direct one-channel 3x3 convolution
// (Conv1Job), on the calling thread; pad: scratch of at least
// 3 * (freq + 2) floats. Bit-identical to im2col + DenseGemmPanels.
Status Conv3x3OneChannel(const DenseKernels& kernels, const float* x, size_t time, size_t freq,
                         const DensePanels& w, const float* bias, float* y, size_t t0, size_t t1,
                         std::span<float> pad);

}  // namespace qasr::kernels
