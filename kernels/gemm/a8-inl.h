// w{2,3,4,8}a8 GEMM tile kernels: int8 activations x low-bit codes, exact
// int32 group dots, fp32 epilogue. See docs/QUANTIZATION.md for the math and
// the packed layout (8 rows x 32 columns per superblock).
//
// Two inner loops per format, both exact:
// - x86 AVX2 and up: the register-blocked vpmaddubsw microkernel of
//   a8_x86-inl.h (MR rows x NT tiles).
// - every other target (here): one int32 lane per weight row, codes
//   extracted with shifts/masks, multiply-add in int32.
#if defined(QASR_KERNELS_GEMM_A8_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QASR_KERNELS_GEMM_A8_INL_H_
#undef QASR_KERNELS_GEMM_A8_INL_H_
#else
#define QASR_KERNELS_GEMM_A8_INL_H_
#endif

#include <hwy/highway.h>

#include <cstring>

#include "kernels/gemm/a8_x86-inl.h"
#include "kernels/gemm/gemm_table.h"
#include "kernels/gemm/tile_common-inl.h"
#include "kernels/gemm/unpack-inl.h"

HWY_BEFORE_NAMESPACE();
namespace qasr::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Accumulates group g's raw dots sum_k xq * q for tile rows [r0, r0+Lanes).
template <int kBits, size_t MR, class DI>
HWY_INLINE void GroupDotsRaw(DI di, const PackedWeightsView& w, size_t t, size_t g, size_t r0,
                             const int8_t* const* x, hn::Vec<DI>* acc) {
  const WeightLayout& l = w.layout();
  const uint8_t* codes = w.tile_codes(t);
  for (size_t i = 0; i < MR; ++i) acc[i] = hn::Zero(di);
  for (size_t sb = l.GroupBegin(g); sb < l.GroupEnd(g); ++sb) {
    const size_t k0 = sb * kSuperblockCols;
    ForEachCode<kBits>(di, codes + sb * l.superblock_bytes, r0, [&](size_t k, hn::Vec<DI> q) {
      for (size_t i = 0; i < MR; ++i)
        acc[i] = hn::Add(acc[i], hn::Mul(q, hn::Set(di, x[i][k0 + k])));
    });
  }
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
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
  if (job.dots != nullptr) return x86::A8TilesX86<kBits, true>(job, m0, m1, t0, t1);
  x86::A8TilesX86<kBits, false>(job, m0, m1, t0, t1);
#else
  if (job.dots != nullptr) return A8Tiles<kBits, true>(job, m0, m1, t0, t1);
  A8Tiles<kBits, false>(job, m0, m1, t0, t1);
#endif
}

}  // namespace qasr::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
