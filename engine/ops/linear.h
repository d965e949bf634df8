// A GEMM-shaped layer y[m] = W x[m] + b with W[N][K] in one of three forms:
//   f32 (repacked at load into GEMM panels: the outer-product kernel matches
//   oneDNN's fp32 matmul at M ~ 250 and beats it at M = 1..5 on this
//   machine's AVX2, see bench_gemm qasr_f32panel vs onednn_f32, and runs on
//   the engine's own thread pool), packed w2/w3/w4/w8 with int8 dynamic activations
//   (QuantizeActivations + GemmA8: what qasr.quant's QuantLinear simulates),
//   or packed with fp32 activations (GemmF32).
// act_bits = 8 on f32 weights fake-quantizes the input rows (quantize, then
// dequantize: xq * sx) before the dense GEMM; that is how weights the format
// stores as f32 (dequantized convolutions) reproduce the toolkit's
// activation quantizer.
// Thread-safety: LinearWeights is immutable and shareable; LinearScratch
// belongs to one session.
#pragma once

#include <cstddef>
#include <vector>

#include "engine/ops/context.h"
#include "kernels/base/status.h"
#include "kernels/formats/activation_format.h"
#include "kernels/formats/weight_format.h"

namespace qasr::engine {

struct LinearWeights {
  size_t in = 0, out = 0;
  const kernels::DensePanels* panels = nullptr;  // f32 weights, packed at load
  kernels::PackedWeightsView packed;
  bool is_packed = false;
  int act_bits = 0;             // 8: int8 dynamic activations; 0: fp32
  const float* bias = nullptr;  // out entries or null
  // f32 weights with act_bits = 8: the shape the activation quantizer needs
  // (one group per row; set by SetFakeQuant).
  kernels::WeightLayout act_layout;
};

// Marks f32 weights as taking int8-fake-quantized inputs.
Status SetFakeQuant(LinearWeights& w);

// Reused per-session buffers (grow only).
struct LinearScratch {
  kernels::QuantizedActivations qx;
  std::vector<float> fq;  // fake-quantized input rows
};

// y (row stride ldy >= out) = x (rows x in, row stride lda) W^T + b.
Status Linear(const OpContext& ctx, const LinearWeights& w, const float* x, size_t lda, size_t rows,
              float* y, size_t ldy, LinearScratch& scratch);

}  // namespace qasr::engine
