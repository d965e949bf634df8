// Scalar reference of the filterbank kernels: the definition the SIMD
// versions are tested against.
#include <algorithm>
#include <cmath>

#include "frontend/features/fbank_kernels.h"

namespace qasr::frontend {
namespace {

void PrepareFrameRef(const float* frame, size_t n, double preemph, const double* window,
                     double* out) {
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) sum += frame[i];
  const double mean = sum / static_cast<double>(n);
  for (size_t i = 0; i < n; ++i) {
    const double cur = frame[i] - mean;
    const double prev = frame[i == 0 ? 0 : i - 1] - mean;
    out[i] = (cur - preemph * prev) * window[i];
  }
}

void PowerSpectrumRef(const double* spectrum, size_t count, double* power) {
  for (size_t k = 0; k < count; ++k) {
    const double re = spectrum[2 * k];
    const double im = spectrum[2 * k + 1];
    power[k] = re * re + im * im;
  }
}

void MelLogRef(const double* power, const MelView& mel, double floor, float* out, size_t out_stride,
               size_t frames) {
  for (size_t f = 0; f < frames; ++f) {
    for (size_t m = 0; m < mel.num_bins; ++m) {
      double energy = 0.0;
      for (size_t j = 0; j < mel.length[m]; ++j) {
        energy += mel.weights[mel.offset[m] + j] * power[(mel.start[m] + j) * kFbankBatch + f];
      }
      out[f * out_stride + m] = static_cast<float>(std::log(std::max(energy, floor)));
    }
  }
}

}  // namespace

FbankKernels ScalarFbankKernels() {
  return {"scalar-reference", PrepareFrameRef, PowerSpectrumRef, MelLogRef};
}

}  // namespace qasr::frontend
