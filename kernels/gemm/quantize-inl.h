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

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/formats/activation_format.h"

HWY_BEFORE_NAMESPACE();
namespace qasr::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using QuantTag = hn::CappedTag<float, 16>;

// max |x[k]| over k < cols; a tail shorter than a vector goes through a
// zero-padded copy (no scalar libm calls for short rows such as 9-value
// convolution patches).
HWY_INLINE float RowAbsMax(const float* x, size_t cols) {
  const QuantTag df;
  const size_t n = hn::Lanes(df);
  // Four independent chains for long rows (max is exact: any order gives the
  // same value), then one.
  auto vmax = hn::Zero(df), m1 = hn::Zero(df), m2 = hn::Zero(df), m3 = hn::Zero(df);
  size_t k = 0;
  for (; k + 4 * n <= cols; k += 4 * n) {
    vmax = hn::Max(vmax, hn::Abs(hn::LoadU(df, x + k)));
    m1 = hn::Max(m1, hn::Abs(hn::LoadU(df, x + k + n)));
    m2 = hn::Max(m2, hn::Abs(hn::LoadU(df, x + k + 2 * n)));
    m3 = hn::Max(m3, hn::Abs(hn::LoadU(df, x + k + 3 * n)));
  }
  vmax = hn::Max(hn::Max(vmax, m1), hn::Max(m2, m3));
  for (; k + n <= cols; k += n) vmax = hn::Max(vmax, hn::Abs(hn::LoadU(df, x + k)));
  if (k < cols) {
    HWY_ALIGN float buf[16] = {};
    std::memcpy(buf, x + k, (cols - k) * sizeof(float));
    vmax = hn::Max(vmax, hn::Abs(hn::Load(df, buf)));
  }
  return hn::GetLane(hn::MaxOfLanes(df, vmax));
}

using QuantSumVec = hn::Vec<hn::RebindToSigned<QuantTag>>;

// clamp(round_half_to_even(v * inv), -127, 127) as floats: the codes of §2.
HWY_INLINE hn::Vec<QuantTag> RoundedCodes(hn::Vec<QuantTag> v, hn::Vec<QuantTag> vinv) {
  const QuantTag df;
  return hn::Min(hn::Max(hn::Round(hn::Mul(v, vinv)), hn::Set(df, -127.0f)), hn::Set(df, 127.0f));
}

// Quantizes x[0, n) into q with 1 / scale `inv`, adding the codes to `vsum`
// lane-wise (a tail through zero-padded copies: padding quantizes to 0).
HWY_INLINE void QuantizeRun(const float* x, size_t n, float inv, int8_t* q, QuantSumVec& vsum) {
  const QuantTag df;
  const hn::RebindToSigned<QuantTag> di;
  const hn::Rebind<int8_t, QuantTag> d8;
  const size_t lanes = hn::Lanes(df);
  const auto vinv = hn::Set(df, inv);
  const auto codes_of = [&](auto v) { return hn::ConvertTo(di, RoundedCodes(v, vinv)); };
  size_t k = 0;
#if HWY_TARGET <= HWY_AVX3
  // 64 values per step: round-half-even conversion with embedded rounding
  // (independent of MXCSR), the floor at -127 in integers and the ceiling
  // by saturation: |x * inv| <= 127 (1 + 2^-23) < 127.5 for |x| <= amax, so
  // these are RoundedCodes' clamps. Two packs and one permute make 64 bytes.
  if (lanes == 16) {
    const __m512 vi = vinv.raw;
    const __m512i floor = _mm512_set1_epi32(-127);
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    __m512i sum = vsum.raw;
    const auto code = [&](size_t i) {
      const __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + k + 16 * i), vi);
      const __m512i c = _mm512_max_epi32(
          _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), floor);
      sum = _mm512_add_epi32(sum, c);
      return c;
    };
    for (; k + 64 <= n; k += 64) {
      const __m512i c0 = code(0), c1 = code(1), c2 = code(2), c3 = code(3);
      const __m512i b = _mm512_packs_epi16(_mm512_packs_epi32(c0, c1), _mm512_packs_epi32(c2, c3));
      _mm512_storeu_si512(q + k, _mm512_permutexvar_epi32(order, b));
    }
    for (; k + 16 <= n; k += 16)
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q + k), _mm512_cvtsepi32_epi8(code(0)));
    vsum.raw = sum;
  }
#endif
  for (; k + lanes <= n; k += lanes) {
    const auto codes = codes_of(hn::LoadU(df, x + k));
    vsum = hn::Add(vsum, codes);
    hn::StoreU(hn::DemoteTo(d8, codes), d8, q + k);
  }
  if (k < n) {
    HWY_ALIGN float buf[16] = {};
    HWY_ALIGN int8_t out[16];
    std::memcpy(buf, x + k, (n - k) * sizeof(float));
    const auto codes = codes_of(hn::Load(df, buf));
    vsum = hn::Add(vsum, codes);
    hn::Store(hn::DemoteTo(d8, codes), d8, out);
    std::memcpy(q + k, out, n - k);
  }
}

// Quantizes x[begin, end) into q, returning the sum of the codes.
HWY_INLINE int32_t QuantizeSpan(const float* x, size_t begin, size_t end, float inv, int8_t* q) {
  const hn::RebindToSigned<QuantTag> di;
  QuantSumVec vsum = hn::Zero(di);
  QuantizeRun(x + begin, end - begin, inv, q + begin, vsum);
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

// ActivationInverseScale lane-wise (0 unless amax > 0 and 127 / amax is
// finite); *scale gets amax / 127 where the inverse is not 0, else 0.
HWY_INLINE hn::Vec<QuantTag> InverseScales(hn::Vec<QuantTag> amax, hn::Vec<QuantTag>* scale) {
  const QuantTag df;
  const auto k127 = hn::Set(df, 127.0f);
  const auto inv = hn::Div(k127, amax);
  const auto ok = hn::And(hn::Gt(amax, hn::Zero(df)), hn::IsFinite(inv));
  *scale = hn::IfThenElseZero(ok, hn::Div(amax, k127));
  return hn::IfThenElseZero(ok, inv);
}

// Per-pixel values of frames [a0, a1) in rows zero-padded by `pad` each side
// (row p holds frequency p - pad), after one zero row and followed by
// `slack` zero floats, so a k x k window of neighbouring patches is k rows of
// shifted vector loads; reads past a row's last frequency land in the next
// row or the slack and only feed lanes that are never stored.
struct PaddedFrames {
  float* zero_row;
  size_t stride, a0, pad, time;

  float* frame(size_t tt) const { return zero_row + (1 + tt - a0) * stride; }
  // Row i of the window of output frame t: frame t + i - pad, or zeros
  // outside the clip.
  const float* window(size_t t, size_t i) const {
    const size_t tt = t + i;
    return tt >= pad && tt - pad < time ? frame(tt - pad) : zero_row;
  }
};

// Lays the rows out in `scratch` and fills frame tt's freq values with
// fill(tt, dst); returns the layout and, in *end, the first float after the
// slack.
template <class Fill>
HWY_INLINE PaddedFrames PadFrames(float* scratch, size_t a0, size_t a1, size_t freq, size_t pad,
                                  size_t time, size_t slack, const Fill& fill, float** end) {
  const PaddedFrames rows{scratch, freq + 2 * pad, a0, pad, time};
  std::memset(rows.zero_row, 0, rows.stride * sizeof(float));
  for (size_t tt = a0; tt < a1; ++tt) {
    float* r = rows.frame(tt);
    std::memset(r, 0, pad * sizeof(float));
    fill(tt, r + pad);
    std::memset(r + pad + freq, 0, pad * sizeof(float));
  }
  float* tail = rows.frame(a1);
  std::memset(tail, 0, slack * sizeof(float));
  *end = tail + slack;
  return rows;
}

#if HWY_TARGET != HWY_SCALAR
// QuantizePatches for one input channel and a 3 x 3 kernel (the first VGG
// layer: 9 values a patch), one vector of neighbouring frequencies at a time.
// The frames the patches touch are copied into zero-padded rows
// (PaddedFrames), so tap (i, j) of the patches at frequencies f0.. is one
// unaligned load. Each lane then does what
// the scalar definition does for its patch: amax over the 9 values, the
// scale, codes and their sum; the codes are transposed into the rows.
void QuantizePatches1x3(const PatchJob& job, size_t t0, size_t t1, QuantizedActivations& out) {
  const QuantTag df;
  const hn::RebindToSigned<QuantTag> di;
  const hn::Rebind<int8_t, QuantTag> d8;
  const size_t n = hn::Lanes(df), freq = job.freq;
  const size_t a0 = t0 >= 1 ? t0 - 1 : 0, a1 = std::min(job.time, t1 + 1);
  float* end = nullptr;
  const PaddedFrames rows = PadFrames(
      job.pixel_amax, a0, a1, freq, 1, job.time, n,
      [&](size_t tt, float* dst) { std::memcpy(dst, job.x + tt * freq, freq * sizeof(float)); },
      &end);
  HWY_ALIGN int8_t codes[9][16];
  HWY_ALIGN float scales[16];
  HWY_ALIGN int32_t sums[16];
  for (size_t t = t0; t < t1; ++t) {
    const float* window[3] = {rows.window(t, 0), rows.window(t, 1), rows.window(t, 2)};
    for (size_t f0 = 0; f0 < freq; f0 += n) {
      hn::Vec<QuantTag> v[9];
      auto amax = hn::Zero(df);
      for (size_t i = 0; i < 3; ++i)
        for (size_t j = 0; j < 3; ++j) {
          v[i * 3 + j] = hn::LoadU(df, window[i] + f0 + j);
          amax = hn::Max(amax, hn::Abs(v[i * 3 + j]));
        }
      hn::Vec<QuantTag> scale;
      const auto inv = InverseScales(amax, &scale);
      // Zero codes where the inverse is 0, as the scalar definition.
      const auto ok_i = hn::RebindMask(di, hn::Ne(inv, hn::Zero(df)));
      auto vsum = hn::Zero(di);
      for (size_t k = 0; k < 9; ++k) {
        const auto c = hn::IfThenElseZero(ok_i, hn::ConvertTo(di, RoundedCodes(v[k], inv)));
        vsum = hn::Add(vsum, c);
        hn::Store(hn::DemoteTo(d8, c), d8, codes[k]);
      }
      hn::Store(scale, df, scales);
      hn::Store(vsum, di, sums);
      const size_t lanes = std::min(n, freq - f0);
      const size_t m0 = (t - t0) * freq + f0;
      std::memcpy(&out.scales[m0], scales, lanes * sizeof(float));
      std::memcpy(&out.sums[m0], sums, lanes * sizeof(int32_t));
      for (size_t l = 0; l < lanes; ++l) {
        uint64_t lo = 0;
        for (size_t k = 0; k < 8; ++k) lo |= uint64_t{static_cast<uint8_t>(codes[k][l])} << (8 * k);
        const uint64_t words[2] = {lo, uint64_t{static_cast<uint8_t>(codes[8][l])}};
        int8_t* q = out.row(m0 + l);
        std::memcpy(q, words, sizeof(words));
        std::memset(q + sizeof(words), 0, out.padded_cols - sizeof(words));
      }
    }
  }
}
#endif

// QuantizeRows of the im2col rows of a convolution (PatchJob) without
// writing them: a patch's amax is the largest pixel amax of its window (zero
// padding adds nothing), and each of its k rows of k * cin values is one
// contiguous run of x, quantized in place of the copy. Same codes, scales and
// sums as im2col + QuantizeRows, bit for bit.
void QuantizePatches(const PatchJob& job, size_t t0, size_t t1, QuantizedActivations& out) {
#if HWY_TARGET != HWY_SCALAR
  if (job.cin == 1 && job.kernel == 3 && out.padded_cols >= 16) {
    QuantizePatches1x3(job, t0, t1, out);
    return;
  }
#endif
  const QuantTag df;
  const hn::RebindToSigned<QuantTag> di;
  const size_t n = hn::Lanes(df);
  const size_t k = job.kernel, pad = k / 2, cin = job.cin, freq = job.freq;
  const size_t run = k * cin;  // one kernel row of a patch
  const size_t cols = k * run;
  const size_t a0 = t0 >= pad ? t0 - pad : 0, a1 = std::min(job.time, t1 + pad);
  // Scratch: the pixel maxima of frames [a0, a1) (PaddedFrames), then one
  // frame's patch inverse scales (freq + n floats).
  float* inv_row = nullptr;
  const PaddedFrames amax_rows = PadFrames(
      job.pixel_amax, a0, a1, freq, pad, job.time, n,
      [&](size_t tt, float* dst) {
        for (size_t f = 0; f < freq; ++f) dst[f] = RowAbsMax(job.x + (tt * freq + f) * cin, cin);
      },
      &inv_row);
  HWY_ALIGN float scales[16];
  // Patches of up to kSmall values are gathered into one buffer and
  // quantized in whole vectors (a two-channel 3 x 3 patch is 3 runs of 6).
  constexpr size_t kSmall = 64;
  HWY_ALIGN float small[kSmall];
  for (size_t t = t0; t < t1; ++t) {
    // A patch's amax is the largest pixel amax of its window (zero padding
    // adds nothing): k * k shifted loads give a vector of neighbouring
    // patches' maxima; then ActivationInverseScale and the scale lane-wise.
    for (size_t f0 = 0; f0 < freq; f0 += n) {
      auto amax = hn::Zero(df);
      for (size_t i = 0; i < k; ++i) {
        const float* r = amax_rows.window(t, i);
        for (size_t j = 0; j < k; ++j) amax = hn::Max(amax, hn::LoadU(df, r + f0 + j));
      }
      hn::Vec<QuantTag> scale;
      hn::StoreU(InverseScales(amax, &scale), df, inv_row + f0);
      hn::Store(scale, df, scales);
      std::memcpy(&out.scales[(t - t0) * freq + f0], scales,
                  std::min(n, freq - f0) * sizeof(float));
    }
    for (size_t f = 0; f < freq; ++f) {
      const size_t m = (t - t0) * freq + f;
      // Window frames [ta, tb) and frequencies [fa, fb), clipped.
      const size_t ta = t >= pad ? t - pad : 0, tb = std::min(job.time, t + k - pad);
      const size_t fa = f >= pad ? f - pad : 0, fb = std::min(freq, f + k - pad);
      const float inv = inv_row[f];
      int8_t* q = out.row(m);
      std::memset(q + cols, 0, out.padded_cols - cols);
      const bool interior = tb - ta == k && fb - fa == k;
      if (inv == 0.0f || (!interior && cols > kSmall)) std::memset(q, 0, cols);
      if (inv == 0.0f) {
        out.sums[m] = 0;
        continue;
      }
      QuantSumVec vsum = hn::Zero(di);
      const size_t j0 = fa + pad - f;  // first valid kernel column
      if (cols <= kSmall) {
        if (!interior) std::memset(small, 0, cols * sizeof(float));
        for (size_t tt = ta; tt < tb; ++tt)
          std::memcpy(small + (tt + pad - t) * run + j0 * cin, job.x + (tt * freq + fa) * cin,
                      (fb - fa) * cin * sizeof(float));
        QuantizeRun(small, cols, inv, q, vsum);
      } else {
        for (size_t tt = ta; tt < tb; ++tt)
          QuantizeRun(job.x + (tt * freq + fa) * cin, (fb - fa) * cin, inv,
                      q + (tt + pad - t) * run + j0 * cin, vsum);
      }
      out.sums[m] = hn::GetLane(hn::SumOfLanes(di, vsum));
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
  const QuantTag df;
  const size_t n = hn::Lanes(df);
  const size_t body = cols / n * n, tail = cols - body;
  HWY_ALIGN float buf[16] = {};
  for (size_t m = m0; m < m1; ++m) {
    const float* row = x + m * lda;
    float* out = y + m * ldy;
    const float amax = RowAbsMax(row, cols);
    const float inv = ActivationInverseScale(amax);
    if (inv == 0.0f) {
      std::memset(out, 0, cols * sizeof(float));
      continue;
    }
    const auto vinv = hn::Set(df, inv), vsx = hn::Set(df, amax / 127.0f);
    const auto fake = [&](auto v) {
      return hn::Mul(hn::Add(RoundedCodes(v, vinv), hn::Zero(df)), vsx);
    };
    for (size_t k = 0; k < body; k += n) hn::StoreU(fake(hn::LoadU(df, row + k)), df, out + k);
    if (tail != 0) {
      std::memcpy(buf, row + body, tail * sizeof(float));
      hn::Store(fake(hn::Load(df, buf)), df, buf);  // lanes past the tail are not stored
      std::memcpy(out + body, buf, tail * sizeof(float));
    }
  }
}

}  // namespace qasr::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
