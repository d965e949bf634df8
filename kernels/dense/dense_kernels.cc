// Compiles the dense fp32 GEMM once per SIMD target (Highway foreach_target)
// and exposes one DenseKernels table per target.
#include "kernels/dense/dense_gemm.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/dense/dense_kernels.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "kernels/dense/dense-inl.h"
#include "kernels/dense/softmax-inl.h"

HWY_BEFORE_NAMESPACE();
namespace qasr::kernels::HWY_NAMESPACE {

const DenseKernels* GetDenseKernels() {
  static const DenseKernels kTable = {HWY_TARGET, hwy::TargetName(HWY_TARGET), &DenseTiles,
                                      &PanelTiles, &SoftmaxRow};
  return &kTable;
}

}  // namespace qasr::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <hwy/targets.h>

namespace qasr::kernels {
HWY_EXPORT(GetDenseKernels);

const DenseKernels& ChosenDenseKernels() { return *HWY_DYNAMIC_DISPATCH(GetDenseKernels)(); }

std::vector<const DenseKernels*> SupportedDenseKernels() {
  std::vector<const DenseKernels*> out;
  const int64_t supported = hwy::SupportedTargets();
  for (int64_t bit = 1; bit != 0 && bit <= HWY_SCALAR; bit <<= 1) {
    if ((HWY_TARGETS & bit) == 0 || (supported & bit) == 0) continue;
    const int64_t mask = (HWY_CHOSEN_TARGET_SHIFT(bit) | HWY_CHOSEN_TARGET_MASK_SCALAR) &
                         HWY_CHOSEN_TARGET_MASK_TARGETS;
    const size_t index = hwy::Num0BitsBelowLS1Bit_Nonzero64(static_cast<uint64_t>(mask));
    const DenseKernels* table = HWY_DISPATCH_TABLE(GetDenseKernels)[index]();
    if (table != nullptr && table->target == bit) out.push_back(table);
  }
  return out;
}

}  // namespace qasr::kernels
#endif  // HWY_ONCE
