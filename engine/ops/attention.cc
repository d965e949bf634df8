#include "engine/ops/attention.h"

#include <algorithm>
#include <cstring>

#include "engine/ops/elementwise.h"

namespace qasr::engine {

Status PackHeads(const float* k, size_t ldk, const float* v, size_t ldv, size_t tk,
                 const AttentionShape& shape, HeadPanels& out) {
  const size_t hd = shape.head_dim;
  out.k.resize(shape.heads);
  out.v.resize(shape.heads);
  out.keys = tk;
  for (size_t h = 0; h < shape.heads; ++h) {
    QASR_RETURN_IF_ERROR(kernels::PackPanels(k + h * hd, ldk, tk, hd, false, out.k[h]));
    QASR_RETURN_IF_ERROR(kernels::PackPanels(v + h * hd, ldv, hd, tk, true, out.v[h]));
  }
  return Status::Ok();
}

Status Attention(const OpContext& ctx, const AttentionShape& shape, float scale, const float* q,
                 size_t ldq, size_t tq, const HeadPanels& kv, size_t valid_keys, float* out,
                 size_t ldo, AttentionScratch& scratch) {
  const size_t d = shape.d(), hd = shape.head_dim, tk = kv.keys;
  const size_t nk = std::min(valid_keys, tk);
  if (tq == 0) return Status::Ok();
  if (nk == 0) return InvalidArgument("attention: no valid keys");
  if (kv.k.size() != shape.heads) return InvalidArgument("attention: keys not packed");
  if (scratch.q.size() < tq * d) scratch.q.resize(tq * d);
  if (scratch.scores.size() < tq * tk) scratch.scores.resize(tq * tk);
  for (size_t i = 0; i < tq; ++i)
    for (size_t j = 0; j < d; ++j) scratch.q[i * d + j] = q[i * ldq + j] * scale;
  float* scores = scratch.scores.data();
  for (size_t h = 0; h < shape.heads; ++h) {
    QASR_RETURN_IF_ERROR(kernels::DenseGemmPanels(*ctx.dense, scratch.q.data() + h * hd, d, tq,
                                                  kv.k[h], nullptr, scores, tk, ctx.pool));
    for (size_t i = 0; i < tq; ++i) {
      float* row = scores + i * tk;
      ctx.dense->softmax(row, nk);
      std::fill(row + nk, row + tk, 0.0f);  // masked keys: probability 0
    }
    QASR_RETURN_IF_ERROR(kernels::DenseGemmPanels(*ctx.dense, scores, tk, tq, kv.v[h], nullptr,
                                                  out + h * hd, ldo, ctx.pool));
  }
  return Status::Ok();
}

void AttendRows(const OpContext& ctx, const AttentionShape& shape, float scale, const float* q,
                const float* const* key_rows, const float* const* value_rows, size_t steps,
                float* scores, float* out) {
  const size_t hd = shape.head_dim;
  for (size_t h = 0; h < shape.heads; ++h) {
    const float* qh = q + h * hd;
    for (size_t s = 0; s < steps; ++s) {
      const float* kh = key_rows[s] + h * hd;
      // Eight partial sums: the compiler turns them into one vector register.
      float part[8] = {};
      size_t j = 0;
      for (; j + 8 <= hd; j += 8)
        for (size_t u = 0; u < 8; ++u) part[u] += (qh[j + u] * scale) * kh[j + u];
      float dot = 0.0f;
      for (; j < hd; ++j) dot += (qh[j] * scale) * kh[j];
      for (size_t u = 0; u < 8; ++u) dot += part[u];
      scores[s] = dot;
    }
    ctx.dense->softmax(scores, steps);
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
