// Compiles the dense fp32 GEMM once per SIMD target (Highway foreach_target)
// and exposes one DenseKernels table per target.
#include "kernels/dense/dense_gemm.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/dense/dense_kernels.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "kernels/dense/attend-inl.h"
#include "kernels/dense/conv-inl.h"
#include "kernels/dense/dense-inl.h"
#include "kernels/dense/norm-inl.h"
#include "kernels/dense/softmax-inl.h"

HWY_BEFORE_NAMESPACE();
namespace qasr::kernels::HWY_NAMESPACE {

const DenseKernels* GetDenseKernels() {
  static const DenseKernels kTable = {
      HWY_TARGET,  hwy::TargetName(HWY_TARGET), &DenseTiles,          &PanelTiles,     &SoftmaxRow,
      &Conv1Tiles, &LayerNormRowsKernel,        &LayerNormFreqKernel, &AttendRowKernel};
  return &kTable;
}

}  // namespace qasr::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/dispatch_tables.h"

namespace qasr::kernels {
HWY_EXPORT(GetDenseKernels);

const DenseKernels& ChosenDenseKernels() { return *HWY_DYNAMIC_DISPATCH(GetDenseKernels)(); }

std::vector<const DenseKernels*> SupportedDenseKernels() {
  return SupportedTables<DenseKernels>(HWY_DISPATCH_TABLE(GetDenseKernels));
}

}  // namespace qasr::kernels
#endif  // HWY_ONCE
