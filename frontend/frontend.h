// The whole frontend in one call: decoded audio at any rate -> 16 kHz
// (libsoxr) -> 80-bin Kaldi log-mel (Fbank) -> optional per-utterance CMVN.
// This is what the model consumes (docs/vggtransformer.md §1).
// Thread safety: reentrant.
#pragma once

#include "frontend/audio/decode.h"
#include "frontend/audio/resample.h"
#include "frontend/features/cmvn.h"
#include "frontend/features/fbank.h"

namespace qasr::frontend {

inline constexpr int kFeatureSampleRate = 16000;

struct FeatureOptions {
  bool cmvn = true;
  ResampleQuality quality = ResampleQuality::kHigh;
};

// Resamples `wave` to 16 kHz (a copy when already 16 kHz).
Result<Waveform> ToFeatureRate(const Waveform& wave, ResampleQuality quality);

// Features of `wave` using `fbank` (created for 16 kHz).
Result<Features> ComputeFeatures(const Fbank& fbank, const Waveform& wave,
                                 const FeatureOptions& options = {});

}  // namespace qasr::frontend
