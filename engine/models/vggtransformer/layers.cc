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
  Grow(kv, std::max(rows, kv_rows) * d);
  Grow(ffn, std::min(rows, FfnChunkRows()) * ffn_dim);
}

Status FeedForward(const OpContext& ctx, const TransformerLayerWeights& w, const float* h,
                   size_t rows, LayerBuffers& buf) {
  const size_t chunk = buf.FfnChunkRows();
  if (buf.ffn.size() < std::min(rows, chunk) * w.ffn)
    return Internal("feed-forward: buffers not reserved");
  for (size_t r0 = 0; r0 < rows; r0 += chunk) {
    const size_t n = std::min(chunk, rows - r0);
    QASR_RETURN_IF_ERROR(
        Linear(ctx, w.fc1, h + r0 * w.d, w.d, n, buf.ffn.data(), w.ffn, buf.linear));
    Relu(ctx, buf.ffn.data(), n * w.ffn);
    QASR_RETURN_IF_ERROR(
        Linear(ctx, w.fc2, buf.ffn.data(), w.ffn, n, buf.proj.data() + r0 * w.d, w.d, buf.linear));
  }
  return Status::Ok();
}

Status ProjectKeysValues(const OpContext& ctx, const AttentionWeights& w, size_t heads,
                         const float* x, size_t rows, size_t d, LayerBuffers& buf,
                         HeadPanels& out) {
  const AttentionShape shape{heads, d / heads};
  if (buf.kv.size() < rows * d) return Internal("key/value projection: buffer not reserved");
  QASR_RETURN_IF_ERROR(Linear(ctx, w.k, x, d, rows, buf.kv.data(), d, buf.linear));
  QASR_RETURN_IF_ERROR(PackHeads(ctx, HeadPart::kKeys, buf.kv.data(), d, rows, shape, out));
  QASR_RETURN_IF_ERROR(Linear(ctx, w.v, x, d, rows, buf.kv.data(), d, buf.linear));
  return PackHeads(ctx, HeadPart::kValues, buf.kv.data(), d, rows, shape, out);
}

Status SelfAttention(const OpContext& ctx, const AttentionWeights& w, size_t heads, const float* h,
                     size_t rows, size_t d, size_t valid_keys, LayerBuffers& buf) {
  const AttentionShape shape{heads, d / heads};
  const float scale = AttentionScale(shape.head_dim);
  // Only the valid keys are projected and packed: a padded key's probability
  // is exactly 0, so leaving it out skips its work without changing any sum.
  const size_t keys = std::min(rows, valid_keys);
  if (keys == 0) return InvalidArgument("attention: no valid keys");
  QASR_RETURN_IF_ERROR(Linear(ctx, w.q, h, d, rows, buf.q.data(), d, buf.linear));
  QASR_RETURN_IF_ERROR(ProjectKeysValues(ctx, w, heads, h, keys, d, buf, buf.attention.heads));
  float* out = buf.h.data();  // h is no longer needed
  QASR_RETURN_IF_ERROR(Attention(ctx, shape, scale, buf.q.data(), d, rows, buf.attention.heads,
                                 valid_keys, out, d, buf.attention));
  return Linear(ctx, w.out, out, d, rows, buf.proj.data(), d, buf.linear);
}

}  // namespace qasr::engine
