#include "engine/ops/linear.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/formats/fp16.h"
#include "kernels/gemm/gemm.h"

namespace qasr::engine {

Result<const kernels::DensePanels*> LazyPanels::Get(kernels::ThreadPool* pool) const {
  std::call_once(once_, [this, pool] {
    status_ = kernels::PackPanels(w_, transposed_ ? n_ : k_, n_, k_, transposed_, panels_, pool);
    if (!status_.ok()) return;
    // The panels are the only copy read from now on.
    std::vector<float>().swap(owned_);
    if (release_) release_({reinterpret_cast<const uint8_t*>(w_), n_ * k_ * sizeof(float)});
  });
  if (!status_.ok()) return status_;
  return &panels_;
}

namespace {
// Scale s (an fp16 value) and codes 128 + c with every w[k] == c * s, c
// integer in [-128, 127], where the largest |c| is 127 or 128, so s = amax /
// 127 or amax / 128: the grids whose extreme codes are used (round to
// nearest, and any clipping method that clips something); false otherwise,
// and the layer keeps its fake-quantized fp32 path. Two passes at most per
// row, so a hostile model file cannot make this search long.
bool RowCodes(const float* w, size_t cols, float* scale, uint8_t* codes) {
  float amax = 0.0f;
  for (size_t k = 0; k < cols; ++k) amax = std::max(amax, std::fabs(w[k]));
  if (!std::isfinite(amax)) return false;
  if (amax == 0.0f) {
    *scale = 0.0f;
    std::fill(codes, codes + cols, uint8_t{128});
    return true;
  }
  auto fits = [&](float s) {
    if (!(s > 0.0f) || kernels::F32FromF16(kernels::F16FromF32(s)) != s) return false;
    for (size_t k = 0; k < cols; ++k) {
      const float c = std::nearbyint(w[k] / s);
      if (c < -128.0f || c > 127.0f || c * s != w[k]) return false;
      codes[k] = static_cast<uint8_t>(128 + static_cast<int>(c));
    }
    return true;
  };
  for (const float c : {127.0f, 128.0f}) {
    if (fits(amax / c)) {
      *scale = amax / c;
      return true;
    }
  }
  return false;
}
}  // namespace

Result<kernels::PackedWeights> ExactW8FromF32(const float* w, size_t rows, size_t cols) {
  if (w == nullptr || rows == 0 || cols == 0) return InvalidArgument("w8 recovery: empty weights");
  std::vector<uint8_t> codes(rows * cols), zeros(rows, 128);
  std::vector<uint16_t> scales(rows);
  for (size_t n = 0; n < rows; ++n) {
    float s = 0.0f;
    if (!RowCodes(w + n * cols, cols, &s, codes.data() + n * cols))
      return InvalidArgument("row " + std::to_string(n) + " is not 8-bit codes times a scale");
    scales[n] = kernels::F16FromF32(s);
  }
  return kernels::Pack({8, rows, cols, cols}, codes, scales, zeros);
}

Status SetFakeQuant(LinearWeights& w) {
  if (w.is_packed) return InvalidArgument("fake quantization is for fp32 weights");
  w.act_bits = 8;
  return Status::Ok();
}

Status Linear(const OpContext& ctx, const LinearWeights& w, const float* x, size_t lda, size_t rows,
              float* y, size_t ldy, LinearScratch& scratch) {
  if (rows == 0) return Status::Ok();
  if (w.is_packed) {
    if (w.act_bits == 8) {
      QASR_RETURN_IF_ERROR(kernels::QuantizeActivations(*ctx.gemm, x, lda, rows, w.packed.layout(),
                                                        scratch.qx, ctx.pool));
      return kernels::GemmA8(*ctx.gemm, scratch.qx, w.packed, w.bias, y, ldy, ctx.pool);
    }
    return kernels::GemmF32(*ctx.gemm, x, lda, rows, w.packed, w.bias, y, ldy, ctx.pool);
  }
  if (w.act_bits == 8) {
    // Each row becomes xq * sx with xq its dynamic int8 codes (docs/QUANTIZATION.md
    // §2), exactly as qasr.quant.fake_quant_activations.
    Grow(scratch.fq, rows * w.in);
    QASR_RETURN_IF_ERROR(kernels::FakeQuantizeActivations(*ctx.gemm, x, lda, rows, w.in,
                                                          scratch.fq.data(), w.in, ctx.pool));
    x = scratch.fq.data();
    lda = w.in;
  }
  if (w.panels == nullptr) return InvalidArgument("linear: weights not set");
  Result<const kernels::DensePanels*> panels = w.panels->Get(ctx.pool);
  if (!panels.ok()) return panels.status();
  return kernels::DenseGemmPanels(*ctx.dense, x, lda, rows, **panels, w.bias, y, ldy, ctx.pool);
}

}  // namespace qasr::engine
