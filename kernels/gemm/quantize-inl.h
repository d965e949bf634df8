// Dynamic per-row int8 activation quantization (see activation_format.h for
// the definition). Vector body plus the scalar definition for tails, so the
// codes equal the reference's on every target.
#if defined(QASR_KERNELS_GEMM_QUANTIZE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QASR_KERNELS_GEMM_QUANTIZE_INL_H_
#undef QASR_KERNELS_GEMM_QUANTIZE_INL_H_
#else
#define QASR_KERNELS_GEMM_QUANTIZE_INL_H_
#endif

#include <hwy/highway.h>

#include <cmath>
#include <cstring>

#include "kernels/formats/activation_format.h"

HWY_BEFORE_NAMESPACE();
namespace qasr::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// max |x[k]| over k < cols; a tail shorter than a vector goes through a
// zero-padded copy (no scalar libm calls for short rows such as 9-value
// convolution patches).
HWY_INLINE float RowAbsMax(const float* x, size_t cols) {
  const hn::CappedTag<float, 16> df;
  const size_t n = hn::Lanes(df);
  auto vmax = hn::Zero(df);
  size_t k = 0;
  for (; k + n <= cols; k += n) vmax = hn::Max(vmax, hn::Abs(hn::LoadU(df, x + k)));
  if (k < cols) {
    HWY_ALIGN float buf[16] = {};
    std::memcpy(buf, x + k, (cols - k) * sizeof(float));
    vmax = hn::Max(vmax, hn::Abs(hn::Load(df, buf)));
  }
  return hn::GetLane(hn::MaxOfLanes(df, vmax));
}

// Quantizes x[begin, end) into q, returning the sum of the codes (a tail
// through zero-padded copies: padding quantizes to code 0).
HWY_INLINE int32_t QuantizeSpan(const float* x, size_t begin, size_t end, float inv, int8_t* q) {
  const hn::CappedTag<float, 16> df;
  const hn::RebindToSigned<decltype(df)> di;
  const hn::Rebind<int8_t, decltype(df)> d8;
  const size_t n = hn::Lanes(df);
  const auto vinv = hn::Set(df, inv), lo = hn::Set(df, -127.0f), hi = hn::Set(df, 127.0f);
  auto vsum = hn::Zero(di);
  const auto codes_of = [&](auto v) {
    return hn::ConvertTo(di, hn::Min(hn::Max(hn::Round(hn::Mul(v, vinv)), lo), hi));
  };
  size_t k = begin;
  for (; k + n <= end; k += n) {
    const auto codes = codes_of(hn::LoadU(df, x + k));
    vsum = hn::Add(vsum, codes);
    hn::StoreU(hn::DemoteTo(d8, codes), d8, q + k);
  }
  if (k < end) {
    HWY_ALIGN float buf[16] = {};
    HWY_ALIGN int8_t out[16];
    std::memcpy(buf, x + k, (end - k) * sizeof(float));
    const auto codes = codes_of(hn::Load(df, buf));
    vsum = hn::Add(vsum, codes);
    hn::Store(hn::DemoteTo(d8, codes), d8, out);
    std::memcpy(q + k, out, end - k);
  }
  return hn::GetLane(hn::SumOfLanes(di, vsum));
}

void QuantizeRows(const float* x, size_t lda, size_t m0, size_t m1, QuantizedActivations& out) {
  for (size_t m = m0; m < m1; ++m) {
    const float* row = x + m * lda;
    const float amax = RowAbsMax(row, out.cols);
    const float inv = ActivationInverseScale(amax);
    out.scales[m] = inv == 0.0f ? 0.0f : amax / 127.0f;
    int8_t* q = out.row(m);
    int32_t* sums = &out.sums[m * out.groups];
    std::memset(q + out.cols, 0, out.padded_cols - out.cols);
    if (inv == 0.0f) {
      std::memset(q, 0, out.cols);
      for (size_t g = 0; g < out.groups; ++g) sums[g] = 0;
      continue;
    }
    for (size_t g = 0; g < out.groups; ++g) {
      const size_t begin = g * out.group_cols;
      const size_t end = begin + out.group_cols < out.cols ? begin + out.group_cols : out.cols;
      sums[g] = QuantizeSpan(row, begin, end, inv, q);
    }
  }
}

// y = xq * sx for rows [m0, m1): the dequantized int8 codes of each row, for
// layers whose weights stay fp32 but whose inputs the toolkit quantizes. The
// same codes as QuantizeRows; `+ 0` turns the -0 that rounding a small
// negative input gives into the +0 of a zero code. Rows shorter than a vector
// (a 3x3 patch of one channel has 9 values) go through a zero-padded copy,
// so nothing is read or written past a row.
void FakeQuantizeRows(const float* x, size_t lda, size_t m0, size_t m1, size_t cols, float* y,
                      size_t ldy) {
  const hn::CappedTag<float, 16> df;
  const size_t n = hn::Lanes(df);
  const size_t body = cols / n * n, tail = cols - body;
  const auto lo = hn::Set(df, -127.0f), hi = hn::Set(df, 127.0f), zero = hn::Zero(df);
  HWY_ALIGN float buf[16] = {};
  for (size_t m = m0; m < m1; ++m) {
    const float* row = x + m * lda;
    float* out = y + m * ldy;
    auto vmax = hn::Zero(df);
    for (size_t k = 0; k < body; k += n) vmax = hn::Max(vmax, hn::Abs(hn::LoadU(df, row + k)));
    if (tail != 0) {
      std::memcpy(buf, row + body, tail * sizeof(float));
      std::memset(buf + tail, 0, (n - tail) * sizeof(float));
      vmax = hn::Max(vmax, hn::Abs(hn::Load(df, buf)));
    }
    const float amax = hn::GetLane(hn::MaxOfLanes(df, vmax));
    const float inv = ActivationInverseScale(amax);
    if (inv == 0.0f) {
      std::memset(out, 0, cols * sizeof(float));
      continue;
    }
    const auto vinv = hn::Set(df, inv), vsx = hn::Set(df, amax / 127.0f);
    const auto fake = [&](auto v) {
      const auto r = hn::Min(hn::Max(hn::Round(hn::Mul(v, vinv)), lo), hi);
      return hn::Mul(hn::Add(r, zero), vsx);
    };
    for (size_t k = 0; k < body; k += n) hn::StoreU(fake(hn::LoadU(df, row + k)), df, out + k);
    if (tail != 0) {
      hn::Store(fake(hn::Load(df, buf)), df, buf);
      std::memcpy(out + body, buf, tail * sizeof(float));
    }
  }
}

}  // namespace qasr::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
