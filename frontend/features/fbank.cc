#include "frontend/features/fbank.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <string>

namespace qasr::frontend {
namespace {

// Povey window: symmetric Hann raised to 0.85, in double. (torchaudio's float32
// window is off by an ulp in places, which moves bins ~100 dB below the peak;
// the double window keeps us at torchaudio's float64 result.)
std::vector<double> PoveyWindow(size_t n) {
  std::vector<double> w(n);
  const double step = 2.0 * std::numbers::pi / static_cast<double>(n - 1);
  for (size_t i = 0; i < n; ++i) {
    w[i] = std::pow(0.5 - 0.5 * std::cos(static_cast<double>(i) * step), 0.85);
  }
  return w;
}

size_t RoundUpPowerOfTwo(size_t n) {
  size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

// Position of z[j] in the bit-reversed input of a `half`-point radix-2 FFT.
std::vector<uint32_t> BitReversal(size_t half) {
  const int bits = std::countr_zero(half);
  std::vector<uint32_t> rev(half);
  for (size_t j = 0; j < half; ++j) {
    uint32_t r = 0;
    for (int b = 0; b < bits; ++b) r |= static_cast<uint32_t>((j >> b) & 1u) << (bits - 1 - b);
    rev[j] = r;
  }
  return rev;
}

// (cos, -sin)(2 pi k / half) for k < half / 2: the complex FFT's twiddles.
std::vector<double> Twiddles(size_t half) {
  std::vector<double> t(2 * std::max<size_t>(half / 2, 1));
  for (size_t k = 0; k < half / 2; ++k) {
    const double angle =
        2.0 * std::numbers::pi * static_cast<double>(k) / static_cast<double>(half);
    t[2 * k] = std::cos(angle);
    t[2 * k + 1] = -std::sin(angle);
  }
  return t;
}

// (cos, sin)(2 pi k / fft_size) for k < fft_size / 2: the real split step.
std::vector<double> SplitTable(size_t fft_size) {
  std::vector<double> t(fft_size);
  for (size_t k = 0; k < fft_size / 2; ++k) {
    const double angle =
        2.0 * std::numbers::pi * static_cast<double>(k) / static_cast<double>(fft_size);
    t[2 * k] = std::cos(angle);
    t[2 * k + 1] = std::sin(angle);
  }
  return t;
}

}  // namespace

Result<Fbank> Fbank::Create(const FbankOptions& options) {
  return Create(options, ChooseFbankKernels());
}

Result<Fbank> Fbank::Create(const FbankOptions& options, const FbankKernels& kernels) {
  const double window = options.sample_rate * 0.001 * options.frame_length_ms;
  const double shift = options.sample_rate * 0.001 * options.frame_shift_ms;
  if (options.sample_rate < 1000 || options.sample_rate > 768000 || !(window >= 2.0) ||
      window > 65536.0 || !(shift >= 1.0) || shift > 65536.0 || !(options.max_abs_sample > 0.0f)) {
    return InvalidArgument("fbank: bad options (rate " + std::to_string(options.sample_rate) +
                           " Hz, frame " + std::to_string(options.frame_length_ms) + " ms, shift " +
                           std::to_string(options.frame_shift_ms) + " ms)");
  }
  Fbank f;
  f.options_ = options;
  f.kernels_ = kernels;
  // Kaldi truncates the window and shift to whole samples.
  f.window_size_ = static_cast<size_t>(window);
  f.window_shift_ = static_cast<size_t>(shift);
  const size_t fft_size = RoundUpPowerOfTwo(f.window_size_);
  f.fft_size_ = fft_size;
  auto mel =
      MakeMelBanks(static_cast<size_t>(std::max(options.num_mel_bins, 0)), fft_size,
                   static_cast<float>(options.sample_rate), options.low_freq, options.high_freq);
  if (!mel.ok()) return mel.status();
  f.mel_ = std::move(mel).value();
  if (kernels.target == 0) {  // the scalar reference transforms with FFTW
    auto fft = RealFft::Create(fft_size, 1);
    if (!fft.ok()) return fft.status();
    f.reference_fft_ = std::make_unique<RealFft>(std::move(fft).value());
  }
  f.window_ = PoveyWindow(f.window_size_);
  f.bitrev_ = BitReversal(fft_size / 2);
  f.twiddle_ = Twiddles(fft_size / 2);
  f.split_ = SplitTable(fft_size);
  return f;
}

FbankPlan Fbank::Plan() const {
  return {window_size_,
          fft_size_,
          options_.preemphasis,
          std::numeric_limits<float>::epsilon(),
          window_.data(),
          bitrev_.data(),
          twiddle_.data(),
          split_.data(),
          {mel_.num_bins, mel_.start.data(), mel_.offset.data(), mel_.length.data(),
           mel_.weights.data()},
          reference_fft_.get()};
}

size_t Fbank::NumFrames(size_t num_samples) const {
  if (num_samples < window_size_) return 0;
  return 1 + (num_samples - window_size_) / window_shift_;
}

Status Fbank::CheckSamples(std::span<const float> samples, size_t first_index) const {
  // |x| as bits: NaN and infinity compare above every finite limit, and the
  // integer max reduction vectorises.
  const uint32_t limit = std::bit_cast<uint32_t>(options_.max_abs_sample);
  uint32_t worst = 0;
  for (float x : samples) worst = std::max(worst, std::bit_cast<uint32_t>(x) & 0x7fffffffu);
  if (worst <= limit) return Status::Ok();
  for (size_t i = 0; i < samples.size(); ++i) {
    if (!(std::fabs(samples[i]) <= options_.max_abs_sample)) {
      return InvalidArgument("fbank: sample " + std::to_string(first_index + i) + " is " +
                             std::to_string(samples[i]) + " (non-finite or beyond " +
                             std::to_string(options_.max_abs_sample) + ")");
    }
  }
  return Status::Ok();
}

Result<Features> Fbank::Compute(std::span<const float> waveform) const {
  QASR_RETURN_IF_ERROR(CheckSamples(waveform));
  Features out;
  out.dim = dim();
  ComputeFrames(waveform.data(), NumFrames(waveform.size()), &out);
  return out;
}

void Fbank::ComputeFrames(const float* samples, size_t num_frames, Features* out) const {
  const size_t dim = mel_.num_bins;
  out->dim = dim;
  out->data.resize((out->num_frames + num_frames) * dim);
  if (num_frames == 0) return;
  const FbankPlan plan = Plan();
  const size_t lanes = kernels_.lanes;
  // Per-call scratch keeps Fbank const and shareable between threads.
  // Aligned to 64 bytes: whole SIMD vectors and FFTW's buffers.
  std::vector<double> buffer(FbankScratchSize(plan, lanes) + 8);
  const size_t misalign = reinterpret_cast<uintptr_t>(buffer.data()) % 64 / sizeof(double);
  double* scratch = buffer.data() + (misalign == 0 ? 0 : 8 - misalign);
  for (size_t t = 0; t < num_frames; t += lanes) {
    const size_t frames = std::min(lanes, num_frames - t);
    kernels_.compute(plan, samples + t * window_shift_, window_shift_, frames,
                     out->row(out->num_frames), dim, scratch);
    out->num_frames += frames;
  }
}

}  // namespace qasr::frontend
