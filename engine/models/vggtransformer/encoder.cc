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
  // The chunk buffers stay until EncoderBuffers::Release: freeing them here
  // let glibc hand the pages back to the kernel (with 2 threads), so every
  // call faulted ~4 MB in again, ~1,000 faults and ~0.5 ms of a 10 s small
  // encoder's 8 ms. Holding them through the transformer layers leaves the
  // paper-scale peak (the decoder's) unchanged and adds ~2.6 MB to the
  // small model's (docs/BENCHMARKS.md, session 14).
  return Status::Ok();
}

// The transformer layers run on row slices, one per thread (ParallelSlices):
// everything but attention's keys and values is per row (LayerNorm, the
// Linears with their per-row activation quantization, ReLU, residual adds),
// so each thread takes the same rows through every such op of a layer and on
// into the next layer's projections, and the rows cross cores only as keys
// and values. Per layer that is two parallel loops instead of one per op
// (about 15), and when the vCPUs sit on different core complexes, far less
// data moved between them. Every row is computed by the same calls in the
// same order whatever the split, so results do not depend on the thread
// count.
//
// A layer's buffers (EncoderBuffers::layer): h (LN(x) rows, then those rows'
// attention output), q, kv (keys), proj (values until they are packed, then
// out_proj and FFN outputs).

// Row slice boundaries fall on multiples of this: whole blocks of the
// AVX-512 GEMM microkernel's 6 rows. Rounding to 12 (the 4-row AVX2 kernel's
// blocks too) left 120 and 130 of 250 rows, and the second slice ~8 % slower.
constexpr size_t kSliceAlign = 6;

// Rows [r0, r1) of a layer's attention inputs: h = LN(x) (pre-LN; post-LN
// projects x itself), q, and the keys and values of the rows below `keys`.
Status AttentionInputs(const OpContext& one, const TransformerLayerWeights& l, float* x, size_t r0,
                       size_t r1, size_t keys, LayerBuffers& buf, LayerSlot& slot) {
  const size_t d = l.d, n = r1 - r0;
  const float* in = x + r0 * d;
  if (l.normalize_before) {
    float* h = buf.h.data() + r0 * d;
    LayerNormRows(one, in, d, n, d, l.self_attn_ln.gamma, l.self_attn_ln.beta, h, d);
    in = h;
  }
  QASR_RETURN_IF_ERROR(Linear(one, l.self_attn.q, in, d, n, buf.q.data() + r0 * d, d, slot.linear));
  const size_t k1 = std::min(r1, keys);
  if (r0 >= k1) return Status::Ok();
  QASR_RETURN_IF_ERROR(
      Linear(one, l.self_attn.k, in, d, k1 - r0, buf.kv.data() + r0 * d, d, slot.linear));
  return Linear(one, l.self_attn.v, in, d, k1 - r0, buf.proj.data() + r0 * d, d, slot.linear);
}

// x += y over n rows of width d; post-LN then normalises them (model.py _block).
void Residual(const OpContext& one, const NormWeights& ln, bool normalize_before, float* x,
              const float* y, size_t n, size_t d) {
  AddInPlace(one, x, y, n * d);
  if (!normalize_before) LayerNormRows(one, x, d, n, d, ln.gamma, ln.beta, x, d);
}

// Rows [r0, r1) of the rest of a layer once its keys and values are packed:
// attention, out_proj and the residual, then the FFN block.
Status AttentionOutputsAndFfn(const OpContext& one, const TransformerLayerWeights& l, float* x,
                              size_t r0, size_t r1, size_t valid, LayerBuffers& buf,
                              LayerSlot& slot) {
  const size_t d = l.d, n = r1 - r0;
  const AttentionShape shape{l.heads, d / l.heads};
  float* xr = x + r0 * d;
  float* h = buf.h.data() + r0 * d;  // these rows' LN(x) is no longer needed
  float* proj = buf.proj.data() + r0 * d;
  QASR_RETURN_IF_ERROR(Attention(one, shape, AttentionScale(shape.head_dim), buf.q.data() + r0 * d,
                                 d, n, buf.attention.heads, valid, h, d, slot.attention));
  QASR_RETURN_IF_ERROR(Linear(one, l.self_attn.out, h, d, n, proj, d, slot.linear));
  Residual(one, l.self_attn_ln, l.normalize_before, xr, proj, n, d);
  const float* in = xr;
  if (l.normalize_before) {
    LayerNormRows(one, xr, d, n, d, l.final_ln.gamma, l.final_ln.beta, h, d);
    in = h;
  }
  QASR_RETURN_IF_ERROR(FeedForward(one, l, in, n, proj, buf.FfnChunkRows(), slot.ffn, slot.linear));
  Residual(one, l.final_ln, l.normalize_before, xr, proj, n, d);
  return Status::Ok();
}

}  // namespace

void EncoderBuffers::Release() {
  const size_t chunk = vgg_chunk_frames, slices = row_slices;
  const size_t ffn_chunk = layer.ffn_chunk_rows;
  *this = EncoderBuffers{};
  vgg_chunk_frames = chunk;
  row_slices = slices;
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
  const auto& layers = w.encoder_layers;
  // Buffers for the widest layer, once.
  size_t d_most = 0, ffn_most = 0;
  for (const auto& l : layers) {
    d_most = std::max(d_most, l.d);
    ffn_most = std::max(ffn_most, l.ffn);
  }
  LayerBuffers& lb = buf.layer;
  for (Scratch* b : {&lb.h, &lb.q, &lb.kv, &lb.proj}) Grow(*b, t * d_most);
  // Slices of at least 24 rows, boundaries on multiples of kSliceAlign.
  const size_t slices = buf.row_slices != 0 ? std::min(buf.row_slices, t) : SliceCount(ctx, t, 24);
  if (buf.slots.size() < slices) buf.slots.resize(slices);
  for (size_t i = 0; i < slices; ++i)
    Grow(buf.slots[i].ffn,
         std::min(SliceBegin(t, slices, kSliceAlign, i + 1) - SliceBegin(t, slices, kSliceAlign, i),
                  lb.FfnChunkRows()) *
             ffn_most);
  const OpContext one = SingleThreaded(ctx);
  const size_t keys = std::min(t, valid);
  if (keys == 0 && !layers.empty()) return InvalidArgument("attention: no valid keys");
  bool inputs_ready = false;  // this layer's q, keys and values computed
  for (size_t li = 0; li < layers.size(); ++li) {
    const auto& l = layers[li];
    if (l.has_adapter) {
      // The whole-utterance Linears (adapters, encoder_out) quantize their
      // inputs into slot 0's scratch: one such buffer fewer to hold.
      Grow(buf.adapted, t * l.d);
      QASR_RETURN_IF_ERROR(Linear(ctx, l.adapter, buf.x.data(), width, t, buf.adapted.data(), l.d,
                                  buf.slots[0].linear));
      std::swap(buf.x, buf.adapted);
      Scratch().swap(buf.adapted);  // the wider input is done with
      width = l.d;
    }
    float* x = buf.x.data();
    if (!inputs_ready) {
      QASR_RETURN_IF_ERROR(
          ParallelSlices(ctx, t, slices, kSliceAlign, [&](size_t i, size_t r0, size_t r1) {
            return AttentionInputs(one, l, x, r0, r1, keys, lb, buf.slots[i]);
          }));
    }
    QASR_RETURN_IF_ERROR(PackHeads(ctx, lb.kv.data(), lb.proj.data(), l.d, keys,
                                   {l.heads, l.d / l.heads}, lb.attention.heads));
    // The next layer's inputs continue each slice unless an adapter comes first.
    const TransformerLayerWeights* next =
        li + 1 < layers.size() && !layers[li + 1].has_adapter ? &layers[li + 1] : nullptr;
    QASR_RETURN_IF_ERROR(
        ParallelSlices(ctx, t, slices, kSliceAlign, [&](size_t i, size_t r0, size_t r1) {
          QASR_RETURN_IF_ERROR(AttentionOutputsAndFfn(one, l, x, r0, r1, valid, lb, buf.slots[i]));
          return next != nullptr ? AttentionInputs(one, *next, x, r0, r1, keys, lb, buf.slots[i])
                                 : Status::Ok();
        }));
    inputs_ready = next != nullptr;
  }
  const size_t e = w.encoder_out.out;
  out.resize(t * e);
  QASR_RETURN_IF_ERROR(
      Linear(ctx, w.encoder_out, buf.x.data(), width, t, out.data(), e, buf.slots[0].linear));
  LayerNormRows(ctx, out.data(), e, t, e, w.encoder_ln.gamma, w.encoder_ln.beta, out.data(), e);
  return Status::Ok();
}

}  // namespace qasr::engine
