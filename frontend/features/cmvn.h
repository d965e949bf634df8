// Per-utterance cepstral mean and variance normalisation, exactly fairseq's
// data_utils.apply_mv_norm (docs/vggtransformer.md §1.3): per dimension,
// subtract the mean over frames and divide by the unbiased (N-1) standard
// deviation; if any dimension's variance is below 1e-8, every dimension is
// divided by (std + 1e-8) instead. Fewer than 2 frames: left unchanged.
// Thread safety: pure function of its argument.
#pragma once

#include "frontend/features/fbank.h"

namespace qasr::frontend {

inline constexpr double kCmvnVarianceFloor = 1e-8;

// Normalises `features` in place (statistics accumulated in double).
void ApplyCmvn(Features* features);

}  // namespace qasr::frontend
