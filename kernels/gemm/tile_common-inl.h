// Per-target helpers shared by the GEMM tile kernels: loading a tile's group
// scales / zero points for a run of rows, and storing a tile's outputs with
// the rows past N masked off. Included by the -inl.h kernels only.
#if defined(QASR_KERNELS_GEMM_TILE_COMMON_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QASR_KERNELS_GEMM_TILE_COMMON_INL_H_
#undef QASR_KERNELS_GEMM_TILE_COMMON_INL_H_
#else
#define QASR_KERNELS_GEMM_TILE_COMMON_INL_H_
#endif

#include <hwy/highway.h>

#include <cstring>

#include "kernels/base/row_blocks-inl.h"
#include "kernels/formats/weight_format.h"

HWY_BEFORE_NAMESPACE();
namespace qasr::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Group g's fp16 scales of tile rows [r0, r0 + Lanes(df)) as fp32.
template <class DF>
HWY_INLINE hn::Vec<DF> TileScales(DF df, const PackedWeightsView& w, size_t t, size_t g,
                                  size_t r0) {
  const hn::Rebind<hwy::float16_t, DF> dh;
  const auto* p = reinterpret_cast<const hwy::float16_t*>(w.tile_scales(t, g) + 2 * r0);
  return hn::PromoteTo(df, hn::LoadU(dh, p));
}

template <class DI>
HWY_INLINE hn::Vec<DI> TileZeros(DI di, const PackedWeightsView& w, size_t t, size_t g, size_t r0) {
  const hn::Rebind<uint8_t, DI> d8;
  return hn::PromoteTo(di, hn::LoadU(d8, w.tile_zeros(t, g) + r0));
}

// Rows of output n0 .. n0 + Lanes(d) that exist (n < n_rows).
HWY_INLINE size_t ValidLanes(size_t n0, size_t lanes, size_t n_rows) {
  return n0 >= n_rows ? 0 : (n_rows - n0 < lanes ? n_rows - n0 : lanes);
}

// row[n0 ..] with zeros for the lanes past n_rows (the mirror of StoreRows).
template <class DF>
HWY_INLINE hn::Vec<DF> LoadRows(DF df, const float* row, size_t n0, size_t n_rows) {
  const size_t valid = ValidLanes(n0, hn::Lanes(df), n_rows);
  if (valid == hn::Lanes(df)) return hn::LoadU(df, row + n0);
  HWY_ALIGN float tmp[16] = {};
  if (valid != 0) std::memcpy(tmp, row + n0, valid * sizeof(float));
  return hn::Load(df, tmp);
}

// bias[n0 ..] with zeros for missing rows (or everywhere if bias is null).
template <class DF>
HWY_INLINE hn::Vec<DF> LoadBias(DF df, const float* bias, size_t n0, size_t n_rows) {
  return bias == nullptr ? hn::Zero(df) : LoadRows(df, bias, n0, n_rows);
}

template <class D>
HWY_INLINE void StoreRows(D d, hn::Vec<D> v, hn::TFromD<D>* out, size_t n0, size_t n_rows) {
  const size_t valid = ValidLanes(n0, hn::Lanes(d), n_rows);
  if (valid == hn::Lanes(d)) {
    hn::StoreU(v, d, out + n0);
  } else if (valid != 0) {
    HWY_ALIGN hn::TFromD<D> tmp[16];
    hn::Store(v, d, tmp);
    std::memcpy(out + n0, tmp, valid * sizeof(tmp[0]));
  }
}

// Exact group dots d[m][n][g] for rows n0 .. of the tile (test path).
template <class DI>
HWY_INLINE void StoreDots(DI di, hn::Vec<DI> d, int32_t* dots, size_t m, size_t n0, size_t n_rows,
                          size_t groups, size_t g) {
  HWY_ALIGN int32_t tmp[16];
  hn::Store(d, di, tmp);
  const size_t valid = ValidLanes(n0, hn::Lanes(di), n_rows);
  for (size_t i = 0; i < valid; ++i) dots[(m * n_rows + n0 + i) * groups + g] = tmp[i];
}

}  // namespace qasr::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
