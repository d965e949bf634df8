// The per-frame hot loops of the filterbank, as a table of plain function
// pointers: one Highway-vectorised set (the best target this CPU supports,
// chosen once) and a scalar reference with the same contract.
// Frames go through the FFT, the power spectrum and the mel/log step in
// batches of kFbankBatch, with spectra stored bin-major ([bin][frame]) so the
// mel sums vectorise across frames with no horizontal reductions.
// Everything after the input samples is computed in double: torchaudio's
// float32 pipeline loses the quietest bins (~100 dB below a frame's peak) to
// rounding, and a double pipeline stays within torchaudio's own float32 error
// of the exact result everywhere. Only the output is rounded to float.
// Thread safety: all kernels are pure functions of their arguments.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qasr::frontend {

inline constexpr size_t kFbankBatch = 4;

// Read-only view of MelBanks for the kernels (weights widened to double).
struct MelView {
  size_t num_bins;
  const uint32_t* start;
  const uint32_t* offset;
  const uint32_t* length;
  const double* weights;
};

struct FbankKernels {
  const char* target;  // e.g. "AVX2" or "scalar-reference"
  // out[i] = (d[i] - preemph * d[i-1]) * window[i], d = frame - mean(frame),
  // d[-1] = d[0]; i in [0, n).
  void (*prepare_frame)(const float* frame, size_t n, double preemph, const double* window,
                        double* out);
  // power[i] = re^2 + im^2 of `count` interleaved complex values.
  void (*power_spectrum)(const double* spectrum, size_t count, double* power);
  // For each frame f < kFbankBatch and filter m:
  //   out[f * out_stride + m] = log(max(sum_j w[offset[m]+j] * P[start[m]+j][f], floor)),
  // P = power, bin-major with kFbankBatch frames per bin. Rows f >= frames
  // are not written.
  void (*mel_log)(const double* power, const MelView& mel, double floor, float* out,
                  size_t out_stride, size_t frames);
};

FbankKernels ChooseFbankKernels();
FbankKernels ScalarFbankKernels();

}  // namespace qasr::frontend
