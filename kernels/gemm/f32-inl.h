// w{2,3,4,8}f32 GEMM tile kernels: fp32 activations times weights
// dequantized on the fly, a = fma(x, float(q - z), a) per group, then
// y = fma(scale, a, y). One fp32 lane per weight row, columns in increasing
// order, so every target matches the scalar reference bit for bit.
#if defined(QASR_KERNELS_GEMM_F32_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QASR_KERNELS_GEMM_F32_INL_H_
#undef QASR_KERNELS_GEMM_F32_INL_H_
#else
#define QASR_KERNELS_GEMM_F32_INL_H_
#endif

#include <hwy/highway.h>

#include <cstring>

#include "kernels/gemm/gemm_table.h"
#include "kernels/gemm/tile_common-inl.h"
#include "kernels/gemm/unpack-inl.h"

HWY_BEFORE_NAMESPACE();
namespace qasr::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <int kBits, size_t MR, class DF>
HWY_INLINE void TileF32(DF df, const F32Job& job, size_t t, size_t m, size_t r0) {
  const hn::RebindToSigned<DF> di;
  const WeightLayout& l = job.w.layout();
  const size_t cols = l.shape.cols, n0 = t * kTileRows + r0;
  const uint8_t* codes = job.w.tile_codes(t);
  float tail[MR][kSuperblockCols];  // the last, partial superblock, zero padded
  hn::Vec<DF> y[MR];
  for (size_t i = 0; i < MR; ++i) y[i] = hn::Zero(df);
  for (size_t g = 0; g < l.groups; ++g) {
    const auto z = TileZeros(di, job.w, t, g, r0);
    hn::Vec<DF> a[MR];
    for (size_t i = 0; i < MR; ++i) a[i] = hn::Zero(df);
    for (size_t sb = l.GroupBegin(g); sb < l.GroupEnd(g); ++sb) {
      const size_t k0 = sb * kSuperblockCols;
      const float* xs[MR];
      for (size_t i = 0; i < MR; ++i) {
        xs[i] = job.x + (m + i) * job.lda + k0;
        if (k0 + kSuperblockCols > cols) {
          std::memset(tail[i], 0, sizeof(tail[i]));
          std::memcpy(tail[i], xs[i], (cols - k0) * sizeof(float));
          xs[i] = tail[i];
        }
      }
      ForEachCode<kBits>(di, codes + sb * l.superblock_bytes, r0,
                         [&](size_t k, hn::Vec<decltype(di)> q) {
                           const auto w = hn::ConvertTo(df, hn::Sub(q, z));
                           for (size_t i = 0; i < MR; ++i)
                             a[i] = hn::MulAdd(hn::Set(df, xs[i][k]), w, a[i]);
                         });
    }
    const auto s = TileScales(df, job.w, t, g, r0);
    for (size_t i = 0; i < MR; ++i) y[i] = hn::MulAdd(s, a[i], y[i]);
  }
  const auto bias = LoadBias(df, job.bias, n0, l.shape.rows);
  for (size_t i = 0; i < MR; ++i)
    StoreRows(df, hn::Add(y[i], bias), job.y + (m + i) * job.ldy, n0, l.shape.rows);
}

template <int kBits>
void F32Tiles(const F32Job& job, size_t m0, size_t m1, size_t t0, size_t t1) {
  const hn::CappedTag<float, kTileRows> df;
  const size_t lanes = hn::Lanes(df);
  for (size_t t = t0; t < t1; ++t)
    for (size_t r0 = 0; r0 < kTileRows; r0 += lanes)
      ForRowBlocks(m0, m1, [&]<size_t MR>(size_t m) { TileF32<kBits, MR>(df, job, t, m, r0); });
}

}  // namespace qasr::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
