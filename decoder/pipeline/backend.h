// What the recognition pipeline needs from a model: an encoder run per
// utterance and incremental decoder steps (StepModel). The engine's runtime
// provides one (engine_step_model.cc); tests provide fakes.
// Thread safety: a Backend is immutable and shared; a BackendSession is used
// by one thread at a time.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "decoder/search/ctc_prefix.h"
#include "decoder/search/step_model.h"

namespace qasr::decoder {

class BackendSession : public StepModel {
 public:
  // CMVN'd 80-bin fbank, row-major [frames x 80].
  virtual Status Encode(std::span<const float> feats, size_t frames) = 0;
  virtual size_t encoder_frames() const = 0;
  // The last Encode's CTC log-posteriors (joint search); only called when
  // the Backend has_ctc().
  virtual Result<CtcPosteriors> Ctc() { return InvalidArgument("the model has no CTC head"); }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual int vocab_size() const = 0;
  // Whether the model has a CTC head (sessions' Ctc works).
  virtual bool has_ctc() const { return false; }
  virtual Result<std::unique_ptr<BackendSession>> NewSession(int threads) const = 0;
};

// The engine runtime's backend for a .qasr file; Unimplemented when this
// build has no engine runtime yet.
Result<std::unique_ptr<Backend>> LoadEngineBackend(const std::string& path, int threads,
                                                   bool verify_checksum);

}  // namespace qasr::decoder
