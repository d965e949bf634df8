#include <algorithm>

#include "frontend/features/fbank.h"

namespace qasr::frontend {

StreamingFbank::StreamingFbank(const Fbank& fbank) : fbank_(&fbank) {}

Status StreamingFbank::Accept(std::span<const float> samples, Features* out) {
  QASR_RETURN_IF_ERROR(fbank_->CheckSamples(samples, samples_accepted_));
  samples_accepted_ += samples.size();
  out->dim = fbank_->dim();
  pending_.insert(pending_.end(), samples.begin(), samples.end());
  const size_t frames = fbank_->NumFrames(pending_.size());
  if (frames == 0) return Status::Ok();
  // The same kernels on the same samples as Fbank::Compute: identical bits.
  fbank_->ComputeFrames(pending_.data(), frames, out);
  frames_emitted_ += frames;
  const size_t consumed = std::min(frames * fbank_->window_shift(), pending_.size());
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(consumed));
  return Status::Ok();
}

}  // namespace qasr::frontend
