#include "engine/models/vggtransformer/layers.h"

#include <algorithm>
#include <cmath>

namespace qasr::engine {

float AttentionScale(size_t head_dim) {
  // model.py: head_dim ** -0.5 in double, applied to fp32 queries.
  return static_cast<float>(std::pow(static_cast<double>(head_dim), -0.5));
}

namespace {
void Grow(std::vector<float>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}
}  // namespace

void LayerBuffers::Reserve(size_t rows, size_t d, size_t ffn_dim, size_t kv_rows) {
  for (auto* b : {&h, &q, &attn, &proj}) Grow(*b, rows * d);
  for (auto* b : {&k, &v}) Grow(*b, std::max(rows, kv_rows) * d);
  Grow(ffn, rows * ffn_dim);
}

Status FeedForward(const OpContext& ctx, const TransformerLayerWeights& w, const float* h,
                   size_t rows, LayerBuffers& buf) {
  QASR_RETURN_IF_ERROR(Linear(ctx, w.fc1, h, w.d, rows, buf.ffn.data(), w.ffn, buf.linear));
  Relu(ctx, buf.ffn.data(), rows * w.ffn);
  return Linear(ctx, w.fc2, buf.ffn.data(), w.ffn, rows, buf.proj.data(), w.d, buf.linear);
}

Status SelfAttention(const OpContext& ctx, const AttentionWeights& w, size_t heads, const float* h,
                     size_t rows, size_t d, size_t valid_keys, LayerBuffers& buf) {
  QASR_RETURN_IF_ERROR(Linear(ctx, w.q, h, d, rows, buf.q.data(), d, buf.linear));
  QASR_RETURN_IF_ERROR(Linear(ctx, w.k, h, d, rows, buf.k.data(), d, buf.linear));
  QASR_RETURN_IF_ERROR(Linear(ctx, w.v, h, d, rows, buf.v.data(), d, buf.linear));
  const AttentionShape shape{heads, d / heads};
  const float scale = AttentionScale(shape.head_dim);
  // Only the valid keys are packed: a padded key's probability is exactly 0,
  // so leaving it out skips its work without changing any sum.
  const size_t keys = std::min(rows, valid_keys);
  if (keys == 0) return InvalidArgument("attention: no valid keys");
  QASR_RETURN_IF_ERROR(
      PackHeads(ctx, buf.k.data(), d, buf.v.data(), d, keys, shape, buf.attention.heads));
  QASR_RETURN_IF_ERROR(Attention(ctx, shape, scale, buf.q.data(), d, rows, buf.attention.heads,
                                 valid_keys, buf.attn.data(), d, buf.attention));
  return Linear(ctx, w.out, buf.attn.data(), d, rows, buf.proj.data(), d, buf.linear);
}

}  // namespace qasr::engine
