#include "engine/ops/attention.h"

#include <algorithm>
#include <cstring>

#include "engine/ops/elementwise.h"
#include "engine/ops/parallel.h"

namespace qasr::engine {

namespace {
// Scores of one block of query rows: 64 Ki floats (256 KiB), half of a Zen 3 L2.
constexpr size_t kScoreBlockFloats = size_t{1} << 16;
}  // namespace

Status ResizeHeads(const AttentionShape& shape, size_t tk, HeadPanels& out) {
  const size_t hd = shape.head_dim;
  out.k.resize(shape.heads);
  out.v.resize(shape.heads);
  out.keys = tk;
  for (size_t h = 0; h < shape.heads; ++h) {
    QASR_RETURN_IF_ERROR(kernels::ResizePanels(tk, hd, out.k[h]));  // [keys][head_dim]
    QASR_RETURN_IF_ERROR(kernels::ResizePanels(hd, tk, out.v[h]));  // read transposed
  }
  return Status::Ok();
}

Status PackHeadRows(const OpContext& ctx, const float* keys, const float* values, size_t ld,
                    size_t r0, size_t r1, const AttentionShape& shape, HeadPanels& out) {
  const size_t hd = shape.head_dim, tk = out.keys;
  if (out.k.size() != shape.heads || out.v.size() != shape.heads)
    return InvalidArgument("pack heads: panels not sized");
  return ParallelSlots(ctx, 2 * shape.heads, [&](size_t, size_t item) -> Status {
    const size_t h = item / 2;
    if (item % 2 == 0)
      return keys == nullptr
                 ? Status::Ok()
                 : kernels::PackPanelRows(keys + h * hd, ld, tk, hd, false, r0, r1, out.k[h]);
    return values == nullptr
               ? Status::Ok()
               : kernels::PackPanelRows(values + h * hd, ld, hd, tk, true, r0, r1, out.v[h]);
  });
}

Status PackHeads(const OpContext& ctx, const float* keys, const float* values, size_t ld, size_t tk,
                 const AttentionShape& shape, HeadPanels& out) {
  if (keys == nullptr || values == nullptr) return InvalidArgument("pack heads: null rows");
  QASR_RETURN_IF_ERROR(ResizeHeads(shape, tk, out));
  return PackHeadRows(ctx, keys, values, ld, 0, tk, shape, out);
}

Status Attention(const OpContext& ctx, const AttentionShape& shape, float scale, const float* q,
                 size_t ldq, size_t tq, const HeadPanels& kv, size_t valid_keys, float* out,
                 size_t ldo, AttentionScratch& scratch) {
  const size_t hd = shape.head_dim, tk = kv.keys;
  const size_t nk = std::min(valid_keys, tk);
  if (tq == 0) return Status::Ok();
  if (nk == 0) return InvalidArgument("attention: no valid keys");
  if (kv.k.size() != shape.heads) return InvalidArgument("attention: keys not packed");
  // Blocks of query rows (a multiple of the GEMM's 48-row tile, at least one
  // tile) so that one block's scores stay in L2 (~256 KiB; 288 KiB for 48
  // rows of 1500 keys) between Q.K^T, softmax and P.V,
  // instead of a [tq][tk] matrix (9 MiB per head at 1500 encoder steps)
  // streamed through memory three times. Each (head, block) is one parallel
  // item on one thread with its own scratch; each output is computed in the
  // same order whatever the block or thread, so results do not depend on them.
  const size_t block = std::min(tq, std::max<size_t>(48, (kScoreBlockFloats / tk) / 48 * 48));
  const size_t blocks = (tq + block - 1) / block;
  const size_t items = shape.heads * blocks;
  const size_t slots = std::min(NumThreads(ctx), items);
  Grow(scratch.q, slots * block * hd);
  Grow(scratch.scores, slots * block * tk);
  return ParallelSlots(ctx, items, [&](size_t slot, size_t item) -> Status {
    const size_t h = item % shape.heads, r0 = item / shape.heads * block;
    const size_t rows = std::min(block, tq - r0);
    float* qh = scratch.q.data() + slot * block * hd;
    float* scores = scratch.scores.data() + slot * block * tk;
    for (size_t i = 0; i < rows; ++i)
      for (size_t j = 0; j < hd; ++j) qh[i * hd + j] = q[(r0 + i) * ldq + h * hd + j] * scale;
    QASR_RETURN_IF_ERROR(
        kernels::DenseGemmPanels(*ctx.dense, qh, hd, rows, kv.k[h], nullptr, scores, tk, nullptr));
    for (size_t i = 0; i < rows; ++i) {
      float* row = scores + i * tk;
      ctx.dense->softmax(row, nk);
      std::fill(row + nk, row + tk, 0.0f);  // masked keys: probability 0
    }
    return kernels::DenseGemmPanels(*ctx.dense, scores, tk, rows, kv.v[h], nullptr,
                                    out + r0 * ldo + h * hd, ldo, nullptr);
  });
}

void AttendRows(const OpContext& ctx, const AttentionShape& shape, float scale, const float* q,
                const float* const* key_rows, const float* const* value_rows, size_t steps,
                float* scores, float* out) {
  const size_t hd = shape.head_dim;
  for (size_t h = 0; h < shape.heads; ++h)
    ctx.dense->attend_row(q + h * hd, scale, key_rows, value_rows, h * hd, steps, hd, scores,
                          out + h * hd);
}

}  // namespace qasr::engine
