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

// FFN rows per fc1 -> ReLU -> fc2 pass when LayerBuffers::ffn_chunk_rows is 0:
// a [192][ffn] hidden block (3 MiB at ffn = 4096) instead of [rows][ffn]
// (24 MiB for 60 s at paper scale), in whole 48-row GEMM tiles.
inline constexpr size_t kFfnChunkRows = 192;

// Rows per block when ProjectKeysValues projects the encoder's steps for
// cross-attention: a [256][d] buffer (1 MiB at d = 1024) instead of
// [steps][d] (6 MiB for 60 s at paper scale), held next to the packed keys
// and values; a multiple of the panels' 16 columns.
inline constexpr size_t kKeyValueBlockRows = 256;

// Per-session buffers of the transformer layers (grow only).
//   h     the block input LN(x); once q/k/v are projected from it, the
//         attention output (so no separate buffer is held for that)
//   kv    the decoder: one block of encoder steps' keys, then its values,
//         each packed before the next projection (ProjectKeysValues); the
//         encoder: keys (its values go to proj until they are packed)
//   ffn   the FFN hidden activations of one chunk of rows (the decoder's;
//         the encoder's row slices have their own, LayerSlot)
struct LayerBuffers {
  // FFN rows per chunk (0: kFfnChunkRows). Every row's result is the same
  // whatever the chunk: per-row activation quantization and GEMM rows do not
  // depend on the rows they are batched with.
  size_t ffn_chunk_rows = 0;
  Scratch h, q, kv, proj, ffn;
  AttentionScratch attention;
  LinearScratch linear;
  // Sizes every buffer for `rows` rows of the given widths; kv for
  // max(rows, min(kv_rows, kKeyValueBlockRows)) rows (the decoder projects
  // the encoder's steps through it once per utterance, a block at a time,
  // but runs everything else on a few beams).
  void Reserve(size_t rows, size_t d, size_t ffn_dim, size_t kv_rows = 0);
  size_t FfnChunkRows() const { return ffn_chunk_rows == 0 ? kFfnChunkRows : ffn_chunk_rows; }
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

// FFN: out = fc2(relu(fc1(h))) (row stride d), in chunks of chunk_rows rows
// through `hidden` (which must hold min(rows, chunk_rows) x ffn).
Status FeedForward(const OpContext& ctx, const TransformerLayerWeights& w, const float* h,
                   size_t rows, float* out, size_t chunk_rows, Scratch& hidden,
                   LinearScratch& linear);
// The same with buf's buffers: proj = fc2(relu(fc1(h))).
Status FeedForward(const OpContext& ctx, const TransformerLayerWeights& w, const float* h,
                   size_t rows, LayerBuffers& buf);

// Keys and values of `rows` rows of x (width and row stride d) through w.k
// and w.v, packed per head into out, kKeyValueBlockRows rows and one
// projection at a time through buf.kv (which must hold min(rows,
// kKeyValueBlockRows) x d). Per-row activation quantization: the same bits
// as one pass over every row.
Status ProjectKeysValues(const OpContext& ctx, const AttentionWeights& w, size_t heads,
                         const float* x, size_t rows, size_t d, LayerBuffers& buf, HeadPanels& out);

}  // namespace qasr::engine
