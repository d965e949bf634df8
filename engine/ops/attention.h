// Scaled dot-product attention over projected heads (model.py
// MultiheadAttention.attend): scores = (q * scale) . k^T, keys at or beyond
// `valid_keys` masked (-inf, i.e. excluded), softmax, then p . v.
// Thread-safety: functions on caller-owned buffers; scratch belongs to one session.
#pragma once

#include <cstddef>
#include <vector>

#include "engine/ops/context.h"
#include "kernels/base/status.h"

namespace qasr::engine {

struct AttentionShape {
  size_t heads = 0, head_dim = 0;
  size_t d() const { return heads * head_dim; }
};

struct AttentionScratch {
  std::vector<float> q;       // scaled queries [tq][d]
  std::vector<float> scores;  // [tq][tk]
  std::vector<float> vt;      // transposed values when the caller has none
};

// vt[h][j][t] = v[t][h * head_dim + j] for t < tk (vt row stride ldvt >= tk).
void TransposeHeads(const float* v, size_t ldv, size_t tk, const AttentionShape& shape, float* vt,
                    size_t ldvt);

// Full attention of tq queries over tk keys for every head; out is [tq][d]
// (row stride ldo). vt: values transposed per head (TransposeHeads, stride
// ldvt), or null to transpose v here.
Status Attention(const OpContext& ctx, const AttentionShape& shape, float scale, const float* q,
                 size_t ldq, size_t tq, const float* k, size_t ldk, const float* v, size_t ldv,
                 const float* vt, size_t ldvt, size_t tk, size_t valid_keys, float* out, size_t ldo,
                 AttentionScratch& scratch);

// One query row per hypothesis over its own cached keys: key_rows[s] and
// value_rows[s] (s < steps) point to the d-wide cached rows of this
// hypothesis' history (the incremental decoder's KV cache). No mask.
void AttendRows(const AttentionShape& shape, float scale, const float* q,
                const float* const* key_rows, const float* const* value_rows, size_t steps,
                float* scores, float* out);

}  // namespace qasr::engine
