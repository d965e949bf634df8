#include "frontend/frontend.h"

#include <string>
#include <utility>

namespace qasr::frontend {

Result<Waveform> ToFeatureRate(const Waveform& wave, ResampleQuality quality) {
  if (wave.sample_rate == kFeatureSampleRate) return wave;
  auto samples = Resample(wave.samples, wave.sample_rate, kFeatureSampleRate, quality);
  if (!samples.ok()) return samples.status();
  return Waveform{kFeatureSampleRate, std::move(samples).value()};
}

Result<Features> ComputeFeatures(const Fbank& fbank, const Waveform& wave,
                                 const FeatureOptions& options) {
  const Waveform* input = &wave;
  Result<Waveform> resampled = Waveform{};
  if (wave.sample_rate != kFeatureSampleRate) {
    resampled = ToFeatureRate(wave, options.quality);
    if (!resampled.ok()) return resampled.status();
    input = &resampled.value();
  }
  auto features = fbank.Compute(input->samples);
  if (!features.ok()) return features.status();
  if (options.cmvn) ApplyCmvn(&features.value());
  return features;
}

}  // namespace qasr::frontend
