// Highway implementation of the filterbank kernel (see fbank_kernels.h),
// compiled once per SIMD target by fbank_kernels.cc. One frame per lane of
// doubles; the complex FFT is radix-2 decimation in time on
// structure-of-arrays data ([bin][lane] real and imaginary planes).
#if defined(QASR_FRONTEND_FBANK_KERNELS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QASR_FRONTEND_FBANK_KERNELS_INL_H_
#undef QASR_FRONTEND_FBANK_KERNELS_INL_H_
#else
#define QASR_FRONTEND_FBANK_KERNELS_INL_H_
#endif

#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

#include <algorithm>
#include <bit>

#include "frontend/features/fbank_kernels.h"

HWY_BEFORE_NAMESPACE();
namespace qasr::frontend::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using FbankTag = hn::CappedTag<double, kMaxFbankLanes>;

inline size_t FbankLanes() { return hn::Lanes(FbankTag()); }

// Sum of n floats, accumulated in double (four chains hide the add latency).
inline double FrameSum(const float* HWY_RESTRICT frame, size_t n) {
  const hn::ScalableTag<double> d;
  const hn::Rebind<float, decltype(d)> df;  // one float per double lane
  const size_t lanes = hn::Lanes(d);
  auto acc0 = hn::Zero(d), acc1 = hn::Zero(d), acc2 = hn::Zero(d), acc3 = hn::Zero(d);
  size_t i = 0;
  for (; i + 4 * lanes <= n; i += 4 * lanes) {
    acc0 = hn::Add(acc0, hn::PromoteTo(d, hn::LoadU(df, frame + i)));
    acc1 = hn::Add(acc1, hn::PromoteTo(d, hn::LoadU(df, frame + i + lanes)));
    acc2 = hn::Add(acc2, hn::PromoteTo(d, hn::LoadU(df, frame + i + 2 * lanes)));
    acc3 = hn::Add(acc3, hn::PromoteTo(d, hn::LoadU(df, frame + i + 3 * lanes)));
  }
  for (; i + lanes <= n; i += lanes)
    acc0 = hn::Add(acc0, hn::PromoteTo(d, hn::LoadU(df, frame + i)));
  double sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(acc0, acc1), hn::Add(acc2, acc3))));
  for (; i < n; ++i) sum += frame[i];
  return sum;
}

// Frames -> DC removal, pre-emphasis and window -> the complex FFT's input
// z[j] = y[2j] + i y[2j+1] at bit-reversed positions (zero past the window).
// Each frame is computed contiguously into `row`, then scattered into its
// lane (faster than gathering across frames on AVX2). Spare lanes
// (f >= count) repeat the last frame; their results are dropped.
HWY_NOINLINE inline void LoadFrames(const FbankPlan& p, const float* HWY_RESTRICT samples,
                                    size_t shift, size_t count, double* HWY_RESTRICT re,
                                    double* HWY_RESTRICT im, double* HWY_RESTRICT row) {
  const FbankTag d;
  const size_t lanes = hn::Lanes(d);
  const hn::ScalableTag<double> dw;  // within one frame: full vectors
  const hn::Rebind<float, decltype(dw)> dfw;
  const size_t wl = hn::Lanes(dw);
  const size_t n = p.window_size;
  const size_t half = p.fft_size / 2;
  const auto zero = hn::Zero(d);
  for (size_t j = n / 2; j < half; ++j) {
    hn::Store(zero, d, re + static_cast<size_t>(p.bitrev[j]) * lanes);
    hn::Store(zero, d, im + static_cast<size_t>(p.bitrev[j]) * lanes);
  }
  const auto preemph = hn::Set(dw, p.preemph);
  for (size_t f = 0; f < lanes; ++f) {
    const float* frame = samples + std::min(f, count - 1) * shift;
    const double mean = FrameSum(frame, n) / static_cast<double>(n);
    const auto vmean = hn::Set(dw, mean);
    row[0] = ((frame[0] - mean) - p.preemph * (frame[0] - mean)) * p.window[0];
    size_t i = 1;
    for (; i + wl <= n; i += wl) {
      const auto cur = hn::Sub(hn::PromoteTo(dw, hn::LoadU(dfw, frame + i)), vmean);
      const auto prev = hn::Sub(hn::PromoteTo(dw, hn::LoadU(dfw, frame + i - 1)), vmean);
      const auto y = hn::Mul(hn::NegMulAdd(preemph, prev, cur), hn::LoadU(dw, p.window + i));
      hn::StoreU(y, dw, row + i);
    }
    for (; i < n; ++i) {
      row[i] = ((frame[i] - mean) - p.preemph * (frame[i - 1] - mean)) * p.window[i];
    }
    for (i = 0; i + 1 < n; i += 2) {
      const size_t at = static_cast<size_t>(p.bitrev[i >> 1]) * lanes + f;
      re[at] = row[i];
      im[at] = row[i + 1];
    }
    if (i < n) re[static_cast<size_t>(p.bitrev[i >> 1]) * lanes + f] = row[i];
  }
}

// (xr + i xi) * (wr + i wi)
template <class V>
HWY_INLINE void ComplexMul(V xr, V xi, V wr, V wi, V& outr, V& outi) {
  outr = hn::MulSub(xr, wr, hn::Mul(xi, wi));
  outi = hn::MulAdd(xr, wi, hn::Mul(xi, wr));
}

// The second radix-2 pass of a radix-4 group, stored: points 0 and 2 are
// u0 +- v, points 1 and 3 are u1 +- x * (-i) = u1 +- (xi - i xr); `s` is the
// distance between the group's points.
template <class D, class V>
HWY_INLINE void StoreRadix4(D d, double* HWY_RESTRICT r, double* HWY_RESTRICT m, size_t s, V u0r,
                            V u0i, V u1r, V u1i, V vr, V vi, V xr, V xi) {
  hn::Store(hn::Add(u0r, vr), d, r);
  hn::Store(hn::Add(u0i, vi), d, m);
  hn::Store(hn::Sub(u0r, vr), d, r + 2 * s);
  hn::Store(hn::Sub(u0i, vi), d, m + 2 * s);
  hn::Store(hn::Add(u1r, xi), d, r + s);
  hn::Store(hn::Sub(u1i, xr), d, m + s);
  hn::Store(hn::Sub(u1r, xi), d, r + 3 * s);
  hn::Store(hn::Add(u1i, xr), d, m + 3 * s);
}

// In-place radix-2 DIT FFT of `half` complex points per lane. Pairs of
// radix-2 passes (spans s and 2s) are fused into one pass over groups of four
// points: the same arithmetic as two radix-2 passes, half the memory traffic.
HWY_NOINLINE inline void ComplexFft(const FbankPlan& p, double* HWY_RESTRICT re,
                                    double* HWY_RESTRICT im) {
  const FbankTag d;
  const size_t lanes = hn::Lanes(d);
  const size_t half = p.fft_size / 2;
  size_t span = 1;
  if (std::countr_zero(half) % 2 == 1) {  // an odd number of passes: one radix-2 pass first
    for (size_t b = 0; b + 1 < half; b += 2) {
      double* ar = re + b * lanes;
      double* ai = im + b * lanes;
      const auto xr = hn::Load(d, ar), xi = hn::Load(d, ai);
      const auto yr = hn::Load(d, ar + lanes), yi = hn::Load(d, ai + lanes);
      hn::Store(hn::Add(xr, yr), d, ar);
      hn::Store(hn::Add(xi, yi), d, ai);
      hn::Store(hn::Sub(xr, yr), d, ar + lanes);
      hn::Store(hn::Sub(xi, yi), d, ai + lanes);
    }
    span = 2;
  } else if (half >= 4) {  // spans 1 and 2: every twiddle is 1 (or -i)
    for (size_t b = 0; b < half; b += 4) {
      double* r = re + b * lanes;
      double* m = im + b * lanes;
      const auto a0r = hn::Load(d, r), a0i = hn::Load(d, m);
      const auto a1r = hn::Load(d, r + lanes), a1i = hn::Load(d, m + lanes);
      const auto a2r = hn::Load(d, r + 2 * lanes), a2i = hn::Load(d, m + 2 * lanes);
      const auto a3r = hn::Load(d, r + 3 * lanes), a3i = hn::Load(d, m + 3 * lanes);
      const auto u0r = hn::Add(a0r, a1r), u0i = hn::Add(a0i, a1i);
      const auto u1r = hn::Sub(a0r, a1r), u1i = hn::Sub(a0i, a1i);
      const auto u2r = hn::Add(a2r, a3r), u2i = hn::Add(a2i, a3i);
      const auto u3r = hn::Sub(a2r, a3r), u3i = hn::Sub(a2i, a3i);
      StoreRadix4(d, r, m, lanes, u0r, u0i, u1r, u1i, u2r, u2i, u3r, u3i);
    }
    span = 4;
  }
  for (; 4 * span <= half; span *= 4) {
    const size_t step1 = half / (2 * span);  // twiddle stride of the span-s pass
    const size_t step2 = half / (4 * span);  // and of the span-2s pass
    const size_t s = span * lanes;
    for (size_t j = 0; j < span; ++j) {
      const auto w1r = hn::Set(d, p.twiddle[2 * j * step1]);
      const auto w1i = hn::Set(d, p.twiddle[2 * j * step1 + 1]);
      const auto w2r = hn::Set(d, p.twiddle[2 * j * step2]);
      const auto w2i = hn::Set(d, p.twiddle[2 * j * step2 + 1]);
      for (size_t b = j; b < half; b += 4 * span) {
        double* r = re + b * lanes;
        double* m = im + b * lanes;
        // Span s: (a0, a1) and (a2, a3) with twiddle w1.
        auto t1r = hn::Load(d, r + s), t1i = hn::Load(d, m + s);
        auto t3r = hn::Load(d, r + 3 * s), t3i = hn::Load(d, m + 3 * s);
        ComplexMul(t1r, t1i, w1r, w1i, t1r, t1i);
        ComplexMul(t3r, t3i, w1r, w1i, t3r, t3i);
        const auto a0r = hn::Load(d, r), a0i = hn::Load(d, m);
        const auto a2r = hn::Load(d, r + 2 * s), a2i = hn::Load(d, m + 2 * s);
        const auto u0r = hn::Add(a0r, t1r), u0i = hn::Add(a0i, t1i);
        const auto u1r = hn::Sub(a0r, t1r), u1i = hn::Sub(a0i, t1i);
        const auto u2r = hn::Add(a2r, t3r), u2i = hn::Add(a2i, t3i);
        const auto u3r = hn::Sub(a2r, t3r), u3i = hn::Sub(a2i, t3i);
        // Span 2s: (u0, u2) with w2 and (u1, u3) with w2 * (-i).
        hn::Vec<FbankTag> vr, vi, xr, xi;
        ComplexMul(u2r, u2i, w2r, w2i, vr, vi);
        ComplexMul(u3r, u3i, w2r, w2i, xr, xi);
        StoreRadix4(d, r, m, s, u0r, u0i, u1r, u1i, vr, vi, xr, xi);
      }
    }
  }
}

// Power spectrum |X[k]|^2, k = 0..half, of the real input from Z = FFT(z):
// with A = Z[k], B = conj(Z[half-k]), E = A + B, O = A - B and
// (c, s) = (cos, sin)(2 pi k / N): 2 X[k] = E - i e^{-2 pi i k/N} O.
HWY_NOINLINE inline void PowerFromHalf(const FbankPlan& p, const double* HWY_RESTRICT re,
                                       const double* HWY_RESTRICT im, double* HWY_RESTRICT power) {
  const FbankTag d;
  const size_t lanes = hn::Lanes(d);
  const size_t half = p.fft_size / 2;
  const auto quarter = hn::Set(d, 0.25);
  {
    const auto zr = hn::Load(d, re), zi = hn::Load(d, im);
    const auto x0 = hn::Add(zr, zi), xh = hn::Sub(zr, zi);
    hn::Store(hn::Mul(x0, x0), d, power);
    hn::Store(hn::Mul(xh, xh), d, power + half * lanes);
  }
  for (size_t k = 1; 2 * k <= half; ++k) {
    const size_t kk = half - k;
    const auto ar = hn::Load(d, re + k * lanes), ai = hn::Load(d, im + k * lanes);
    const auto br = hn::Load(d, re + kk * lanes), bi = hn::Neg(hn::Load(d, im + kk * lanes));
    const auto er = hn::Add(ar, br), ei = hn::Add(ai, bi);
    const auto orr = hn::Sub(ar, br), oi = hn::Sub(ai, bi);
    const auto c = hn::Set(d, p.split[2 * k]), s = hn::Set(d, p.split[2 * k + 1]);
    const auto pp = hn::NegMulAdd(s, orr, hn::Mul(c, oi));  // c Oi - s Or
    const auto q = hn::MulAdd(s, oi, hn::Mul(c, orr));      // c Or + s Oi
    const auto xr = hn::Add(er, pp), xi = hn::Sub(ei, q);
    hn::Store(hn::Mul(quarter, hn::MulAdd(xr, xr, hn::Mul(xi, xi))), d, power + k * lanes);
    if (kk != k) {
      const auto yr = hn::Sub(er, pp), yi = hn::Add(ei, q);  // X[half-k] = (Er - P, -(Ei + Q)) / 2
      hn::Store(hn::Mul(quarter, hn::MulAdd(yr, yr, hn::Mul(yi, yi))), d, power + kk * lanes);
    }
  }
}

HWY_NOINLINE inline void MelLog(const FbankPlan& p, const double* HWY_RESTRICT power, size_t count,
                                float* HWY_RESTRICT out, size_t out_stride) {
  const FbankTag d;
  const size_t lanes = hn::Lanes(d);
  const MelView& mel = p.mel;
  const auto floor = hn::Set(d, p.log_floor);
  const hn::Rebind<float, FbankTag> df;
  HWY_ALIGN float logs[kMaxFbankLanes] = {};
  for (size_t m = 0; m < mel.num_bins; ++m) {
    const double* w = mel.weights + mel.offset[m];
    const double* pw = power + static_cast<size_t>(mel.start[m]) * lanes;
    const size_t len = mel.length[m];
    // Two chains hide the FMA latency.
    auto acc0 = hn::Zero(d), acc1 = hn::Zero(d);
    size_t j = 0;
    for (; j + 2 <= len; j += 2) {
      acc0 = hn::MulAdd(hn::Set(d, w[j]), hn::Load(d, pw + j * lanes), acc0);
      acc1 = hn::MulAdd(hn::Set(d, w[j + 1]), hn::Load(d, pw + (j + 1) * lanes), acc1);
    }
    if (j < len) acc0 = hn::MulAdd(hn::Set(d, w[j]), hn::Load(d, pw + j * lanes), acc0);
    // The log in float: the output is float anyway, and Highway's double Log
    // needs 64-bit integer conversions that AVX2 lacks.
    const auto energy = hn::DemoteTo(df, hn::Max(hn::Add(acc0, acc1), floor));
    hn::Store(hn::Log(df, energy), df, logs);
    for (size_t f = 0; f < count; ++f) out[f * out_stride + m] = logs[f];
  }
}

inline void ComputeFbankFrames(const FbankPlan& p, const float* samples, size_t shift, size_t count,
                               float* out, size_t out_stride, double* scratch) {
  const size_t lanes = FbankLanes();
  const size_t half = p.fft_size / 2;
  double* re = scratch;
  // Planes a few cache lines apart modulo 4 KiB: loads from one plane must
  // not falsely alias stores to the other (4K aliasing).
  double* im = re + half * lanes + kFbankPlanePad;
  double* power = im + half * lanes + kFbankPlanePad;
  double* row = power + (half + 1) * lanes + kFbankPlanePad;
  LoadFrames(p, samples, shift, count, re, im, row);
  ComplexFft(p, re, im);
  PowerFromHalf(p, re, im, power);
  MelLog(p, power, count, out, out_stride);
}

}  // namespace qasr::frontend::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
