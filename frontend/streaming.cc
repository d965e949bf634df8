#include "frontend/streaming.h"

#include <utility>

namespace qasr::frontend {

Result<StreamingFrontend> StreamingFrontend::Create(const Fbank& fbank, int input_rate,
                                                    ResampleQuality quality) {
  auto resampler = StreamingResampler::Create(input_rate, kFeatureSampleRate, quality);
  if (!resampler.ok()) return resampler.status();
  return StreamingFrontend(std::move(resampler).value(), StreamingFbank(fbank));
}

Status StreamingFrontend::Accept(std::span<const float> samples, Features* out) {
  resampled_.clear();
  QASR_RETURN_IF_ERROR(resampler_.Process(samples, &resampled_));
  return fbank_.Accept(resampled_, out);
}

Status StreamingFrontend::Finish(Features* out) {
  resampled_.clear();
  QASR_RETURN_IF_ERROR(resampler_.Finish(&resampled_));
  return fbank_.Accept(resampled_, out);
}

}  // namespace qasr::frontend
