#include "engine/runtime/session.h"

#include <algorithm>
#include <new>
#include <string>

#include "engine/ops/elementwise.h"
#include "engine/ops/linear.h"
#include "kernels/dense/dense_gemm.h"
#include "kernels/gemm/gemm_table.h"

namespace qasr::engine {

namespace {
// Longest accepted input: 2^16 frames (11 minutes at 10 ms), far beyond any
// utterance the model is trained on, so a bogus length cannot ask for an
// absurd allocation; what remains is caught as ResourceExhausted.
constexpr size_t kMaxFrames = size_t{1} << 16;
constexpr int kMaxThreads = 1024;
constexpr int kMaxSteps = 1 << 16;

// Runs fn, turning a failed allocation into a Status (never abort).
template <class Fn>
Status Guarded(const char* what, const Fn& fn) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kResourceExhausted, std::string(what) + ": out of memory");
  }
}
}  // namespace

Result<std::shared_ptr<const Model>> Model::Load(const std::string& path,
                                                 const ModelOptions& options) {
  LoadOptions lo;
  lo.verify_checksum = options.verify_checksum;
  lo.threads = std::clamp(options.threads, 1, kMaxThreads);
  auto file = ModelFile::Open(path, lo);
  if (!file.ok()) return file.status();
  return FromFile(std::move(*file), options);
}

Result<std::shared_ptr<const Model>> Model::FromFile(ModelFile file, const ModelOptions& options) {
  if (options.threads < 1 || options.threads > kMaxThreads)
    return InvalidArgument("threads must be 1.." + std::to_string(kMaxThreads));
  // The weights point into the file's mapping, which a move keeps in place.
  auto m = std::make_shared<Model>(Token{}, std::move(file), options);
  auto w = LoadVggTransformer(m->file_);
  if (!w.ok()) return w.status();
  m->weights_ = std::move(*w);
  if (options.pack_at_load) QASR_RETURN_IF_ERROR(m->PackWeights(options.threads));
  return std::shared_ptr<const Model>(std::move(m));
}

Status Model::PackWeights(int threads) const {
  if (threads < 1 || threads > kMaxThreads)
    return InvalidArgument("threads must be 1.." + std::to_string(kMaxThreads));
  kernels::ThreadPool pool(static_cast<size_t>(threads));
  return Guarded("packing weights", [&] { return PackAllPanels(*weights_, &pool); });
}

size_t Model::feature_dim() const {
  return static_cast<size_t>(config().input_feat) * static_cast<size_t>(config().in_channels);
}

Session::Session(std::shared_ptr<const Model> model, int threads)
    : model_(std::move(model)),
      pool_(static_cast<size_t>(std::clamp(
          threads > 0 ? threads : (model_ ? model_->options().threads : 1), 1, kMaxThreads))) {
  ctx_.gemm = &kernels::ChosenGemmKernels();
  ctx_.dense = &kernels::ChosenDenseKernels();
  ctx_.pool = pool_.num_threads() > 1 ? &pool_ : nullptr;
}

Status Session::Encode(std::span<const float> feats, size_t frames) {
  return Encode(feats, frames, frames);
}

Status Session::Encode(std::span<const float> feats, size_t frames, size_t valid_frames) {
  decoding_ = false;
  ctc_ready_ = false;
  enc_frames_ = enc_valid_ = 0;
  if (!model_) return InvalidArgument("session without a model");
  if (frames == 0 || frames > kMaxFrames)
    return InvalidArgument("frames must be 1.." + std::to_string(kMaxFrames));
  if (valid_frames == 0 || valid_frames > frames)
    return InvalidArgument("valid_frames must be 1..frames");
  const size_t dim = model_->feature_dim();
  if (feats.size() != frames * dim)
    return InvalidArgument("features: " + std::to_string(feats.size()) + " values for " +
                           std::to_string(frames) + " frames of " + std::to_string(dim));
  const auto& w = model_->weights();
  // Memory plan: the previous utterance's decoder state goes before the
  // encoder runs, and the encoder's scratch before the decoder starts, so
  // peak memory is the larger phase, not the sum (docs/ARCHITECTURE.md).
  decoder_ = DecoderState{};
  const Status st = Guarded("Encode", [&] {
    // Weights not packed yet (the model's first encoder run) are packed
    // side by side on every thread, not one layer at a time as reached.
    if (!encoder_packed_) {
      QASR_RETURN_IF_ERROR(PackAllPanels(w, ctx_.pool, ModelPart::kEncoder));
      encoder_packed_ = true;
    }
    return RunEncoder(ctx_, w, feats.data(), frames, valid_frames, enc_buf_, enc_out_);
  });
  enc_buf_.Release();
  QASR_RETURN_IF_ERROR(st);
  enc_frames_ = EncoderFrames(w, frames);
  enc_valid_ = std::min(enc_frames_, EncoderFrames(w, valid_frames));
  return Status::Ok();
}

Result<std::span<const float>> Session::CtcLogProbs() {
  if (!has_ctc()) return InvalidArgument("the model has no CTC head");
  if (enc_frames_ == 0) return InvalidArgument("CtcLogProbs before a successful Encode");
  if (!ctc_ready_) {
    const VggTransformerWeights& w = model_->weights();
    const size_t classes = w.ctc_head.out, dim = w.ctc_head.in;
    QASR_RETURN_IF_ERROR(Guarded("CtcLogProbs", [&] {
      ctc_.resize(enc_valid_ * classes);
      QASR_RETURN_IF_ERROR(Linear(ctx_, w.ctc_head, enc_out_.data(), dim, enc_valid_, ctc_.data(),
                                  classes, ctc_scratch_));
      for (size_t t = 0; t < enc_valid_; ++t)
        LogSoftmax(ctc_.data() + t * classes, classes, ctc_.data() + t * classes);
      return Status::Ok();
    }));
    ctc_ready_ = true;
  }
  return std::span<const float>(ctc_.data(), ctc_.size());
}

Status Session::BeginDecode(int beams, int max_steps) {
  decoding_ = false;
  if (enc_frames_ == 0) return InvalidArgument("BeginDecode before a successful Encode");
  if (beams < 1) return InvalidArgument("beams must be >= 1");
  if (beams > 4096) return InvalidArgument("beams must be <= 4096");
  if (max_steps < 0 || max_steps > kMaxSteps) return InvalidArgument("max_steps out of range");
  QASR_RETURN_IF_ERROR(Guarded("BeginDecode", [&] {
    if (!decoder_packed_) {
      QASR_RETURN_IF_ERROR(PackAllPanels(model_->weights(), ctx_.pool, ModelPart::kDecoder));
      decoder_packed_ = true;
    }
    return decoder_.Begin(ctx_, model_->weights(), enc_out_.data(), enc_frames_, enc_valid_,
                          static_cast<size_t>(beams), static_cast<size_t>(max_steps));
  }));
  decoding_ = true;
  return Status::Ok();
}

Status Session::Step(std::span<const int32_t> parents, std::span<const int32_t> tokens,
                     std::span<float> log_probs) {
  if (!decoding_) return InvalidArgument("Step before a successful BeginDecode");
  // Only a search past max_steps allocates (the caches double).
  const Status st = Guarded(
      "Step", [&] { return decoder_.Step(ctx_, model_->weights(), parents, tokens, log_probs); });
  if (st.code() == StatusCode::kResourceExhausted) decoding_ = false;
  return st;
}

}  // namespace qasr::engine
