// Kaldi mel filterbank weights, computed exactly as
// torchaudio.compliance.kaldi.get_mel_banks does (float32, mel = 1127 ln(1 + f/700),
// triangles equally spaced in mel between low and high frequency, no VTLN),
// stored as one band of consecutive FFT bins per filter.
// Thread safety: immutable after construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/base/status.h"

namespace qasr::frontend {

struct MelBanks {
  size_t num_bins = 0;           // number of filters
  size_t num_fft_bins = 0;       // power-spectrum bins the weights refer to (fft_size/2)
  std::vector<uint32_t> start;   // first FFT bin of each band
  std::vector<uint32_t> offset;  // index of each band's first weight in `weights`
  std::vector<uint32_t> length;  // band length (bins with non-zero weight)
  std::vector<double> weights;   // float32 values, as torchaudio computes them

  // Dense weight of filter m at FFT bin k (0 outside the band); for tests.
  float Weight(size_t m, size_t k) const;
};

// num_bins >= 1; 0 <= low_freq < high_freq <= sample_rate / 2 (high_freq <= 0
// means Nyquist + high_freq, as in Kaldi).
Result<MelBanks> MakeMelBanks(size_t num_bins, size_t fft_size, float sample_rate, float low_freq,
                              float high_freq);

}  // namespace qasr::frontend
