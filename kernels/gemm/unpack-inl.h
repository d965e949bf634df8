// Portable code extraction from a packed superblock: one 32-bit lane per
// weight row (lane r holds the 4 bytes r*4 .. r*4+3 of a 32-byte chunk), so
// a column's codes for Lanes(d) rows come out with one shift and one mask.
// Works on every Highway target, including SCALAR (1 lane) and SVE.
#if defined(QASR_KERNELS_GEMM_UNPACK_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QASR_KERNELS_GEMM_UNPACK_INL_H_
#undef QASR_KERNELS_GEMM_UNPACK_INL_H_
#else
#define QASR_KERNELS_GEMM_UNPACK_INL_H_
#endif

#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace qasr::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Calls fn(k, codes) for the 32 columns k of superblock `sb` in increasing
// order; codes are int32 lanes for tile rows [r0, r0 + Lanes(di)).
template <int kBits, class DI, class Fn>
HWY_INLINE void ForEachCode(DI di, const uint8_t* sb, size_t r0, const Fn& fn) {
  const hn::RebindToUnsigned<DI> du;
  constexpr int kPlaneBits = kBits == 3 ? 2 : kBits;
  constexpr size_t kPerByte = 8 / kPlaneBits;
  const auto mask = hn::Set(du, (1u << kPlaneBits) - 1u);
  const auto one = hn::Set(du, 1u);
  const auto* lanes = reinterpret_cast<const uint32_t*>(sb + 4 * r0);
  [[maybe_unused]] hn::Vec<decltype(du)> high;
  if constexpr (kBits == 3) high = hn::LoadU(du, lanes + 16);  // 1-bit plane at byte 64
  for (size_t chunk = 0; chunk < 8 / kPerByte; ++chunk) {
    const auto packed = hn::LoadU(du, lanes + 8 * chunk);
    for (size_t j = 0; j < kPerByte; ++j) {
      const size_t kb = chunk * kPerByte + j;
      for (size_t kk = 0; kk < 4; ++kk) {
        const int shift = static_cast<int>(8 * kk + kPlaneBits * j);
        auto q = hn::And(hn::ShiftRightSame(packed, shift), mask);
        if constexpr (kBits == 3) {
          const auto bit = hn::And(hn::ShiftRightSame(high, static_cast<int>(8 * kk + kb)), one);
          q = hn::Or(q, hn::ShiftLeft<2>(bit));
        }
        fn(4 * kb + kk, hn::BitCast(di, q));
      }
    }
  }
}

}  // namespace qasr::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
