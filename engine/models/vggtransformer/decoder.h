// Incremental VGGTransformer decoder (model.py Decoder.step, decode.py):
// embedding, causal convolutions as a rolling window of the last `kernel`
// inputs per hypothesis, Linear adapter, pre-/post-LN layers with a
// self-attention KV cache and cross-attention over encoder K/V projected once
// per utterance, fc_out and log-softmax.
//
// KV cache without copies: step s of every layer stores hypothesis i's key
// and value in slot (s, i); each hypothesis keeps the slot it used at every
// earlier step (its history row). Reordering by `parents` copies history rows
// (ints) and the conv windows (kernel-1 vectors per layer), never cached K/V.
// Every buffer is sized in Begin (beams, max_steps); Step allocates only if a
// search runs past max_steps (the caches then double).
// Thread-safety: one DecoderState per session.
#pragma once

#include <hwy/aligned_allocator.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/models/vggtransformer/layers.h"
#include "engine/models/vggtransformer/weights.h"

namespace qasr::engine {

class DecoderState {
 public:
  // Projects the encoder output [frames][d] (positions >= valid masked) for
  // cross-attention and sizes every buffer for `beams` hypotheses.
  Status Begin(const OpContext& ctx, const VggTransformerWeights& w, const float* enc,
               size_t frames, size_t valid, size_t beams, size_t max_steps);
  Status Step(const OpContext& ctx, const VggTransformerWeights& w,
              std::span<const int32_t> parents, std::span<const int32_t> tokens,
              std::span<float> log_probs);
  size_t steps() const { return step_; }
  size_t beams() const { return beams_; }

 private:
  Status Reorder(std::span<const int32_t> parents, size_t n);
  void GrowSteps(const VggTransformerWeights& w);
  Status Layer(const OpContext& ctx, const TransformerLayerWeights& l, size_t li, size_t n);

  size_t beams_ = 0, capacity_ = 0, step_ = 0, prev_n_ = 0;
  size_t frames_ = 0, valid_ = 0;
  // Per decoder layer: cross-attention K/V packed per head, self K/V
  // [capacity][beams][d] (uninitialised beyond the decoded steps).
  std::vector<HeadPanels> cross_;
  std::vector<hwy::AlignedFreeUniquePtr<float[]>> self_k_, self_v_;
  std::vector<int32_t> history_, history_next_;  // [beams][capacity] slots
  // Per conv layer: the previous kernel-1 inputs [beams][(kernel-1)*in], and
  // the current windows [beams][kernel*in].
  std::vector<std::vector<float>> conv_hist_, conv_window_;
  std::vector<float> x_, y_, logits_, scores_;
  std::vector<const float*> key_rows_, value_rows_;
  LayerBuffers buf_;
};

}  // namespace qasr::engine
