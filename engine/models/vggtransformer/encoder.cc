#include "engine/models/vggtransformer/encoder.h"

#include <algorithm>
#include <cstring>

#include "engine/ops/elementwise.h"
#include "engine/ops/parallel.h"

namespace qasr::engine {

namespace {

void Grow(std::vector<float>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

// VGG blocks; returns the flattened [t][c * freq + f] activations in buf.x.
Status RunVgg(const OpContext& ctx, const VggTransformerWeights& w, const float* feats,
              size_t frames, EncoderBuffers& buf, size_t* out_frames) {
  const ModelConfig& cfg = w.config;
  size_t t = frames, freq = static_cast<size_t>(cfg.input_feat);
  size_t c = static_cast<size_t>(cfg.in_channels);
  size_t most = t * freq * c;
  for (const auto& blk : w.vgg)
    for (const auto& cv : blk.convs) most = std::max(most, t * blk.freq_in * cv.shape.out_channels);
  Grow(buf.vgg_a, most);
  Grow(buf.vgg_b, most);
  float* cur = buf.vgg_a.data();
  float* other = buf.vgg_b.data();
  // (B, T, C*F) viewed as (B, C, T, F): channels last is [t][f][c] = feats[t][c*F + f].
  for (size_t i = 0; i < t; ++i)
    for (size_t ch = 0; ch < c; ++ch)
      for (size_t f = 0; f < freq; ++f)
        cur[(i * freq + f) * c + ch] = feats[(i * c + ch) * freq + f];
  for (const auto& blk : w.vgg) {
    for (const auto& cv : blk.convs) {
      QASR_RETURN_IF_ERROR(Conv2d(ctx, cv.shape, cv.w, cur, t, freq, other, buf.conv));
      c = cv.shape.out_channels;
      if (cv.has_ln) LayerNormFreq(ctx, other, t, freq, c, cv.ln.gamma, cv.ln.beta);
      Relu(ctx, other, t * freq * c);
      std::swap(cur, other);
    }
    MaxPoolCeil(ctx, cur, t, freq, c, blk.pool, other);
    std::swap(cur, other);
    t = (t + blk.pool - 1) / blk.pool;
    freq = blk.freq_out;
  }
  Grow(buf.x, t * c * freq);
  float* flat = buf.x.data();
  ParallelRanges(ctx, t, 16, [&](size_t t0, size_t t1) {
    for (size_t i = t0; i < t1; ++i)
      for (size_t f = 0; f < freq; ++f)
        for (size_t ch = 0; ch < c; ++ch)
          flat[i * c * freq + ch * freq + f] = cur[(i * freq + f) * c + ch];
  });
  *out_frames = t;
  return Status::Ok();
}

Status EncoderLayer(const OpContext& ctx, const TransformerLayerWeights& l, float* x, size_t rows,
                    size_t valid, LayerBuffers& buf) {
  const size_t d = l.d;
  QASR_RETURN_IF_ERROR(
      ResidualBlock(ctx, l.self_attn_ln, l.normalize_before, x, rows, d, buf, [&](const float* h) {
        return SelfAttention(ctx, l.self_attn, l.heads, h, rows, d, valid, buf);
      }));
  return ResidualBlock(ctx, l.final_ln, l.normalize_before, x, rows, d, buf,
                       [&](const float* h) { return FeedForward(ctx, l, h, rows, buf); });
}

}  // namespace

size_t EncoderFrames(const VggTransformerWeights& w, size_t frames) {
  for (const auto& blk : w.vgg) frames = (frames + blk.pool - 1) / blk.pool;
  return frames;
}

Status RunEncoder(const OpContext& ctx, const VggTransformerWeights& w, const float* feats,
                  size_t frames, size_t valid_frames, EncoderBuffers& buf,
                  std::vector<float>& out) {
  size_t t = 0;
  QASR_RETURN_IF_ERROR(RunVgg(ctx, w, feats, frames, buf, &t));
  const size_t valid = std::min(t, EncoderFrames(w, valid_frames));
  size_t width = w.vgg_width;
  for (const auto& l : w.encoder_layers) {
    buf.layer.Reserve(t, l.d, l.ffn);
    if (l.has_adapter) {
      Grow(buf.adapted, t * l.d);
      QASR_RETURN_IF_ERROR(Linear(ctx, l.adapter, buf.x.data(), width, t, buf.adapted.data(), l.d,
                                  buf.layer.linear));
      std::swap(buf.x, buf.adapted);
      width = l.d;
    }
    QASR_RETURN_IF_ERROR(EncoderLayer(ctx, l, buf.x.data(), t, valid, buf.layer));
  }
  const size_t e = w.encoder_out.out;
  out.resize(t * e);
  QASR_RETURN_IF_ERROR(
      Linear(ctx, w.encoder_out, buf.x.data(), width, t, out.data(), e, buf.layer.linear));
  LayerNormRows(ctx, out.data(), e, t, e, w.encoder_ln.gamma, w.encoder_ln.beta, out.data(), e);
  return Status::Ok();
}

}  // namespace qasr::engine
