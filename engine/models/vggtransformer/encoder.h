// The VGGTransformer encoder (model.py Encoder, docs/vggtransformer.md §2):
// VGG blocks (conv 3x3, LayerNorm over frequency, ReLU; ceil-mode max pool)
// on [time][freq][channel] activations, channel-major flatten, Linear
// adapters and transformer layers with a key padding mask, final Linear and
// LayerNorm.
// Thread-safety: EncoderBuffers belong to one session.
#pragma once

#include <cstddef>
#include <vector>

#include "engine/models/vggtransformer/layers.h"
#include "engine/models/vggtransformer/weights.h"

namespace qasr::engine {

// One thread's VGG chunk buffers.
struct VggSlot {
  Scratch a, b;  // ping-pong [time][freq][channel] of one chunk
  Conv2dScratch conv;
};

// One thread's share of the transformer layers' scratch (a row slice's).
struct LayerSlot {
  LinearScratch linear;
  Scratch ffn;  // FFN hidden activations of one chunk of the slice's rows
  AttentionScratch attention;
};

struct EncoderBuffers {
  // Feature frames per VGG chunk (rounded down to a multiple of the pooling
  // factor, at least one factor; 0: ~1 MiB per activation buffer, and a
  // multiple of the thread count of chunks). The results do not depend on it.
  size_t vgg_chunk_frames = 0;
  // Row slices of the transformer layers (at most one per row; 0: one per thread,
  // each at least 24 rows). The results do not depend on it.
  size_t row_slices = 0;
  std::vector<VggSlot> vgg;      // one per thread running VGG chunks
  Scratch x, adapted;            // [frames][width]
  LayerBuffers layer;            // shared row buffers, packed keys and values
  std::vector<LayerSlot> slots;  // one per row slice
  // Frees every buffer, keeping the settings. RunEncoder already frees a
  // wider input once an adapter has replaced it; Session calls this after
  // each encoder run so
  // that the decoder's caches reuse the memory (peak RSS is the larger of
  // the two phases, not their sum).
  void Release();
};

// Encoder steps for `frames` input frames: ceil-divided by every pool size.
size_t EncoderFrames(const VggTransformerWeights& w, size_t frames);

// Encodes feats [frames][input_feat * in_channels]. Frames at or beyond
// valid_frames are padding (as in a zero-padded batch): their encoder steps
// are masked as attention keys. Writes [EncoderFrames(frames)][enc_output_dim]
// into out (resized).
Status RunEncoder(const OpContext& ctx, const VggTransformerWeights& w, const float* feats,
                  size_t frames, size_t valid_frames, EncoderBuffers& buf, std::vector<float>& out);

}  // namespace qasr::engine
