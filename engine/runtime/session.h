// The engine's runtime API: an immutable Model (weights resolved from a
// .qasr file, shareable across threads) and per-utterance Sessions that run
// the encoder once and the decoder step by step for a batch of beam-search
// hypotheses (the n hypotheses of a step go through every matmul together).
// Thread-safety: Model is immutable and thread-safe to share; a Session is
// used by one thread at a time (create one per thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/format/model_file.h"
#include "engine/models/vggtransformer/decoder.h"
#include "engine/models/vggtransformer/encoder.h"
#include "engine/models/vggtransformer/weights.h"
#include "kernels/base/status.h"
#include "kernels/base/thread_pool.h"

namespace qasr::engine {

struct ModelOptions {
  int threads = 1;  // default thread count of sessions created with threads = 0
  bool verify_checksum = true;
  // fp32 GEMM weights are packed into panels on each layer's first use
  // (LazyPanels); true packs them all in Load instead, on `threads` threads.
  bool pack_at_load = false;
};

class Model {
 public:
  static Result<std::shared_ptr<const Model>> Load(const std::string& path,
                                                   const ModelOptions& options = {});
  // Takes an opened file (e.g. ModelFile::FromBytes in tests).
  static Result<std::shared_ptr<const Model>> FromFile(ModelFile file,
                                                       const ModelOptions& options = {});

  const ModelConfig& config() const { return file_.config(); }
  int vocab_size() const { return file_.config().vocab_size; }
  std::span<const uint8_t> spm_model() const { return file_.spm_model(); }
  const ModelFile& file() const { return file_; }
  const ModelOptions& options() const { return options_; }
  const VggTransformerWeights& weights() const { return *weights_; }
  // Width of one feature frame (input_feat * in_channels).
  size_t feature_dim() const;
  // Packs every fp32 GEMM weight not packed yet (what the first transcription
  // would otherwise do), on `threads` threads; thread-safe.
  Status PackWeights(int threads) const;

 private:
  struct Token {};  // lets FromFile use make_shared while keeping construction private

 public:
  Model(Token, ModelFile file, const ModelOptions& options)
      : file_(std::move(file)), options_(options) {}

 private:
  ModelFile file_;
  ModelOptions options_;
  std::unique_ptr<VggTransformerWeights> weights_;  // points into file_
};

class Session {
 public:
  static constexpr int32_t kEosId = 2;

  // threads <= 0: the model's ModelOptions::threads.
  explicit Session(std::shared_ptr<const Model> model, int threads = 1);

  // Runs the encoder on CMVN'd features, row-major [frames x feature_dim]
  // (1 <= frames <= 65536). Errors are Statuses (a failed allocation is
  // ResourceExhausted); the previous encoder output and decoder state are
  // gone either way. The encoder's scratch is freed before this returns, so
  // the decoder's caches reuse that memory.
  Status Encode(std::span<const float> feats, size_t frames);
  // The same for an utterance of `valid_frames` frames zero-padded to `frames`,
  // exactly as in a padded batch (encoder steps past ceil-divided
  // valid_frames are masked as attention keys, here and in cross-attention).
  Status Encode(std::span<const float> feats, size_t frames, size_t valid_frames);
  size_t encoder_frames() const { return enc_frames_; }
  // Encoder steps that are not padding.
  size_t encoder_valid_frames() const { return enc_valid_; }
  // [encoder_frames x enc_output_dim].
  std::span<const float> encoder_output() const { return {enc_out_.data(), enc_out_.size()}; }
  // Whether the model has a CTC head (joint CTC/attention search).
  bool has_ctc() const { return model_ && model_->weights().has_ctc; }
  // The CTC head's natural-log posteriors of the last Encode's valid
  // encoder steps, row-major [encoder_valid_frames x (vocab_size + 1)], the
  // last class the blank: log_softmax(encoder output W^T + b), computed on
  // the first call after each Encode. InvalidArgument without a head.
  Result<std::span<const float>> CtcLogProbs();

  // Starts decoding `beams` hypotheses (1..4096, all at step 0, sharing the
  // encoder output). Buffers are sized for max_steps steps (0: 256, at most
  // 65536); a longer search still works but reallocates once per doubling.
  Status BeginDecode(int beams, int max_steps = 0);
  // One decoder step for n = tokens.size() hypotheses (n <= beams).
  // parents[i] = index (in the previous step's hypotheses) of the hypothesis
  // that hypothesis i extends; ignored at the first step. tokens[i] = the
  // hypothesis' last token (EOS id 2 at the first step). Writes natural-log
  // probabilities, row-major [n x vocab_size], into log_probs. Invalid
  // arguments leave the search state untouched.
  Status Step(std::span<const int32_t> parents, std::span<const int32_t> tokens,
              std::span<float> log_probs);
  // Decoder steps taken since BeginDecode.
  size_t decoder_steps() const { return decoder_.steps(); }

  const Model& model() const { return *model_; }
  size_t threads() const { return pool_.num_threads(); }

 private:
  std::shared_ptr<const Model> model_;
  kernels::ThreadPool pool_;
  OpContext ctx_;
  EncoderBuffers enc_buf_;
  std::vector<float> enc_out_;
  size_t enc_frames_ = 0, enc_valid_ = 0;
  std::vector<float> ctc_;  // CtcLogProbs of the current encoder output
  bool ctc_ready_ = false;
  LinearScratch ctc_scratch_;
  bool decoding_ = false;
  // The model's fp32 encoder / decoder weights are packed (PackAllPanels
  // once per session: a model may be shared by several sessions).
  bool encoder_packed_ = false, decoder_packed_ = false;
  DecoderState decoder_;
};

}  // namespace qasr::engine
