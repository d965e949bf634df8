// LayerNorm kernels (see dense_gemm.h, DenseKernels::layer_norm_rows and
// layer_norm_freq) with the exact arithmetic of the scalar definitions in
// kernels/ref/norm_ref.cc, so every target gives the same bits:
//   * rows: sums in double over kNormPartials interleaved partial sums
//     (element i goes to partial i % 8), combined in a fixed tree; the lane
//     count only decides how many partials one vector holds.
//   * frequency axis of [time][freq][channel]: per-channel double sums in
//     frequency order, channels across lanes (no reassociation at all).
// The output formula (x - mean) * rstd * gamma + beta is evaluated in float
// with separate multiplies and adds (this file's translation unit is built
// with -ffp-contract=off, kernels/CMakeLists.txt), then ReLU as
// `v > 0 ? v : 0` where asked.
#if defined(QASR_KERNELS_DENSE_NORM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QASR_KERNELS_DENSE_NORM_INL_H_
#undef QASR_KERNELS_DENSE_NORM_INL_H_
#else
#define QASR_KERNELS_DENSE_NORM_INL_H_
#endif

#include <hwy/highway.h>

#include <cmath>

#include "kernels/dense/dense_gemm.h"

HWY_BEFORE_NAMESPACE();
namespace qasr::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Doubles per vector, at most kNormPartials (which it divides).
using NormTag = hn::CappedTag<double, kNormPartials>;

// sum over i < n of f(x[i]) (as double), element i into partial
// i % kNormPartials, partials combined by NormCombine. One or two vectors of
// partials stay in registers (8 or 4 lanes); narrower targets accumulate in
// memory (no arrays of vectors: SVE vectors are sizeless).
template <class F>
HWY_INLINE double PartialSums(const float* HWY_RESTRICT x, size_t n, const F& f) {
  const NormTag d;
  const hn::Rebind<float, NormTag> df;
  const size_t lanes = hn::Lanes(d);
  HWY_ALIGN double p[kNormPartials] = {};
  size_t i = 0;
  if (lanes == kNormPartials) {
    auto a = hn::Zero(d);
    for (; i + kNormPartials <= n; i += kNormPartials)
      a = hn::Add(a, f(hn::PromoteTo(d, hn::LoadU(df, x + i))));
    hn::Store(a, d, p);
  } else if (2 * lanes == kNormPartials) {
    auto a = hn::Zero(d), b = hn::Zero(d);
    for (; i + kNormPartials <= n; i += kNormPartials) {
      a = hn::Add(a, f(hn::PromoteTo(d, hn::LoadU(df, x + i))));
      b = hn::Add(b, f(hn::PromoteTo(d, hn::LoadU(df, x + i + lanes))));
    }
    hn::Store(a, d, p);
    hn::Store(b, d, p + lanes);
  } else {
    for (; i + kNormPartials <= n; i += kNormPartials)
      for (size_t v = 0; v < kNormPartials; v += lanes)
        hn::Store(hn::Add(hn::Load(d, p + v), f(hn::PromoteTo(d, hn::LoadU(df, x + i + v)))), d,
                  p + v);
  }
  for (size_t j = 0; i + j < n; ++j)
    p[j] += hn::GetLane(f(hn::Set(d, static_cast<double>(x[i + j]))));
  return NormCombine(p);
}

void LayerNormRowsKernel(const float* x, size_t ldx, size_t rows, size_t dim, const float* gamma,
                         const float* beta, float eps, float* y, size_t ldy) {
  const NormTag d;
  const hn::ScalableTag<float> df;
  const size_t fl = hn::Lanes(df);
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * ldx;
    float* yr = y + r * ldy;
    const double mean = PartialSums(xr, dim, [](auto v) { return v; }) / static_cast<double>(dim);
    const auto vmean = hn::Set(d, mean);
    const double var = PartialSums(xr, dim,
                                   [&](auto v) {
                                     const auto dv = hn::Sub(v, vmean);
                                     return hn::Mul(dv, dv);
                                   }) /
                       static_cast<double>(dim);
    const float m = static_cast<float>(mean);
    const float rstd = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
    const auto vm = hn::Set(df, m), vr = hn::Set(df, rstd);
    size_t i = 0;
    for (; i + fl <= dim; i += fl) {
      const auto v =
          hn::Mul(hn::Mul(hn::Sub(hn::LoadU(df, xr + i), vm), vr), hn::LoadU(df, gamma + i));
      hn::StoreU(hn::Add(v, hn::LoadU(df, beta + i)), df, yr + i);
    }
    for (; i < dim; ++i) yr[i] = (xr[i] - m) * rstd * gamma[i] + beta[i];
  }
}

// Mean and summed squared deviation over frequency of V (1, 2 or 4)
// consecutive vectors of channels from c0, accumulated in registers (V
// independent chains) instead of through memory; every channel is summed in
// frequency order in double, as the reference does, so the bits are the same.
template <size_t V>
HWY_INLINE void FreqMoments(const float* xt, size_t freq, size_t channels, size_t c0,
                            double* HWY_RESTRICT mean, double* HWY_RESTRICT var) {
  static_assert(V == 1 || V == 2 || V == 4);
  const NormTag d;
  const hn::Rebind<float, NormTag> df;
  const size_t lanes = hn::Lanes(d);
  // Named accumulators (sizeless SVE vectors cannot form arrays).
  auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  auto x_at = [&](const float* row, size_t v) {
    return hn::PromoteTo(d, hn::LoadU(df, row + v * lanes));
  };
  for (size_t f = 0; f < freq; ++f) {
    const float* row = xt + f * channels + c0;
    s0 = hn::Add(s0, x_at(row, 0));
    if constexpr (V >= 2) s1 = hn::Add(s1, x_at(row, 1));
    if constexpr (V == 4) {
      s2 = hn::Add(s2, x_at(row, 2));
      s3 = hn::Add(s3, x_at(row, 3));
    }
  }
  const auto n = hn::Set(d, static_cast<double>(freq));
  s0 = hn::Div(s0, n);
  s1 = hn::Div(s1, n);
  s2 = hn::Div(s2, n);
  s3 = hn::Div(s3, n);
  auto q0 = hn::Zero(d), q1 = hn::Zero(d), q2 = hn::Zero(d), q3 = hn::Zero(d);
  auto square = [](auto dv) { return hn::Mul(dv, dv); };
  for (size_t f = 0; f < freq; ++f) {
    const float* row = xt + f * channels + c0;
    q0 = hn::Add(q0, square(hn::Sub(x_at(row, 0), s0)));
    if constexpr (V >= 2) q1 = hn::Add(q1, square(hn::Sub(x_at(row, 1), s1)));
    if constexpr (V == 4) {
      q2 = hn::Add(q2, square(hn::Sub(x_at(row, 2), s2)));
      q3 = hn::Add(q3, square(hn::Sub(x_at(row, 3), s3)));
    }
  }
  double* mc = mean + c0;
  double* vc = var + c0;
  hn::StoreU(s0, d, mc);
  hn::StoreU(q0, d, vc);
  if constexpr (V >= 2) {
    hn::StoreU(s1, d, mc + lanes);
    hn::StoreU(q1, d, vc + lanes);
  }
  if constexpr (V == 4) {
    hn::StoreU(s2, d, mc + 2 * lanes);
    hn::StoreU(q2, d, vc + 2 * lanes);
    hn::StoreU(s3, d, mc + 3 * lanes);
    hn::StoreU(q3, d, vc + 3 * lanes);
  }
}

// Frame by frame; `acc` holds 3 * channels doubles of scratch.
void LayerNormFreqKernel(float* x, size_t time, size_t freq, size_t channels, const float* gamma,
                         const float* beta, float eps, bool relu, double* HWY_RESTRICT acc) {
  const NormTag d;
  const hn::Rebind<float, NormTag> df;
  const size_t lanes = hn::Lanes(d);
  const size_t body = channels / lanes * lanes;
  double* mean = acc;
  double* var = acc + channels;
  float* m = reinterpret_cast<float*>(acc + 2 * channels);
  float* rstd = m + channels;
  const auto fzero = hn::Zero(df);
  for (size_t t = 0; t < time; ++t) {
    float* xt = x + t * freq * channels;
    size_t c = 0;
    for (; c + 4 * lanes <= body; c += 4 * lanes) FreqMoments<4>(xt, freq, channels, c, mean, var);
    for (; c + 2 * lanes <= body; c += 2 * lanes) FreqMoments<2>(xt, freq, channels, c, mean, var);
    for (; c < body; c += lanes) FreqMoments<1>(xt, freq, channels, c, mean, var);
    for (; c < channels; ++c) {
      double sum = 0.0, sq = 0.0;
      for (size_t f = 0; f < freq; ++f) sum += xt[f * channels + c];
      sum /= static_cast<double>(freq);
      for (size_t f = 0; f < freq; ++f) {
        const double dv = xt[f * channels + c] - sum;
        sq += dv * dv;
      }
      mean[c] = sum;
      var[c] = sq;
    }
    for (size_t c = 0; c < channels; ++c) {
      m[c] = static_cast<float>(mean[c]);
      rstd[c] = static_cast<float>(
          1.0 / std::sqrt(var[c] / static_cast<double>(freq) + static_cast<double>(eps)));
    }
    for (size_t f = 0; f < freq; ++f) {
      float* row = xt + f * channels;
      const auto g = hn::Set(df, gamma[f]), b = hn::Set(df, beta[f]);
      size_t c = 0;
      for (; c < body; c += lanes) {
        auto v = hn::Add(hn::Mul(hn::Mul(hn::Sub(hn::LoadU(df, row + c), hn::LoadU(df, m + c)),
                                         hn::LoadU(df, rstd + c)),
                                 g),
                         b);
        if (relu) v = hn::IfThenElseZero(hn::Gt(v, fzero), v);
        hn::StoreU(v, df, row + c);
      }
      for (; c < channels; ++c) {
        float v = (row[c] - m[c]) * rstd[c] * gamma[f] + beta[f];
        if (relu) v = v > 0.0f ? v : 0.0f;
        row[c] = v;
      }
    }
  }
}

}  // namespace qasr::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
