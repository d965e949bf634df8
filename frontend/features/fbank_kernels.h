// The filterbank's per-frame work (DC removal, pre-emphasis, window, real FFT,
// power spectrum, mel sums, log) as a table of plain function pointers: one
// Highway-vectorised set per compiled SIMD target, and a scalar reference
// with the same contract (per frame, FFTW for the transform) that the SIMD
// sets are tested against.
//
// The SIMD kernel runs `lanes` frames at once, one frame per SIMD lane of
// doubles: every step, the FFT included, is the same arithmetic on every
// lane, so no shuffles are needed and a frame's result does not depend on
// which frames share its batch (streaming gives bit-identical frames).
// Everything after the input samples is computed in double: torchaudio's
// float32 pipeline loses the quietest bins (~100 dB below a frame's peak) to
// rounding, and a double pipeline stays within torchaudio's own float32 error
// of the exact result everywhere. Only the output is rounded to float.
// Thread safety: all kernels are pure functions of their arguments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace qasr::frontend {

class RealFft;

// Most frames one kernel call handles (the widest vector of doubles used).
inline constexpr size_t kMaxFbankLanes = 8;

// Doubles between the kernel's scratch planes (see fbank_kernels-inl.h).
inline constexpr size_t kFbankPlanePad = 40;

// Read-only view of MelBanks for the kernels (weights widened to double).
struct MelView {
  size_t num_bins;
  const uint32_t* start;
  const uint32_t* offset;
  const uint32_t* length;
  const double* weights;
};

// Everything a kernel needs besides the samples; owned by Fbank.
struct FbankPlan {
  size_t window_size;  // samples per frame (n)
  size_t fft_size;     // N, a power of two >= max(window_size, 4)
  double preemph;
  double log_floor;
  const double* window;  // n values
  // The real N-point FFT is computed as an N/2-point complex FFT of
  // z[j] = x[2j] + i x[2j+1] (radix-2, decimation in time) and a split step:
  const uint32_t* bitrev;  // N/2 entries: input position of z[j]
  const double* twiddle;   // N/2 (cos, -sin) pairs of exp(-2 pi i k / (N/2)), k < N/4
  const double* split;     // N/2 (cos, sin) pairs of 2 pi k / N, k < N/2
  MelView mel;
  const RealFft* reference_fft;  // FFTW, for the scalar reference only
};

// Doubles of scratch a kernel with `lanes` lanes needs for `plan`.
size_t FbankScratchSize(const FbankPlan& plan, size_t lanes);

struct FbankKernels {
  int64_t target;    // Highway target bit; 0 for the scalar reference
  const char* name;  // e.g. "AVX2" or "scalar-reference"
  size_t lanes;      // frames per call (<= kMaxFbankLanes)
  // Frame f (f < count <= lanes) starts at samples + f * shift and has
  // plan.window_size samples. For each filter m:
  //   out[f * out_stride + m] = log(max(sum_k w_m[k] * |X_f[k]|^2, log_floor)),
  // X_f = FFT_N(zero-padded y_f), y_f[i] = (d[i] - preemph * d[i-1]) * window[i],
  // d = frame - mean(frame), d[-1] = d[0]. `scratch` holds
  // FbankScratchSize(plan, lanes) doubles.
  void (*compute)(const FbankPlan& plan, const float* samples, size_t shift, size_t count,
                  float* out, size_t out_stride, double* scratch);
};

// The best set for this CPU (chosen once by Highway).
FbankKernels ChooseFbankKernels();
// Every compiled SIMD set this CPU can run, best first (tests, benchmarks).
std::vector<FbankKernels> SupportedFbankKernels();
FbankKernels ScalarFbankKernels();

}  // namespace qasr::frontend
