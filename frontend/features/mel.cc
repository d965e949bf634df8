#include "frontend/features/mel.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace qasr::frontend {
namespace {

double MelScalar(double freq) { return 1127.0 * std::log(1.0 + freq / 700.0); }
float MelFloat(float freq) { return 1127.0f * std::log(1.0f + freq / 700.0f); }

}  // namespace

float MelBanks::Weight(size_t m, size_t k) const {
  if (m >= num_bins || k < start[m] || k >= start[m] + length[m]) return 0.0f;
  return static_cast<float>(weights[offset[m] + (k - start[m])]);
}

Result<MelBanks> MakeMelBanks(size_t num_bins, size_t fft_size, float sample_rate, float low_freq,
                              float high_freq) {
  const double nyquist = 0.5 * sample_rate;
  double high = high_freq;
  if (high <= 0.0) high += nyquist;
  if (num_bins < 1 || num_bins > 1024 || fft_size < 4 || !(sample_rate > 0.0f) ||
      !(low_freq >= 0.0f) || !(high > low_freq) || high > nyquist) {
    return InvalidArgument("mel: need 1 <= bins <= 1024 and 0 <= low < high <= Nyquist (got " +
                           std::to_string(num_bins) + " bins, " + std::to_string(low_freq) + ".." +
                           std::to_string(high) + " Hz)");
  }
  // Same float32 arithmetic as torchaudio: scalars in double, tensors in float.
  const size_t num_fft_bins = fft_size / 2;
  const float bin_width = static_cast<float>(static_cast<double>(sample_rate) / fft_size);
  const float mel_low = static_cast<float>(MelScalar(low_freq));
  const float delta = static_cast<float>((MelScalar(high) - MelScalar(low_freq)) / (num_bins + 1));
  std::vector<float> mel(num_fft_bins);
  for (size_t k = 0; k < num_fft_bins; ++k) mel[k] = MelFloat(bin_width * static_cast<float>(k));

  MelBanks banks;
  banks.num_bins = num_bins;
  banks.num_fft_bins = num_fft_bins;
  std::vector<float> dense(num_fft_bins);
  for (size_t m = 0; m < num_bins; ++m) {
    const float left = mel_low + static_cast<float>(m) * delta;
    const float center = mel_low + (static_cast<float>(m) + 1.0f) * delta;
    const float right = mel_low + (static_cast<float>(m) + 2.0f) * delta;
    size_t first = num_fft_bins;
    size_t last = 0;
    for (size_t k = 0; k < num_fft_bins; ++k) {
      const float up = (mel[k] - left) / (center - left);
      const float down = (right - mel[k]) / (right - center);
      dense[k] = std::max(0.0f, std::min(up, down));
      if (dense[k] > 0.0f) {
        first = std::min(first, k);
        last = k;
      }
    }
    if (first == num_fft_bins) first = last = 0;  // empty filter: one zero weight
    const size_t len = last - first + 1;
    banks.start.push_back(static_cast<uint32_t>(first));
    banks.offset.push_back(static_cast<uint32_t>(banks.weights.size()));
    banks.length.push_back(static_cast<uint32_t>(len));
    for (size_t j = 0; j < len; ++j) {
      const size_t k = first + j;
      banks.weights.push_back(dense[k]);
    }
  }
  return banks;
}

}  // namespace qasr::frontend
