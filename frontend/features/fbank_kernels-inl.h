// Highway implementations of the filterbank kernels (see fbank_kernels.h),
// compiled once per SIMD target by fbank_kernels.cc.
#if defined(QASR_FRONTEND_FBANK_KERNELS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QASR_FRONTEND_FBANK_KERNELS_INL_H_
#undef QASR_FRONTEND_FBANK_KERNELS_INL_H_
#else
#define QASR_FRONTEND_FBANK_KERNELS_INL_H_
#endif

#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

#include "frontend/features/fbank_kernels.h"

HWY_BEFORE_NAMESPACE();
namespace qasr::frontend::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

inline void PrepareFrame(const float* HWY_RESTRICT frame, size_t n, double preemph,
                         const double* HWY_RESTRICT window, double* HWY_RESTRICT out) {
  const hn::ScalableTag<double> d;
  const hn::Rebind<float, decltype(d)> df;  // half-width floats, one per double lane
  const size_t lanes = hn::Lanes(d);
  auto acc = hn::Zero(d);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) acc = hn::Add(acc, hn::PromoteTo(d, hn::LoadU(df, frame + i)));
  double sum = hn::GetLane(hn::SumOfLanes(d, acc));
  for (; i < n; ++i) sum += frame[i];
  const double mean = sum / static_cast<double>(n);

  // One pass: d[i] = x[i] - mean, out[i] = (d[i] - preemph * d[i-1]) * window[i].
  out[0] = ((frame[0] - mean) - preemph * (frame[0] - mean)) * window[0];
  const auto vmean = hn::Set(d, mean);
  const auto vp = hn::Set(d, preemph);
  for (i = 1; i + lanes <= n; i += lanes) {
    const auto cur = hn::Sub(hn::PromoteTo(d, hn::LoadU(df, frame + i)), vmean);
    const auto prev = hn::Sub(hn::PromoteTo(d, hn::LoadU(df, frame + i - 1)), vmean);
    hn::StoreU(hn::Mul(hn::NegMulAdd(vp, prev, cur), hn::LoadU(d, window + i)), d, out + i);
  }
  for (; i < n; ++i) out[i] = ((frame[i] - mean) - preemph * (frame[i - 1] - mean)) * window[i];
}

inline void PowerSpectrum(const double* HWY_RESTRICT spectrum, size_t num_bins,
                          double* HWY_RESTRICT power) {
  const hn::ScalableTag<double> d;
  const size_t lanes = hn::Lanes(d);
  size_t k = 0;
  for (; k + lanes <= num_bins; k += lanes) {
    hn::Vec<decltype(d)> re, im;
    hn::LoadInterleaved2(d, spectrum + 2 * k, re, im);
    hn::StoreU(hn::MulAdd(re, re, hn::Mul(im, im)), d, power + k);
  }
  for (; k < num_bins; ++k) {
    const double re = spectrum[2 * k];
    const double im = spectrum[2 * k + 1];
    power[k] = re * re + im * im;
  }
}

inline void MelLog(const double* HWY_RESTRICT power, const MelView& mel, double floor,
                   float* HWY_RESTRICT out, size_t out_stride, size_t frames) {
  // Lanes run across the frames of the batch: no horizontal sums.
  const hn::CappedTag<double, kFbankBatch> d;
  const size_t lanes = hn::Lanes(d);
  const auto vfloor = hn::Set(d, floor);
  HWY_ALIGN double energy[kFbankBatch];
  for (size_t m = 0; m < mel.num_bins; ++m) {
    const double* w = mel.weights + mel.offset[m];
    const double* p = power + mel.start[m] * kFbankBatch;
    for (size_t f0 = 0; f0 < kFbankBatch; f0 += lanes) {
      auto acc = hn::Zero(d);
      for (size_t j = 0; j < mel.length[m]; ++j) {
        acc = hn::MulAdd(hn::Set(d, w[j]), hn::LoadU(d, p + j * kFbankBatch + f0), acc);
      }
      hn::Store(hn::Log(d, hn::Max(acc, vfloor)), d, energy + f0);
    }
    for (size_t f = 0; f < frames; ++f) out[f * out_stride + m] = static_cast<float>(energy[f]);
  }
}

}  // namespace qasr::frontend::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
