#include "engine/models/vggtransformer/decoder.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "engine/ops/elementwise.h"
#include "engine/ops/parallel.h"

namespace qasr::engine {

namespace {

constexpr size_t kDefaultMaxSteps = 256;

size_t MaxWidth(const VggTransformerWeights& w) {
  size_t m = static_cast<size_t>(w.config.tgt_embed_dim);
  for (const auto& c : w.decoder_convs) m = std::max({m, c.out, c.kernel * c.in});
  for (const auto& l : w.decoder_layers) m = std::max(m, l.d);
  return m;
}

// Pre-sizes a Linear's scratch for `rows` rows so Step does not allocate.
void Prewarm(const LinearWeights& l, size_t rows, LinearScratch& s) {
  if (l.is_packed) {
    (void)s.qx.Reshape(rows, l.packed.layout());
  } else if (l.act_bits == 8) {
    Grow(s.fq, rows * l.in);
  }
}

void PrewarmLayer(const TransformerLayerWeights& l, size_t rows, LinearScratch& s) {
  for (const LinearWeights* x :
       {&l.adapter, &l.self_attn.q, &l.self_attn.k, &l.self_attn.v, &l.self_attn.out,
        &l.cross_attn.q, &l.cross_attn.out, &l.fc1, &l.fc2})
    Prewarm(*x, rows, s);
}

}  // namespace

void DecoderState::GrowSteps(const VggTransformerWeights& w) {
  const size_t old = capacity_;
  capacity_ = capacity_ == 0 ? kDefaultMaxSteps : 2 * capacity_;
  // Uninitialised on purpose: a page of the cache becomes resident only when
  // a step writes it, so peak memory follows the steps actually decoded, not
  // the capacity (6 layers x 2 x 256 steps x 5 beams x 1024 floats = 63 MB at
  // paper scale). Slot (s, i) is at (s * beams + i) * d and stays put.
  for (size_t li = 0; li < w.decoder_layers.size(); ++li) {
    const size_t d = w.decoder_layers[li].d;
    for (auto* cache : {&self_k_[li], &self_v_[li]}) {
      auto grown = hwy::AllocateAligned<float>(capacity_ * beams_ * d);
      if (old > 0) std::copy_n(cache->get(), step_ * beams_ * d, grown.get());
      *cache = std::move(grown);
    }
  }
  std::vector<int32_t> h(beams_ * capacity_), hn(beams_ * capacity_);
  for (size_t i = 0; i < beams_ && old > 0; ++i)
    std::copy_n(history_.data() + i * old, old, h.data() + i * capacity_);
  history_.swap(h);
  history_next_.swap(hn);
  key_rows_.resize(capacity_);
  value_rows_.resize(capacity_);
  scores_.resize(std::max(scores_.size(), capacity_));
}

Status DecoderState::Begin(const OpContext& ctx, const VggTransformerWeights& w, const float* enc,
                           size_t frames, size_t valid, size_t beams, size_t max_steps) {
  if (beams == 0 || beams > 4096) return InvalidArgument("beams must be 1..4096");
  if (frames == 0 || enc == nullptr) return InvalidArgument("BeginDecode before Encode");
  beams_ = beams;
  frames_ = frames;
  valid_ = std::max<size_t>(1, std::min(valid, frames));
  step_ = 0;
  prev_n_ = 0;
  const size_t layers = w.decoder_layers.size();
  cross_.resize(layers);
  self_k_.resize(layers);
  self_v_.resize(layers);
  size_t most_d = 0, most_ffn = 0;
  for (const auto& l : w.decoder_layers) {
    most_d = std::max(most_d, l.d);
    most_ffn = std::max(most_ffn, l.ffn);
  }
  buf_.Reserve(beams, most_d, most_ffn, frames);
  for (size_t li = 0; li < layers; ++li) {
    const auto& l = w.decoder_layers[li];
    QASR_RETURN_IF_ERROR(
        ProjectKeysValues(ctx, l.cross_attn, l.heads, enc, frames, l.d, buf_, cross_[li]));
  }
  // Steps project their keys and values straight into the caches: the
  // [frames][d] projection buffer and its quantized input are not needed
  // again (Prewarm below sizes the scratch for `beams` rows).
  Scratch().swap(buf_.kv);
  buf_.linear = LinearScratch{};
  capacity_ = 0;
  history_.clear();
  const size_t want = max_steps == 0 ? kDefaultMaxSteps : max_steps;
  while (capacity_ < want) GrowSteps(w);
  conv_hist_.resize(w.decoder_convs.size());
  conv_window_.resize(w.decoder_convs.size());
  for (size_t c = 0; c < w.decoder_convs.size(); ++c) {
    const auto& cv = w.decoder_convs[c];
    conv_hist_[c].assign(beams * (cv.kernel - 1) * cv.in, 0.0f);
    conv_window_[c].assign(beams * cv.kernel * cv.in, 0.0f);
  }
  const size_t width = MaxWidth(w);
  x_.assign(beams * width, 0.0f);
  y_.assign(beams * width, 0.0f);
  logits_.assign(beams * static_cast<size_t>(w.config.vocab_size), 0.0f);
  scores_.resize(std::max(capacity_, frames));
  // Cross-attention scratch for every thread (Attention: one block of
  // <= beams query rows per thread), so steps never allocate.
  auto& att = buf_.attention;
  const size_t slots = NumThreads(ctx);
  Grow(att.q, slots * beams * most_d);
  Grow(att.scores, slots * beams * frames);
  for (const auto& cv : w.decoder_convs) Prewarm(cv.w, beams, buf_.linear);
  for (const auto& l : w.decoder_layers) PrewarmLayer(l, beams, buf_.linear);
  Prewarm(w.fc_out, beams, buf_.linear);
  return Status::Ok();
}

Status DecoderState::Reorder(std::span<const int32_t> parents, size_t n) {
  if (parents.size() < n) return InvalidArgument("parents has fewer entries than tokens");
  for (size_t i = 0; i < n; ++i)
    if (parents[i] < 0 || static_cast<size_t>(parents[i]) >= prev_n_)
      return OutOfRange("parents[" + std::to_string(i) + "] = " + std::to_string(parents[i]) +
                        " is not one of the previous step's " + std::to_string(prev_n_) +
                        " hypotheses");
  for (size_t i = 0; i < n; ++i)
    std::copy_n(history_.data() + static_cast<size_t>(parents[i]) * capacity_, step_,
                history_next_.data() + i * capacity_);
  history_.swap(history_next_);
  return Status::Ok();
}

Status DecoderState::Layer(const OpContext& ctx, const TransformerLayerWeights& l, size_t li,
                           size_t n) {
  const size_t d = l.d;
  const AttentionShape shape{l.heads, d / l.heads};
  const float scale = AttentionScale(shape.head_dim);
  float* x = x_.data();
  // Self-attention: this step's K/V go straight into slot (step, i). As in
  // the encoder, attention outputs overwrite buf_.h once q/k/v are projected.
  QASR_RETURN_IF_ERROR(
      ResidualBlock(ctx, l.self_attn_ln, l.normalize_before, x, n, d, buf_, [&](const float* h) {
        float* k = self_k_[li].get() + step_ * beams_ * d;
        float* v = self_v_[li].get() + step_ * beams_ * d;
        QASR_RETURN_IF_ERROR(Linear(ctx, l.self_attn.q, h, d, n, buf_.q.data(), d, buf_.linear));
        QASR_RETURN_IF_ERROR(Linear(ctx, l.self_attn.k, h, d, n, k, d, buf_.linear));
        QASR_RETURN_IF_ERROR(Linear(ctx, l.self_attn.v, h, d, n, v, d, buf_.linear));
        for (size_t i = 0; i < n; ++i) {
          const int32_t* hist = history_.data() + i * capacity_;
          for (size_t s = 0; s <= step_; ++s) {
            const size_t slot = (s * beams_ + static_cast<size_t>(hist[s])) * d;
            key_rows_[s] = self_k_[li].get() + slot;
            value_rows_[s] = self_v_[li].get() + slot;
          }
          AttendRows(ctx, shape, scale, buf_.q.data() + i * d, key_rows_.data(), value_rows_.data(),
                     step_ + 1, scores_.data(), buf_.h.data() + i * d);
        }
        return Linear(ctx, l.self_attn.out, buf_.h.data(), d, n, buf_.proj.data(), d, buf_.linear);
      }));
  QASR_RETURN_IF_ERROR(
      ResidualBlock(ctx, l.cross_attn_ln, l.normalize_before, x, n, d, buf_, [&](const float* h) {
        QASR_RETURN_IF_ERROR(Linear(ctx, l.cross_attn.q, h, d, n, buf_.q.data(), d, buf_.linear));
        QASR_RETURN_IF_ERROR(Attention(ctx, shape, scale, buf_.q.data(), d, n, cross_[li], valid_,
                                       buf_.h.data(), d, buf_.attention));
        return Linear(ctx, l.cross_attn.out, buf_.h.data(), d, n, buf_.proj.data(), d, buf_.linear);
      }));
  return ResidualBlock(ctx, l.final_ln, l.normalize_before, x, n, d, buf_,
                       [&](const float* h) { return FeedForward(ctx, l, h, n, buf_); });
}

Status DecoderState::Step(const OpContext& ctx, const VggTransformerWeights& w,
                          std::span<const int32_t> parents, std::span<const int32_t> tokens,
                          std::span<float> log_probs) {
  const size_t n = tokens.size();
  const size_t vocab = static_cast<size_t>(w.config.vocab_size);
  if (beams_ == 0) return InvalidArgument("Step before BeginDecode");
  if (n == 0 || n > beams_)
    return InvalidArgument("Step with " + std::to_string(n) + " hypotheses; BeginDecode allowed " +
                           std::to_string(beams_));
  if (log_probs.size() < n * vocab) return InvalidArgument("log_probs smaller than n x vocab");
  for (size_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || static_cast<size_t>(tokens[i]) >= vocab)
      return OutOfRange("token " + std::to_string(tokens[i]) + " outside the vocabulary");
  if (step_ > 0) QASR_RETURN_IF_ERROR(Reorder(parents, n));
  if (step_ == capacity_) GrowSteps(w);
  for (size_t i = 0; i < n; ++i) history_[i * capacity_ + step_] = static_cast<int32_t>(i);

  // Embedding (unscaled, model.py) into x_ [n][embed].
  size_t c = static_cast<size_t>(w.config.tgt_embed_dim);
  for (size_t i = 0; i < n; ++i)
    std::memcpy(x_.data() + i * c, w.embedding + static_cast<size_t>(tokens[i]) * c,
                c * sizeof(float));
  // Causal convolutions: window = [parent's last kernel-1 inputs, x].
  for (size_t ci = 0; ci < w.decoder_convs.size(); ++ci) {
    const auto& cv = w.decoder_convs[ci];
    const size_t hist = (cv.kernel - 1) * cv.in, win = cv.kernel * cv.in;
    float* window = conv_window_[ci].data();
    float* h = conv_hist_[ci].data();
    for (size_t i = 0; i < n; ++i) {
      if (step_ == 0) {
        std::memset(window + i * win, 0, hist * sizeof(float));
      } else {
        std::memcpy(window + i * win, h + static_cast<size_t>(parents[i]) * hist,
                    hist * sizeof(float));
      }
      std::memcpy(window + i * win + hist, x_.data() + i * c, cv.in * sizeof(float));
    }
    for (size_t i = 0; i < n; ++i)
      std::memcpy(h + i * hist, window + i * win + cv.in, hist * sizeof(float));
    QASR_RETURN_IF_ERROR(Linear(ctx, cv.w, window, win, n, x_.data(), cv.out, buf_.linear));
    if (cv.has_ln)
      LayerNormRows(ctx, x_.data(), cv.out, n, cv.out, cv.ln.gamma, cv.ln.beta, x_.data(), cv.out);
    Relu(x_.data(), n * cv.out);
    c = cv.out;
  }
  for (size_t li = 0; li < w.decoder_layers.size(); ++li) {
    const auto& l = w.decoder_layers[li];
    if (l.has_adapter) {
      QASR_RETURN_IF_ERROR(Linear(ctx, l.adapter, x_.data(), c, n, y_.data(), l.d, buf_.linear));
      std::memcpy(x_.data(), y_.data(), n * l.d * sizeof(float));
    }
    c = l.d;
    QASR_RETURN_IF_ERROR(Layer(ctx, l, li, n));
  }
  QASR_RETURN_IF_ERROR(Linear(ctx, w.fc_out, x_.data(), c, n, logits_.data(), vocab, buf_.linear));
  for (size_t i = 0; i < n; ++i)
    LogSoftmax(logits_.data() + i * vocab, vocab, log_probs.data() + i * vocab);
  prev_n_ = n;
  ++step_;
  return Status::Ok();
}

}  // namespace qasr::engine
