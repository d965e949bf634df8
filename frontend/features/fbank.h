// Kaldi-compatible log-mel filterbank, numerically matching
// torchaudio.compliance.kaldi.fbank(num_mel_bins=80, frame_length=25,
// frame_shift=10, dither=0) on a 16 kHz waveform on the int16 scale
// (docs/vggtransformer.md §1.2): per frame of 400 samples (hop 160, snip_edges,
// so 1 + (n - 400) / 160 frames and none for n < 400), remove the DC mean,
// pre-emphasis 0.97, Povey window, zero-pad to 512, power spectrum, 80 Kaldi
// mel filters (20 Hz .. Nyquist), natural log floored at float epsilon.
// Computed in double after the float input (see fbank_kernels.h); output float.
// Fbank is immutable after Create() and may be shared between threads;
// StreamingFbank is used by one thread at a time.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "frontend/features/fbank_kernels.h"
#include "frontend/features/fft.h"
#include "frontend/features/mel.h"
#include "kernels/base/status.h"

namespace qasr::frontend {

struct FbankOptions {
  int sample_rate = 16000;
  float frame_length_ms = 25.0f;
  float frame_shift_ms = 10.0f;
  int num_mel_bins = 80;
  float low_freq = 20.0f;
  float high_freq = 0.0f;  // <= 0: Nyquist + high_freq
  float preemphasis = 0.97f;
  // Inputs with |sample| above this are rejected: their power would overflow float.
  float max_abs_sample = 1.0e12f;
};

// Row-major [num_frames, dim] float32 features.
struct Features {
  size_t num_frames = 0;
  size_t dim = 0;
  std::vector<float> data;
  const float* row(size_t t) const { return data.data() + t * dim; }
  float* row(size_t t) { return data.data() + t * dim; }
};

class Fbank {
 public:
  static Result<Fbank> Create(const FbankOptions& options = {});
  // Uses the given kernels instead of the best for this CPU (tests).
  static Result<Fbank> Create(const FbankOptions& options, const FbankKernels& kernels);

  size_t window_size() const { return window_size_; }
  size_t window_shift() const { return window_shift_; }
  size_t dim() const { return mel_.num_bins; }
  const char* kernel_target() const { return kernels_.name; }
  // Frames a waveform of num_samples samples yields (snip_edges).
  size_t NumFrames(size_t num_samples) const;

  // Features of a whole waveform (sample_rate Hz, int16 scale).
  Result<Features> Compute(std::span<const float> waveform) const;

  // Appends the features of `num_frames` frames to `out` (resized); frame t
  // starts at samples[t * window_shift()]. The caller guarantees
  // (num_frames - 1) * shift + window samples and has validated them.
  void ComputeFrames(const float* samples, size_t num_frames, Features* out) const;

  // InvalidArgument naming the first sample that is non-finite or too large.
  Status CheckSamples(std::span<const float> samples, size_t first_index = 0) const;

 private:
  Fbank() = default;
  FbankPlan Plan() const;

  FbankOptions options_;
  size_t window_size_ = 0;
  size_t window_shift_ = 0;
  size_t fft_size_ = 0;
  std::vector<double> window_;
  std::vector<uint32_t> bitrev_;
  std::vector<double> twiddle_;
  std::vector<double> split_;
  MelBanks mel_;
  std::unique_ptr<RealFft> reference_fft_;  // only with the scalar reference kernels
  FbankKernels kernels_{};
};

// Incremental features: Accept() any number of samples at a time; the frames
// emitted are bit-identical to Fbank::Compute on the concatenated input.
class StreamingFbank {
 public:
  // `fbank` must outlive the StreamingFbank.
  explicit StreamingFbank(const Fbank& fbank);

  // Appends every frame that is complete after these samples to `out`
  // (out->dim is set). Fails, consuming nothing, on non-finite samples.
  Status Accept(std::span<const float> samples, Features* out);
  size_t frames_emitted() const { return frames_emitted_; }
  size_t samples_accepted() const { return samples_accepted_; }

 private:
  const Fbank* fbank_;
  std::vector<float> pending_;  // samples from the next frame's start onwards
  size_t frames_emitted_ = 0;
  size_t samples_accepted_ = 0;
};

}  // namespace qasr::frontend
