// Scalar reference of the filterbank kernel: one frame at a time, plain loops
// and FFTW's real transform. The definition the SIMD kernels are tested
// against.
#include <algorithm>
#include <cmath>

#include "frontend/features/fbank_kernels.h"
#include "frontend/features/fft.h"

namespace qasr::frontend {
namespace {

void ComputeFramesRef(const FbankPlan& p, const float* samples, size_t shift, size_t count,
                      float* out, size_t out_stride, double* scratch) {
  const size_t n = p.window_size;
  const size_t bins = p.fft_size / 2 + 1;
  double* fft_in = scratch;
  double* fft_out = fft_in + (p.fft_size + 7) / 8 * 8;
  double* power = fft_out + (p.fft_size + 2 + 7) / 8 * 8;
  for (size_t f = 0; f < count; ++f) {
    const float* frame = samples + f * shift;
    double sum = 0.0;
    for (size_t i = 0; i < n; ++i) sum += frame[i];
    const double mean = sum / static_cast<double>(n);
    for (size_t i = 0; i < p.fft_size; ++i) {
      if (i >= n) {
        fft_in[i] = 0.0;
        continue;
      }
      const double cur = frame[i] - mean;
      const double prev = frame[i == 0 ? 0 : i - 1] - mean;
      fft_in[i] = (cur - p.preemph * prev) * p.window[i];
    }
    p.reference_fft->Forward(fft_in, fft_out);
    for (size_t k = 0; k < bins; ++k) {
      power[k] = fft_out[2 * k] * fft_out[2 * k] + fft_out[2 * k + 1] * fft_out[2 * k + 1];
    }
    for (size_t m = 0; m < p.mel.num_bins; ++m) {
      double energy = 0.0;
      for (size_t j = 0; j < p.mel.length[m]; ++j) {
        energy += p.mel.weights[p.mel.offset[m] + j] * power[p.mel.start[m] + j];
      }
      out[f * out_stride + m] = static_cast<float>(std::log(std::max(energy, p.log_floor)));
    }
  }
}

}  // namespace

FbankKernels ScalarFbankKernels() { return {0, "scalar-reference", 1, ComputeFramesRef}; }

}  // namespace qasr::frontend
