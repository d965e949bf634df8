// Sample-rate conversion with libsoxr (linear phase, high quality: 20-bit
// precision, passband to 91% of the lower Nyquist). Equal rates are a copy.
// Resample() and StreamingResampler produce identical samples for the same
// input however it is split into chunks.
// Thread safety: Resample() is reentrant; a StreamingResampler is used by one
// thread at a time.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "kernels/base/status.h"

namespace qasr::frontend {

enum class ResampleQuality { kHigh, kVeryHigh };

// Converts mono `input` from in_rate to out_rate (Hz, both in [1, 10^7]).
Result<std::vector<float>> Resample(std::span<const float> input, int in_rate, int out_rate,
                                    ResampleQuality quality = ResampleQuality::kHigh);

// Chunked resampling: Process() appends what is ready, Finish() the rest.
class StreamingResampler {
 public:
  static Result<StreamingResampler> Create(int in_rate, int out_rate,
                                           ResampleQuality quality = ResampleQuality::kHigh);
  StreamingResampler(StreamingResampler&&) noexcept;
  StreamingResampler& operator=(StreamingResampler&&) noexcept;
  ~StreamingResampler();

  // Feeds input samples; appends the output samples now available to `out`.
  Status Process(std::span<const float> input, std::vector<float>* out);
  // Ends the stream: appends the remaining output. Further calls are errors.
  Status Finish(std::vector<float>* out);

  int in_rate() const { return in_rate_; }
  int out_rate() const { return out_rate_; }

 private:
  struct Impl;
  StreamingResampler(int in_rate, int out_rate, std::unique_ptr<Impl> impl);
  int in_rate_;
  int out_rate_;
  std::unique_ptr<Impl> impl_;  // null when the rates are equal
  bool finished_ = false;
};

}  // namespace qasr::frontend
