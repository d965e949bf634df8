#include "engine/ops/linear.h"

#include <cmath>
#include <cstring>

#include "kernels/gemm/gemm.h"

namespace qasr::engine {

void FakeQuantizeRow(float* x, size_t n) {
  float amax = 0.0f;
  for (size_t i = 0; i < n; ++i) amax = std::fmax(amax, std::fabs(x[i]));
  const float inv = kernels::ActivationInverseScale(amax);
  const float sx = inv == 0.0f ? 0.0f : amax / 127.0f;
  for (size_t i = 0; i < n; ++i)
    x[i] = static_cast<float>(kernels::QuantizeActivation(x[i], inv)) * sx;
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
    if (scratch.fq.size() < rows * w.in) scratch.fq.resize(rows * w.in);
    for (size_t m = 0; m < rows; ++m) {
      float* row = scratch.fq.data() + m * w.in;
      std::memcpy(row, x + m * lda, w.in * sizeof(float));
      FakeQuantizeRow(row, w.in);
    }
    x = scratch.fq.data();
    lda = w.in;
  }
  return kernels::DenseGemm(*ctx.dense, x, lda, rows, w.w, w.in, w.out, w.in, w.bias, y, ldy,
                            ctx.pool);
}

}  // namespace qasr::engine
