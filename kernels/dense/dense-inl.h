// Dense fp32 GEMM tiles (dot-product form, w in [N][K] layout): an MR x NR
// block of outputs keeps MR*NR vector accumulators over k, then reduces each
// across lanes. MR = 4 rows of x by NR = 2 rows of w fits 16 registers
// (8 accumulators + 3 operands) and loads 6 vectors per 8 FMAs.
#if defined(QASR_KERNELS_DENSE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QASR_KERNELS_DENSE_INL_H_
#undef QASR_KERNELS_DENSE_INL_H_
#else
#define QASR_KERNELS_DENSE_INL_H_
#endif

#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include "kernels/base/row_blocks-inl.h"
#include "kernels/dense/dense_gemm.h"

HWY_BEFORE_NAMESPACE();
namespace qasr::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <size_t MR, size_t NR>
HWY_INLINE void DenseBlock(const DenseJob& j, size_t m, size_t n) {
  const hn::ScalableTag<float> df;
  const size_t lanes = hn::Lanes(df), k = j.k;
  hn::Vec<decltype(df)> acc[MR][NR];
  for (size_t i = 0; i < MR; ++i)
    for (size_t r = 0; r < NR; ++r) acc[i][r] = hn::Zero(df);
  const float* xr[MR];
  const float* wr[NR];
  for (size_t i = 0; i < MR; ++i) xr[i] = j.x + (m + i) * j.lda;
  for (size_t r = 0; r < NR; ++r) wr[r] = j.w + (n + r) * j.ldw;
  size_t kk = 0;
  for (; kk + lanes <= k; kk += lanes) {
    hn::Vec<decltype(df)> wv[NR];
    for (size_t r = 0; r < NR; ++r) wv[r] = hn::LoadU(df, wr[r] + kk);
    for (size_t i = 0; i < MR; ++i) {
      const auto xv = hn::LoadU(df, xr[i] + kk);
      for (size_t r = 0; r < NR; ++r) acc[i][r] = hn::MulAdd(xv, wv[r], acc[i][r]);
    }
  }
  for (size_t i = 0; i < MR; ++i) {
    for (size_t r = 0; r < NR; ++r) {
      float s = hn::GetLane(hn::SumOfLanes(df, acc[i][r]));
      for (size_t t = kk; t < k; ++t) s += xr[i][t] * wr[r][t];
      if (j.bias != nullptr) s += j.bias[n + r];
      j.y[(m + i) * j.ldy + n + r] = s;
    }
  }
}

template <size_t NR>
HWY_INLINE void DenseRows(const DenseJob& j, size_t m0, size_t m1, size_t n) {
  ForRowBlocks<4>(m0, m1, [&]<size_t MR>(size_t m) { DenseBlock<MR, NR>(j, m, n); });
}

// Outputs in the outer loop: a pair of w rows stays in L1 while every row
// of the task's x block (L2) streams past it.
void DenseTiles(const DenseJob& j, size_t m0, size_t m1, size_t n0, size_t n1) {
  size_t n = n0;
  for (; n + 2 <= n1; n += 2) DenseRows<2>(j, m0, m1, n);
  if (n < n1) DenseRows<1>(j, m0, m1, n);
}

// The panel kernels' vector shape: one panel row of kPanelCols weights is
// kPanelVecs vectors of kPanelLanes floats.
using PanelTag = hn::CappedTag<float, kPanelCols>;
inline constexpr size_t kPanelLanes = hn::MaxLanes(PanelTag());
inline constexpr size_t kPanelVecs = kPanelCols / kPanelLanes;
template <size_t MR>
using PanelAcc = hn::Vec<PanelTag>[MR][kPanelVecs];

template <size_t MR>
HWY_INLINE void ZeroPanelAcc(PanelAcc<MR>& acc) {
  for (size_t i = 0; i < MR; ++i)
    for (size_t v = 0; v < kPanelVecs; ++v) acc[i][v] = hn::Zero(PanelTag());
}

// One outer-product step: acc[i] += x(i) * the panel row at wp, for each of
// the MR rows (a broadcast of x(i) times the row's kPanelVecs vectors).
template <size_t MR, class XFn>
HWY_INLINE void PanelFma(const float* HWY_RESTRICT wp, const XFn& x, PanelAcc<MR>& acc) {
  const PanelTag d;
  hn::Vec<PanelTag> wv[kPanelVecs];
  for (size_t v = 0; v < kPanelVecs; ++v) wv[v] = hn::Load(d, wp + v * kPanelLanes);
  for (size_t i = 0; i < MR; ++i) {
    const auto xb = hn::Set(d, x(i));
    for (size_t v = 0; v < kPanelVecs; ++v) acc[i][v] = hn::MulAdd(xb, wv[v], acc[i][v]);
  }
}

// Adds bias[n0 ..] (null: none) to MR rows of one panel's accumulators and
// stores them at y + i * ldy + n0, dropping the columns at and past n.
template <class D, size_t MR, size_t kV>
HWY_INLINE void StorePanelRows(D d, const hn::Vec<D> (&acc)[MR][kV], const float* bias, size_t n,
                               size_t n0, float* y, size_t ldy) {
  constexpr size_t kLanes = hn::MaxLanes(D());
  const size_t cols = HWY_MIN(kPanelCols, n - n0);
  HWY_ALIGN float b[kPanelCols] = {};
  if (bias != nullptr)
    for (size_t c = 0; c < cols; ++c) b[c] = bias[n0 + c];
  for (size_t i = 0; i < MR; ++i) {
    float* yr = y + i * ldy + n0;
    if (cols == kPanelCols) {
      for (size_t v = 0; v < kV; ++v)
        hn::StoreU(hn::Add(acc[i][v], hn::Load(d, b + v * kLanes)), d, yr + v * kLanes);
    } else {
      HWY_ALIGN float tmp[kPanelCols];
      for (size_t v = 0; v < kV; ++v)
        hn::Store(hn::Add(acc[i][v], hn::Load(d, b + v * kLanes)), d, tmp + v * kLanes);
      for (size_t c = 0; c < cols; ++c) yr[c] = tmp[c];
    }
  }
}

// Outer-product block: MR rows x NP adjacent 16-column panels from p; per
// k, each panel's 16 weights (kPanelVecs vectors) times a broadcast of each
// row's x[k]. With one vector per panel row (512-bit targets) one panel gives
// only MR independent FMA chains, too few to cover the FMA latency, so those
// targets take panels in pairs. Every output keeps its own chain over k in
// order: the pairing changes no bits.
// kPrefetch: the panels are used by this one row block only (decoder steps:
// a few rows per call), so the loads wait on memory, and a panel of K = 64
// is one 4 KiB page, where hardware prefetchers stop; each k step then asks
// for the same line of the next NP panels (adjacent in memory; prefetches
// past the end do not fault).
template <size_t MR, size_t NP, bool kPrefetch = false>
HWY_INLINE void PanelBlock(const PanelJob& j, size_t m, size_t p) {
  const DensePanels& w = *j.w;
  const float* wp[NP];
  for (size_t q = 0; q < NP; ++q) wp[q] = w.panel(p + q);
  const float* xr[MR];
  for (size_t i = 0; i < MR; ++i) xr[i] = j.x + (m + i) * j.lda;
  PanelAcc<MR> acc[NP];
  for (size_t q = 0; q < NP; ++q) ZeroPanelAcc<MR>(acc[q]);
  const size_t ahead = NP * w.k * kPanelCols;
  for (size_t k = 0; k < w.k; ++k) {
    const auto x = [&](size_t i) { return xr[i][k]; };
    for (size_t q = 0; q < NP; ++q) {
      if constexpr (kPrefetch) hwy::Prefetch(wp[q] + ahead + k * kPanelCols);
      PanelFma<MR>(wp[q] + k * kPanelCols, x, acc[q]);
    }
  }
  for (size_t q = 0; q < NP; ++q)
    StorePanelRows(PanelTag(), acc[q], j.bias, w.n, (p + q) * kPanelCols, j.y + m * j.ldy, j.ldy);
}

// Rows [m0, m1) of panels [p, p + NP), 6 rows at a time; a single row
// block prefetches the next panels (PanelBlock).
template <size_t NP>
HWY_INLINE void PanelRows(const PanelJob& j, size_t m0, size_t m1, size_t p) {
  if (m1 - m0 <= 6) {
    ForRowBlocks<6>(m0, m1, [&]<size_t MR>(size_t m) { PanelBlock<MR, NP, true>(j, m, p); });
    return;
  }
  ForRowBlocks<6>(m0, m1, [&]<size_t MR>(size_t m) { PanelBlock<MR, NP>(j, m, p); });
}

// Panels in the outer loop: one panel (16 x K floats; two on 512-bit
// targets) stays in L1/L2 while the task's rows stream past it, 6 at a time.
void PanelTiles(const PanelJob& j, size_t m0, size_t m1, size_t p0, size_t p1) {
  size_t p = p0;
  if constexpr (kPanelVecs == 1) {
    for (; p + 2 <= p1; p += 2) PanelRows<2>(j, m0, m1, p);
  }
  for (; p < p1; ++p) PanelRows<1>(j, m0, m1, p);
}

}  // namespace qasr::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
