// Direct 3x3 convolution of a one-channel image (the VGG front end's first
// layer, where im2col copies 9 single floats per pixel to feed a GEMM with
// K = 9). Same arithmetic as im2col + PanelBlock (both use PanelFma): per output, the 9 taps in
// order (i * 3 + j) as fused multiply-adds from zero, padding taps included
// as zeros, then + bias; so the two paths agree bit for bit.
#if defined(QASR_KERNELS_DENSE_CONV_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QASR_KERNELS_DENSE_CONV_INL_H_
#undef QASR_KERNELS_DENSE_CONV_INL_H_
#else
#define QASR_KERNELS_DENSE_CONV_INL_H_
#endif

#include <hwy/highway.h>

#include <cstring>

#include "kernels/dense/dense-inl.h"  // PanelFma, StorePanelRows
#include "kernels/dense/dense_gemm.h"

HWY_BEFORE_NAMESPACE();
namespace qasr::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// MR consecutive pixels of one frame x one 16-channel panel. rows: the three
// input frames t-1, t, t+1, each with one zero on either side.
template <size_t MR>
HWY_INLINE void Conv1Block(const Conv1Job& j, const float* const* rows, size_t t, size_t f,
                           size_t p) {
  const DensePanels& w = *j.w;
  const float* wp = w.panel(p);
  PanelAcc<MR> acc;
  ZeroPanelAcc<MR>(acc);
  for (size_t k = 0; k < 9; ++k, wp += kPanelCols) {
    const float* xr = rows[k / 3] + f + k % 3;  // padded: pixel f, tap column k % 3
    PanelFma<MR>(
        wp, [&](size_t i) { return xr[i]; }, acc);
  }
  StorePanelRows(PanelTag(), acc, j.bias, w.n, p * kPanelCols, j.y + (t * j.freq + f) * w.n, w.n);
}

// Output frames [t0, t1); j.pad holds 3 * (freq + 2) floats of scratch.
void Conv1Tiles(const Conv1Job& j, size_t t0, size_t t1) {
  const size_t freq = j.freq, stride = freq + 2;
  float* rows[3] = {j.pad, j.pad + stride, j.pad + 2 * stride};
  for (size_t t = t0; t < t1; ++t) {
    for (size_t r = 0; r < 3; ++r) {
      const bool inside = t + r >= 1 && t + r - 1 < j.time;
      rows[r][0] = rows[r][freq + 1] = 0.0f;
      if (inside) {
        std::memcpy(rows[r] + 1, j.x + (t + r - 1) * freq, freq * sizeof(float));
      } else {
        std::memset(rows[r] + 1, 0, freq * sizeof(float));
      }
    }
    const float* const cr[3] = {rows[0], rows[1], rows[2]};
    for (size_t p = 0; p < j.w->panels; ++p) {
      size_t f = 0;
      for (; f + 6 <= freq; f += 6) Conv1Block<6>(j, cr, t, f, p);
      for (; f < freq; ++f) Conv1Block<1>(j, cr, t, f, p);
    }
  }
}

}  // namespace qasr::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
