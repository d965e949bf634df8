#include "engine/ops/linear.h"

#include "kernels/gemm/gemm.h"

namespace qasr::engine {

Result<const kernels::DensePanels*> LazyPanels::Get() const {
  std::call_once(once_, [this] {
    status_ = kernels::PackPanels(w_, transposed_ ? n_ : k_, n_, k_, transposed_, panels_);
    if (!status_.ok()) return;
    // The panels are the only copy read from now on.
    std::vector<float>().swap(owned_);
    if (release_) release_({reinterpret_cast<const uint8_t*>(w_), n_ * k_ * sizeof(float)});
  });
  if (!status_.ok()) return status_;
  return &panels_;
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
    if (scratch.fq.size() < rows * w.in) scratch.fq.resize(rows * w.in);
    QASR_RETURN_IF_ERROR(kernels::FakeQuantizeActivations(*ctx.gemm, x, lda, rows, w.in,
                                                          scratch.fq.data(), w.in, ctx.pool));
    x = scratch.fq.data();
    lda = w.in;
  }
  if (w.panels == nullptr) return InvalidArgument("linear: weights not set");
  Result<const kernels::DensePanels*> panels = w.panels->Get();
  if (!panels.ok()) return panels.status();
  return kernels::DenseGemmPanels(*ctx.dense, x, lda, rows, **panels, w.bias, y, ldy, ctx.pool);
}

}  // namespace qasr::engine
