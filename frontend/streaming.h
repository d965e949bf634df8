// Streaming frontend: int16-scale mono samples at any rate in, chunk by chunk,
// 80-bin log-mel frames out as soon as they are complete. The frames are
// bit-identical to ComputeFeatures(..., {.cmvn = false}) on the whole input
// (the resampler and the fbank both stream exactly). Per-utterance CMVN needs
// the whole utterance: apply ApplyCmvn to the collected frames at the end.
// Thread safety: one thread at a time per object; `fbank` must outlive it.
#pragma once

#include <span>

#include "frontend/frontend.h"

namespace qasr::frontend {

class StreamingFrontend {
 public:
  static Result<StreamingFrontend> Create(const Fbank& fbank, int input_rate,
                                          ResampleQuality quality = ResampleQuality::kHigh);

  // Appends the frames completed by these samples to `out`.
  Status Accept(std::span<const float> samples, Features* out);
  // Ends the utterance: flushes the resampler and appends the last frames.
  Status Finish(Features* out);

 private:
  StreamingFrontend(StreamingResampler resampler, StreamingFbank fbank)
      : resampler_(std::move(resampler)), fbank_(std::move(fbank)) {}
  StreamingResampler resampler_;
  StreamingFbank fbank_;
  std::vector<float> resampled_;  // reused scratch
};

}  // namespace qasr::frontend
