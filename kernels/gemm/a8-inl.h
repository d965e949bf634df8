// w{2,3,4,8}a8 GEMM tile kernels: int8 activations x low-bit codes, exact
// int32 group dots, fp32 epilogue. See docs/QUANTIZATION.md for the math and
// the packed layout (8 rows x 32 columns per superblock).
//
// Two inner loops per format, both exact:
// - x86 AVX2 and up: _mm256_maddubs_epi16 on a whole 8-row x 4-column block
//   (u8 codes x s8 activations). Codes <= 15 keep each 16-bit pair sum
//   <= 3810 and a superblock's eight blocks <= 30480, so nothing saturates;
//   8-bit codes are split into two nibbles and recombined as hi * 16 + lo.
// - every other target: one int32 lane per weight row, codes extracted with
//   shifts/masks, multiply-add in int32.
#if defined(QASR_KERNELS_GEMM_A8_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QASR_KERNELS_GEMM_A8_INL_H_
#undef QASR_KERNELS_GEMM_A8_INL_H_
#else
#define QASR_KERNELS_GEMM_A8_INL_H_
#endif

#include <hwy/highway.h>

#include <cstring>

#include "kernels/gemm/gemm_table.h"
#include "kernels/gemm/tile_common-inl.h"
#include "kernels/gemm/unpack-inl.h"

HWY_BEFORE_NAMESPACE();
namespace qasr::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
#define QASR_A8_MADDUBS 1

HWY_INLINE __m256i Broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// Adds one 8-row x 4-column block of codes times MR activation rows (columns
// k .. k+3) into 16-bit sums.
template <size_t MR>
HWY_INLINE void Block(__m256i codes, const int8_t* const* x, size_t k, __m256i* sums) {
  for (size_t i = 0; i < MR; ++i)
    sums[i] = _mm256_add_epi16(sums[i], _mm256_maddubs_epi16(codes, Broadcast4(x[i] + k)));
}

// 2-bit plane (and, for 3 bits, the 1-bit plane): shifting the planes right
// within 16-bit lanes walks each byte's fields down to bit 0; bits leaking in
// from the neighbouring byte never reach the masked positions.
template <int kBits, size_t MR>
HWY_INLINE void Blocks2Bit(const uint8_t* sb, const int8_t* const* x, size_t k0, __m256i* s) {
  const __m256i mask = _mm256_set1_epi8(3), bit2 = _mm256_set1_epi8(4);
  [[maybe_unused]] __m256i high;
  if constexpr (kBits == 3) high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sb + 64));
  for (size_t c = 0; c < 2; ++c) {
    __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sb + 32 * c));
    for (size_t j = 0; j < 4; ++j) {
      __m256i codes = _mm256_and_si256(packed, mask);
      packed = _mm256_srli_epi16(packed, 2);
      if constexpr (kBits == 3) {
        codes = _mm256_or_si256(codes, _mm256_and_si256(_mm256_slli_epi16(high, 2), bit2));
        high = _mm256_srli_epi16(high, 1);
      }
      Block<MR>(codes, x, k0 + 16 * c + 4 * j, s);
    }
  }
}

// One superblock (32 columns) of one tile into int32 accumulators acc[MR].
template <int kBits, size_t MR>
HWY_INLINE void Superblock(const uint8_t* sb, const int8_t* const* x, size_t k0, __m256i* acc) {
  const __m256i nibble = _mm256_set1_epi8(0x0F);
  __m256i s[MR], hi[MR];
  for (size_t i = 0; i < MR; ++i) s[i] = hi[i] = _mm256_setzero_si256();
  if constexpr (kBits == 2 || kBits == 3) {
    Blocks2Bit<kBits, MR>(sb, x, k0, s);
  } else if constexpr (kBits == 4) {
    for (size_t c = 0; c < 4; ++c) {
      const __m256i p = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sb + 32 * c));
      Block<MR>(_mm256_and_si256(p, nibble), x, k0 + 8 * c, s);
      Block<MR>(_mm256_and_si256(_mm256_srli_epi16(p, 4), nibble), x, k0 + 8 * c + 4, s);
    }
  } else {
    for (size_t c = 0; c < 8; ++c) {
      const __m256i p = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sb + 32 * c));
      Block<MR>(_mm256_and_si256(p, nibble), x, k0 + 4 * c, s);
      Block<MR>(_mm256_and_si256(_mm256_srli_epi16(p, 4), nibble), x, k0 + 4 * c, hi);
    }
  }
  const __m256i ones = _mm256_set1_epi16(1);
  for (size_t i = 0; i < MR; ++i) {
    acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(s[i], ones));
    if constexpr (kBits == 8)
      acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(hi[i], _mm256_set1_epi16(16)));
  }
}

#endif  // maddubs targets

// Accumulates group g's raw dots sum_k xq * q for tile rows [r0, r0+Lanes).
template <int kBits, size_t MR, class DI>
HWY_INLINE void GroupDotsRaw(DI di, const PackedWeightsView& w, size_t t, size_t g, size_t r0,
                             const int8_t* const* x, hn::Vec<DI>* acc) {
  const WeightLayout& l = w.layout();
  const uint8_t* codes = w.tile_codes(t);
  for (size_t i = 0; i < MR; ++i) acc[i] = hn::Zero(di);
#ifdef QASR_A8_MADDUBS
  static_assert(hn::MaxLanes(DI()) == 8, "maddubs path handles whole 8-row tiles");
  (void)r0;
  __m256i raw[MR];
  for (size_t i = 0; i < MR; ++i) raw[i] = _mm256_setzero_si256();
  for (size_t sb = l.GroupBegin(g); sb < l.GroupEnd(g); ++sb)
    Superblock<kBits, MR>(codes + sb * l.superblock_bytes, x, sb * kSuperblockCols, raw);
  for (size_t i = 0; i < MR; ++i) acc[i] = hn::Vec<DI>{raw[i]};
#else
  for (size_t sb = l.GroupBegin(g); sb < l.GroupEnd(g); ++sb) {
    const size_t k0 = sb * kSuperblockCols;
    ForEachCode<kBits>(di, codes + sb * l.superblock_bytes, r0, [&](size_t k, hn::Vec<DI> q) {
      for (size_t i = 0; i < MR; ++i)
        acc[i] = hn::Add(acc[i], hn::Mul(q, hn::Set(di, x[i][k0 + k])));
    });
  }
#endif
}

// Rows [m, m+MR) x tile t, rows [r0, r0 + Lanes(di)) of the tile.
template <int kBits, size_t MR, bool kDots, class DI>
HWY_INLINE void TileA8(DI di, const A8Job& job, size_t t, size_t m, size_t r0) {
  const hn::Rebind<float, DI> df;
  const QuantizedActivations& x = *job.x;
  const WeightLayout& l = job.w.layout();
  const size_t n_rows = l.shape.rows, ng = l.groups, n0 = t * kTileRows + r0;
  const int8_t* xr[MR];
  for (size_t i = 0; i < MR; ++i) xr[i] = x.row(m + i);
  hn::Vec<decltype(df)> y[MR];
  for (size_t i = 0; i < MR; ++i) y[i] = hn::Zero(df);
  for (size_t g = 0; g < ng; ++g) {
    hn::Vec<DI> acc[MR];
    GroupDotsRaw<kBits, MR>(di, job.w, t, g, r0, xr, acc);
    const auto z = TileZeros(di, job.w, t, g, r0);
    const auto s = TileScales(df, job.w, t, g, r0);
    for (size_t i = 0; i < MR; ++i) {
      const auto d = hn::Sub(acc[i], hn::Mul(z, hn::Set(di, x.sums[(m + i) * ng + g])));
      if constexpr (kDots) {
        StoreDots(di, d, job.dots, m + i, n0, n_rows, ng, g);
      } else {
        y[i] = hn::MulAdd(s, hn::ConvertTo(df, d), y[i]);
      }
    }
  }
  if constexpr (!kDots) {
    const auto bias = LoadBias(df, job.bias, n0, n_rows);
    for (size_t i = 0; i < MR; ++i) {
      const auto out = hn::MulAdd(hn::Set(df, x.scales[m + i]), y[i], bias);
      StoreRows(df, out, job.y + (m + i) * job.ldy, n0, n_rows);
    }
  }
}

template <int kBits, bool kDots>
void A8Tiles(const A8Job& job, size_t m0, size_t m1, size_t t0, size_t t1) {
  const hn::CappedTag<int32_t, kTileRows> di;
  const size_t lanes = hn::Lanes(di);
  for (size_t t = t0; t < t1; ++t)
    for (size_t r0 = 0; r0 < kTileRows; r0 += lanes)
      ForRowBlocks(m0, m1,
                   [&]<size_t MR>(size_t m) { TileA8<kBits, MR, kDots>(di, job, t, m, r0); });
}

template <int kBits>
void A8TilesEntry(const A8Job& job, size_t m0, size_t m1, size_t t0, size_t t1) {
  if (job.dots != nullptr) return A8Tiles<kBits, true>(job, m0, m1, t0, t1);
  A8Tiles<kBits, false>(job, m0, m1, t0, t1);
}

#undef QASR_A8_MADDUBS

}  // namespace qasr::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
