#include "engine/models/vggtransformer/encoder.h"

#include <algorithm>
#include <cstring>

#include "engine/ops/elementwise.h"
#include "engine/ops/parallel.h"

namespace qasr::engine {

namespace {

// Feature frames [begin, end) a VGG chunk must run on so that its final
// frames [o0, o1) are exact: every convolution needs kernel/2 frames of
// context each side, every pool multiplies the frame range. `begin` is a
// multiple of the total pooling factor, so the chunk's pool windows are the
// utterance's; ranges are clipped to the utterance, whose edges are zero
// padding as in the whole-utterance computation.
struct FrameRange {
  size_t begin, end;
};

// Product of the VGG blocks' pool sizes: input frames per encoder step.
size_t PoolFactor(const VggTransformerWeights& w) {
  size_t factor = 1;
  for (const auto& blk : w.vgg) factor *= blk.pool;
  return factor;
}

FrameRange VggInputFrames(const VggTransformerWeights& w, size_t frames, size_t o0, size_t o1) {
  std::vector<size_t> lengths{frames};  // each block's input length
  for (const auto& blk : w.vgg) lengths.push_back((lengths.back() + blk.pool - 1) / blk.pool);
  const size_t factor = PoolFactor(w);
  size_t s = o0, e = o1;
  for (size_t b = w.vgg.size(); b-- > 0;) {
    const auto& blk = w.vgg[b];
    size_t halo = 0;
    for (const auto& cv : blk.convs) halo += cv.shape.kernel / 2;
    s = s * blk.pool > halo ? s * blk.pool - halo : 0;
    e = std::min(lengths[b], e * blk.pool + halo);
  }
  s = s / factor * factor;
  e = std::min(frames, (e + factor - 1) / factor * factor);
  return {s, e};
}

// Default VGG chunk: about this many bytes per activation buffer. A chunk
// runs on one thread through every VGG op, so its two buffers (and the
// convolution's patch codes) should stay within that core's share of the
// caches; smaller chunks recompute more halo frames at their edges.
// Measured (bench_e2e, paper w2 and small-w8, 10 s and 60 s, 1 and 2
// threads): 1 MiB with at least 40 steps was as fast as or faster than 2, 4,
// 8 MiB and one whole-utterance chunk; 16 steps (25 % recomputed halo at
// paper scale) was 10 % slower there.
constexpr size_t kVggChunkBytes = size_t{1} << 20;
// At least this many encoder steps per chunk: with two VGG blocks of two 3x3
// convolutions and pools of 2, a chunk recomputes ~16 feature frames of halo,
// under 10 % of 40 steps (160 frames).
constexpr size_t kVggMinChunkSteps = 40;

// Floats per feature frame of the widest VGG activation (a later block's
// frames count at their own time scale, so this bounds every buffer).
size_t VggFrameFloats(const VggTransformerWeights& w) {
  const ModelConfig& cfg = w.config;
  size_t most = static_cast<size_t>(cfg.input_feat) * static_cast<size_t>(cfg.in_channels);
  for (const auto& blk : w.vgg)
    for (const auto& cv : blk.convs) most = std::max(most, blk.freq_in * cv.shape.out_channels);
  return most;
}

// The VGG blocks on feature frames [s0, e0), single-threaded in one slot's
// buffers (RunVgg sizes them: (e0 - s0) * VggFrameFloats(w) floats each):
// returns the chunk's output in *out ([t][freq][channel], frame 0 = final
// frame s0 / pooling factor).
Status VggChunk(const OpContext& ctx, const VggTransformerWeights& w, const float* feats, size_t s0,
                size_t e0, VggSlot& buf, const float** out, size_t* out_t) {
  const ModelConfig& cfg = w.config;
  size_t t = e0 - s0, freq = static_cast<size_t>(cfg.input_feat);
  size_t c = static_cast<size_t>(cfg.in_channels);
  if (buf.a.size() < t * VggFrameFloats(w) || buf.b.size() < t * VggFrameFloats(w))
    return Internal("vgg chunk buffers not sized");
  float* cur = buf.a.data();
  float* other = buf.b.data();
  // (B, T, C*F) viewed as (B, C, T, F): channels last is [t][f][c] = feats[t][c*F + f].
  for (size_t i = 0; i < t; ++i)
    for (size_t ch = 0; ch < c; ++ch)
      for (size_t f = 0; f < freq; ++f)
        cur[(i * freq + f) * c + ch] = feats[((s0 + i) * c + ch) * freq + f];
  for (const auto& blk : w.vgg) {
    for (const auto& cv : blk.convs) {
      QASR_RETURN_IF_ERROR(Conv2d(ctx, cv.shape, cv.w, cur, t, freq, other, buf.conv));
      c = cv.shape.out_channels;
      if (cv.has_ln) {
        LayerNormFreq(ctx, other, t, freq, c, cv.ln.gamma, cv.ln.beta, /*relu=*/true);
      } else {
        Relu(ctx, other, t * freq * c);
      }
      std::swap(cur, other);
    }
    MaxPoolCeil(ctx, cur, t, freq, c, blk.pool, other);
    std::swap(cur, other);
    t = (t + blk.pool - 1) / blk.pool;
    freq = blk.freq_out;
  }
  *out = cur;
  *out_t = t;
  return Status::Ok();
}

// VGG blocks over chunks of frames (bounded activation memory for any
// length; bit-identical to one pass over the whole utterance, since every
// output row is computed from the same inputs by the same calls); returns the
// flattened [t][c * freq + f] activations in buf.x. Each thread runs whole
// chunks, every op of a chunk on one thread: no barrier between the ~12 ops
// of a chunk, and each chunk's activations stay in that thread's caches
// instead of being split between the cores op by op.
Status RunVgg(const OpContext& ctx, const VggTransformerWeights& w, const float* feats,
              size_t frames, EncoderBuffers& buf, size_t* out_frames) {
  const size_t factor = PoolFactor(w);
  const size_t threads = NumThreads(ctx);
  const size_t frame_floats = VggFrameFloats(w);
  const size_t t_out = EncoderFrames(w, frames);
  const size_t c =
      w.vgg.empty() ? static_cast<size_t>(w.config.in_channels) : w.vgg.back().channels_out;
  const size_t freq =
      w.vgg.empty() ? static_cast<size_t>(w.config.input_feat) : w.vgg.back().freq_out;
  // Encoder steps per chunk: as set, or about kVggChunkBytes per activation
  // buffer but at least kVggMinChunkSteps, in a multiple of `threads` chunks
  // of equal size.
  size_t chunk = buf.vgg_chunk_frames / factor;
  if (buf.vgg_chunk_frames == 0) {
    const size_t step_bytes = frame_floats * factor * sizeof(float);
    chunk = std::max(kVggMinChunkSteps, kVggChunkBytes / step_bytes);
    size_t chunks = (t_out + chunk - 1) / chunk;
    chunks = std::min(t_out, (chunks + threads - 1) / threads * threads);
    chunk = (t_out + chunks - 1) / chunks;
  }
  chunk = std::max<size_t>(1, chunk);
  const size_t chunks = (t_out + chunk - 1) / chunk;
  // Every slot's buffers sized once for the longest chunk (allocated here,
  // first touched by the thread that uses them).
  size_t longest = 0;
  for (size_t i = 0; i < chunks; ++i) {
    const FrameRange in = VggInputFrames(w, frames, i * chunk, std::min(t_out, (i + 1) * chunk));
    longest = std::max(longest, in.end - in.begin);
  }
  if (buf.vgg.size() < std::min(threads, chunks)) buf.vgg.resize(std::min(threads, chunks));
  for (VggSlot& slot : buf.vgg) {
    Grow(slot.a, longest * frame_floats);
    Grow(slot.b, longest * frame_floats);
  }
  Grow(buf.x, t_out * c * freq);
  float* flat = buf.x.data();
  const OpContext single = SingleThreaded(ctx);
  QASR_RETURN_IF_ERROR(ParallelSlots(ctx, chunks, [&](size_t slot, size_t i) -> Status {
    const size_t o0 = i * chunk, o1 = std::min(t_out, o0 + chunk);
    const FrameRange in = VggInputFrames(w, frames, o0, o1);
    const float* out = nullptr;
    size_t t = 0;
    QASR_RETURN_IF_ERROR(VggChunk(single, w, feats, in.begin, in.end, buf.vgg[slot], &out, &t));
    const size_t first = in.begin / factor;  // the chunk's frame 0
    if (first > o0 || first + t < o1) return Internal("vgg chunk does not cover its frames");
    for (size_t o = o0; o < o1; ++o)
      for (size_t f = 0; f < freq; ++f)
        for (size_t ch = 0; ch < c; ++ch)
          flat[o * c * freq + ch * freq + f] = out[((o - first) * freq + f) * c + ch];
    return Status::Ok();
  }));
  *out_frames = t_out;
  // The chunk buffers are not needed by the transformer layers.
  std::vector<VggSlot>().swap(buf.vgg);
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

void EncoderBuffers::Release() {
  const size_t chunk = vgg_chunk_frames;
  const size_t ffn_chunk = layer.ffn_chunk_rows;
  *this = EncoderBuffers{};
  vgg_chunk_frames = chunk;
  layer.ffn_chunk_rows = ffn_chunk;
}

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
      Scratch().swap(buf.adapted);  // the wider input is done with
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
