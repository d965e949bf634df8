#include "engine/models/vggtransformer/layers.h"

#include <algorithm>
#include <cmath>

namespace qasr::engine {

float AttentionScale(size_t head_dim) {
  // model.py: head_dim ** -0.5 in double, applied to fp32 queries.
  return static_cast<float>(std::pow(static_cast<double>(head_dim), -0.5));
}

void LayerBuffers::Reserve(size_t rows, size_t d, size_t ffn_dim, size_t kv_rows) {
  for (auto* b : {&h, &q, &proj}) Grow(*b, rows * d);
  Grow(kv, std::max(rows, std::min(kv_rows, kKeyValueBlockRows)) * d);
  Grow(ffn, std::min(rows, FfnChunkRows()) * ffn_dim);
}

Status FeedForward(const OpContext& ctx, const TransformerLayerWeights& w, const float* h,
                   size_t rows, float* out, size_t chunk_rows, Scratch& hidden,
                   LinearScratch& linear) {
  const size_t chunk = std::max<size_t>(chunk_rows, 1);
  if (hidden.size() < std::min(rows, chunk) * w.ffn)
    return Internal("feed-forward: buffers not reserved");
  for (size_t r0 = 0; r0 < rows; r0 += chunk) {
    const size_t n = std::min(chunk, rows - r0);
    QASR_RETURN_IF_ERROR(Linear(ctx, w.fc1, h + r0 * w.d, w.d, n, hidden.data(), w.ffn, linear));
    Relu(ctx, hidden.data(), n * w.ffn);
    QASR_RETURN_IF_ERROR(Linear(ctx, w.fc2, hidden.data(), w.ffn, n, out + r0 * w.d, w.d, linear));
  }
  return Status::Ok();
}

Status FeedForward(const OpContext& ctx, const TransformerLayerWeights& w, const float* h,
                   size_t rows, LayerBuffers& buf) {
  return FeedForward(ctx, w, h, rows, buf.proj.data(), buf.FfnChunkRows(), buf.ffn, buf.linear);
}

Status ProjectKeysValues(const OpContext& ctx, const AttentionWeights& w, size_t heads,
                         const float* x, size_t rows, size_t d, LayerBuffers& buf,
                         HeadPanels& out) {
  const AttentionShape shape{heads, d / heads};
  const size_t block = std::min(rows, kKeyValueBlockRows);
  if (buf.kv.size() < block * d) return Internal("key/value projection: buffer not reserved");
  QASR_RETURN_IF_ERROR(ResizeHeads(shape, rows, out));
  for (size_t r0 = 0; r0 < rows; r0 += block) {
    const size_t n = std::min(block, rows - r0);
    QASR_RETURN_IF_ERROR(Linear(ctx, w.k, x + r0 * d, d, n, buf.kv.data(), d, buf.linear));
    QASR_RETURN_IF_ERROR(PackHeadRows(ctx, buf.kv.data(), nullptr, d, r0, r0 + n, shape, out));
    QASR_RETURN_IF_ERROR(Linear(ctx, w.v, x + r0 * d, d, n, buf.kv.data(), d, buf.linear));
    QASR_RETURN_IF_ERROR(PackHeadRows(ctx, nullptr, buf.kv.data(), d, r0, r0 + n, shape, out));
  }
  return Status::Ok();
}

}  // namespace qasr::engine
