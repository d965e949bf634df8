// Row blocking shared by the SIMD kernels (GEMM tiles, dense fp32 panels):
// a loop over full blocks of kRows rows and one compile-time-sized block for
// the rest, so each block size is its own register-resident instantiation.
// A Highway -inl header: compiled inside every target's namespace, so the
// calls inline into target code.
#if defined(QASR_KERNELS_BASE_ROW_BLOCKS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QASR_KERNELS_BASE_ROW_BLOCKS_INL_H_
#undef QASR_KERNELS_BASE_ROW_BLOCKS_INL_H_
#else
#define QASR_KERNELS_BASE_ROW_BLOCKS_INL_H_
#endif

#include <hwy/highway.h>

#include <cstddef>

HWY_BEFORE_NAMESPACE();
namespace qasr::kernels::HWY_NAMESPACE {

// body.template operator()<R>(m) for the R (1 .. kMax) that equals r.
template <size_t kMax, class Body>
HWY_INLINE void RowTail(size_t m, size_t r, const Body& body) {
  if constexpr (kMax > 0) {
    if (r == kMax) {
      body.template operator()<kMax>(m);
    } else {
      RowTail<kMax - 1>(m, r, body);
    }
  }
}

// Calls body.template operator()<MR>(m) for row blocks of kRows rows, then
// one block of the remaining rows.
template <size_t kRows = 4, class Body>
HWY_INLINE void ForRowBlocks(size_t m0, size_t m1, const Body& body) {
  size_t m = m0;
  for (; m + kRows <= m1; m += kRows) body.template operator()<kRows>(m);
  RowTail<kRows - 1>(m, m1 - m, body);
}

}  // namespace qasr::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
