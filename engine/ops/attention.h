// Scaled dot-product attention over projected heads (model.py
// MultiheadAttention.attend): scores = (q * scale) . k^T, keys at or beyond
// `valid_keys` masked (probability exactly 0, as exp(-inf) in PyTorch),
// softmax, then p . v. Keys and values are packed per head into GEMM panels
// (PackHeads) once per use: per call for encoder self-attention, once per
// utterance for the decoder's cross-attention.
// Thread-safety: functions on caller-owned buffers; scratch belongs to one session.
#pragma once

#include <cstddef>
#include <vector>

#include "engine/ops/context.h"
#include "engine/ops/scratch.h"
#include "kernels/base/status.h"
#include "kernels/dense/dense_gemm.h"

namespace qasr::engine {

struct AttentionShape {
  size_t heads = 0, head_dim = 0;
  size_t d() const { return heads * head_dim; }
};

// Per head h: K_h as [tk][head_dim] (the B operand of q . k^T) and V_h as
// [tk][head_dim] read transposed (the B operand of p . v).
struct HeadPanels {
  std::vector<kernels::DensePanels> k, v;
  size_t keys = 0;
};

// Packs tk projected keys and values (each [tk][d], row stride ld) into
// out's per-head panels, 2 x heads parallel items on ctx's pool; out.keys =
// tk.
Status PackHeads(const OpContext& ctx, const float* keys, const float* values, size_t ld, size_t tk,
                 const AttentionShape& shape, HeadPanels& out);
// The same a block of rows at a time, for keys and values projected in
// blocks (the decoder's cross-attention, so that no [steps][d] buffer is
// held): ResizeHeads sizes out for tk keys, then PackHeadRows packs rows
// [r0, r1) given at keys and values (either may be null: that half is left
// alone), r0 a multiple of kernels::kPanelCols, r1 too unless it is tk.
Status ResizeHeads(const AttentionShape& shape, size_t tk, HeadPanels& out);
Status PackHeadRows(const OpContext& ctx, const float* keys, const float* values, size_t ld,
                    size_t r0, size_t r1, const AttentionShape& shape, HeadPanels& out);

struct AttentionScratch {
  // Per thread (slot): one block of one head's scaled queries [block][head_dim]
  // and its scores [block][tk] (block: <= max(64 Ki / tk, 48) rows).
  Scratch q;
  Scratch scores;
  HeadPanels heads;  // self-attention keys/values
};

// Attention of tq queries (row stride ldq) over packed keys/values; out is
// [tq][d] (row stride ldo).
Status Attention(const OpContext& ctx, const AttentionShape& shape, float scale, const float* q,
                 size_t ldq, size_t tq, const HeadPanels& kv, size_t valid_keys, float* out,
                 size_t ldo, AttentionScratch& scratch);

// One query row per hypothesis over its own cached keys: key_rows[s] and
// value_rows[s] (s < steps) point to the d-wide cached rows of this
// hypothesis' history (the incremental decoder's KV cache). No mask.
void AttendRows(const OpContext& ctx, const AttentionShape& shape, float scale, const float* q,
                const float* const* key_rows, const float* const* value_rows, size_t steps,
                float* scores, float* out);

}  // namespace qasr::engine
