// A GEMM-shaped layer y[m] = W x[m] + b with W[N][K] in one of three forms:
//   f32 (repacked into GEMM panels on the layer's first use, LazyPanels: the
//   outer-product kernel matches
//   oneDNN's fp32 matmul at M ~ 250 and beats it at M = 1..5 on this
//   machine's AVX2, see bench_gemm qasr_f32panel vs onednn_f32, and runs on
//   the engine's own thread pool), packed w2/w3/w4/w8 with int8 dynamic activations
//   (QuantizeActivations + GemmA8: what qasr.quant's QuantLinear simulates),
//   or packed with fp32 activations (GemmF32).
// act_bits = 8 on f32 weights fake-quantizes the input rows (quantize, then
// dequantize: xq * sx) before the dense GEMM; that is how weights the format
// stores as f32 (dequantized convolutions) reproduce the toolkit's
// activation quantizer.
// Thread-safety: LinearWeights and LazyPanels are shareable by any number of
// sessions (the one-time packing is synchronised by std::call_once);
// LinearScratch belongs to one session.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <vector>

#include "engine/ops/context.h"
#include "engine/ops/scratch.h"
#include "kernels/base/status.h"
#include "kernels/dense/dense_gemm.h"
#include "kernels/formats/activation_format.h"
#include "kernels/formats/weight_format.h"

namespace qasr::engine {

// fp32 weights, [n][k] or transposed [k][n], and their GEMM panels
// (kernels::PackPanels), packed once, on the first Get(): model load then
// costs no repacking and the first use of each layer pays it (docs/FORMAT.md
// §7). The source is either in the model's mapping (borrowed: its resident
// pages are handed to `release` once packed, which drops them from the
// mapping, so the weights are not held twice) or owned (weights the loader
// rearranged; freed once packed). A failed pack (out of memory) is returned
// by every Get().
class LazyPanels {
 public:
  // Called once after packing with the borrowed source's bytes (e.g. to drop
  // their resident pages from the model's mapping); may be empty.
  using ReleaseFn = std::function<void(std::span<const uint8_t>)>;

  LazyPanels(const float* w, size_t n, size_t k, bool transposed = false,
             ReleaseFn release = nullptr)
      : w_(w), n_(n), k_(k), transposed_(transposed), release_(std::move(release)) {}
  LazyPanels(std::vector<float> owned, size_t n, size_t k)
      : w_(owned.data()), n_(n), k_(k), owned_(std::move(owned)) {}
  LazyPanels(const LazyPanels&) = delete;
  LazyPanels& operator=(const LazyPanels&) = delete;

  // The packed panels (packs them on the first call, on `pool`'s threads if
  // given; thread-safe). Pass a pool only from outside its parallel loops
  // (OpContext::pool): a concurrent first Get() waits for the packing.
  Result<const kernels::DensePanels*> Get(kernels::ThreadPool* pool = nullptr) const;
  size_t n() const { return n_; }
  size_t k() const { return k_; }

 private:
  const float* w_;
  size_t n_, k_;
  bool transposed_ = false;
  ReleaseFn release_;
  // Written once inside call_once, read-only afterwards.
  mutable std::vector<float> owned_;
  mutable std::once_flag once_;
  mutable kernels::DensePanels panels_;
  mutable Status status_;
};

struct LinearWeights {
  size_t in = 0, out = 0;
  const LazyPanels* panels = nullptr;  // f32 weights, packed on first use
  kernels::PackedWeightsView packed;
  bool is_packed = false;
  int act_bits = 0;             // 8: int8 dynamic activations; 0: fp32
  const float* bias = nullptr;  // out entries or null
};

// The exact symmetric 8-bit form of fp32 weights that are dequantized 8-bit
// codes, w[n][k] = c[n][k] * s[n] with integer c in [-128, 127] reaching
// |c| = 127 or 128 in every non-zero row and s[n] an fp16 value (how format
// 1.0 stores quantized convolutions): packed w8, one group per row, zero
// point 128 (so y = xq * W^T runs on the int8 kernels with the same weights,
// exactly). An error when any row is not of that form.
Result<kernels::PackedWeights> ExactW8FromF32(const float* w, size_t rows, size_t cols);

// Marks f32 weights as taking int8-fake-quantized inputs.
Status SetFakeQuant(LinearWeights& w);

// Reused per-session buffers (grow only).
struct LinearScratch {
  kernels::QuantizedActivations qx;  // packed weights' int8 input rows
  Scratch fq;                        // fake-quantized input rows (f32 weights)
};

// y (row stride ldy >= out) = x (rows x in, row stride lda) W^T + b.
Status Linear(const OpContext& ctx, const LinearWeights& w, const float* x, size_t lda, size_t rows,
              float* y, size_t ldy, LinearScratch& scratch);

}  // namespace qasr::engine
