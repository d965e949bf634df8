// Transformer sublayers shared by the encoder and the decoder (model.py
// EncoderLayer / DecoderLayer): pre-LN or post-LN residual blocks and the
// ReLU FFN.
// Thread-safety: functions on caller-owned buffers.
#pragma once

#include <cstddef>
#include <vector>

#include "engine/models/vggtransformer/weights.h"
#include "engine/ops/attention.h"
#include "engine/ops/elementwise.h"

namespace qasr::engine {

// Per-session buffers of the transformer layers (grow only).
struct LayerBuffers {
  std::vector<float> h, q, k, v, attn, proj, ffn;
  AttentionScratch attention;
  LinearScratch linear;
  // Sizes every buffer for `rows` rows of the given widths; k and v for
  // max(rows, kv_rows) rows (the decoder projects the encoder's frames into
  // them once per utterance, but runs everything else on a few beams).
  void Reserve(size_t rows, size_t d, size_t ffn_dim, size_t kv_rows = 0);
};

// model.py _block: pre-LN x += fn(LN(x)); post-LN x = LN(x + fn(x)).
// `fn` reads `rows` rows of width d from its argument and writes buf.proj.
template <class Fn>
Status ResidualBlock(const OpContext& ctx, const NormWeights& ln, bool normalize_before, float* x,
                     size_t rows, size_t d, LayerBuffers& buf, const Fn& fn) {
  if (normalize_before) {
    LayerNormRows(ctx, x, d, rows, d, ln.gamma, ln.beta, buf.h.data(), d);
    QASR_RETURN_IF_ERROR(fn(buf.h.data()));
    AddInPlace(ctx, x, buf.proj.data(), rows * d);
  } else {
    QASR_RETURN_IF_ERROR(fn(x));
    AddInPlace(ctx, x, buf.proj.data(), rows * d);
    LayerNormRows(ctx, x, d, rows, d, ln.gamma, ln.beta, x, d);
  }
  return Status::Ok();
}

// head_dim^-0.5 as model.py computes it.
float AttentionScale(size_t head_dim);

// FFN: proj = fc2(relu(fc1(h))).
Status FeedForward(const OpContext& ctx, const TransformerLayerWeights& w, const float* h,
                   size_t rows, LayerBuffers& buf);

// Self-attention of `rows` rows over themselves, keys >= valid_keys masked.
Status SelfAttention(const OpContext& ctx, const AttentionWeights& w, size_t heads, const float* h,
                     size_t rows, size_t d, size_t valid_keys, LayerBuffers& buf);

}  // namespace qasr::engine
