#include "engine/ops/attention.h"

#include <algorithm>
#include <cstring>

#include "engine/ops/elementwise.h"

namespace qasr::engine {

void TransposeHeads(const float* v, size_t ldv, size_t tk, const AttentionShape& shape, float* vt,
                    size_t ldvt) {
  const size_t hd = shape.head_dim;
  for (size_t h = 0; h < shape.heads; ++h)
    for (size_t t = 0; t < tk; ++t) {
      const float* src = v + t * ldv + h * hd;
      float* dst = vt + h * hd * ldvt + t;
      for (size_t j = 0; j < hd; ++j) dst[j * ldvt] = src[j];
    }
}

Status Attention(const OpContext& ctx, const AttentionShape& shape, float scale, const float* q,
                 size_t ldq, size_t tq, const float* k, size_t ldk, const float* v, size_t ldv,
                 const float* vt, size_t ldvt, size_t tk, size_t valid_keys, float* out, size_t ldo,
                 AttentionScratch& scratch) {
  const size_t d = shape.d(), hd = shape.head_dim, nk = std::min(valid_keys, tk);
  if (tq == 0) return Status::Ok();
  if (nk == 0) return InvalidArgument("attention: no valid keys");
  if (scratch.q.size() < tq * d) scratch.q.resize(tq * d);
  if (scratch.scores.size() < tq * nk) scratch.scores.resize(tq * nk);
  for (size_t i = 0; i < tq; ++i)
    for (size_t j = 0; j < d; ++j) scratch.q[i * d + j] = q[i * ldq + j] * scale;
  if (vt == nullptr) {
    if (scratch.vt.size() < d * nk) scratch.vt.resize(d * nk);
    TransposeHeads(v, ldv, nk, shape, scratch.vt.data(), nk);
    vt = scratch.vt.data();
    ldvt = nk;
  }
  float* scores = scratch.scores.data();
  for (size_t h = 0; h < shape.heads; ++h) {
    // Masked keys are left out: exp(-inf) = 0 contributes nothing.
    QASR_RETURN_IF_ERROR(kernels::DenseGemm(*ctx.dense, scratch.q.data() + h * hd, d, tq,
                                            k + h * hd, ldk, nk, hd, nullptr, scores, nk,
                                            ctx.pool));
    for (size_t i = 0; i < tq; ++i) SoftmaxInPlace(scores + i * nk, nk);
    QASR_RETURN_IF_ERROR(kernels::DenseGemm(*ctx.dense, scores, nk, tq, vt + h * hd * ldvt, ldvt,
                                            hd, nk, nullptr, out + h * hd, ldo, ctx.pool));
  }
  return Status::Ok();
}

void AttendRows(const AttentionShape& shape, float scale, const float* q,
                const float* const* key_rows, const float* const* value_rows, size_t steps,
                float* scores, float* out) {
  const size_t hd = shape.head_dim;
  for (size_t h = 0; h < shape.heads; ++h) {
    const float* qh = q + h * hd;
    for (size_t s = 0; s < steps; ++s) {
      const float* kh = key_rows[s] + h * hd;
      float dot = 0.0f;
      for (size_t j = 0; j < hd; ++j) dot += (qh[j] * scale) * kh[j];
      scores[s] = dot;
    }
    SoftmaxInPlace(scores, steps);
    float* oh = out + h * hd;
    std::memset(oh, 0, hd * sizeof(float));
    for (size_t s = 0; s < steps; ++s) {
      const float p = scores[s];
      const float* vh = value_rows[s] + h * hd;
      for (size_t j = 0; j < hd; ++j) oh[j] += p * vh[j];
    }
  }
}

}  // namespace qasr::engine
