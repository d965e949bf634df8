// Compiles the GEMM kernels once per SIMD target (Highway foreach_target) and
// exposes one GemmKernels table per target.
#include "kernels/gemm/gemm_table.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/gemm/gemm_kernels.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "kernels/gemm/a8-inl.h"
#include "kernels/gemm/f32-inl.h"
#include "kernels/gemm/quantize-inl.h"

HWY_BEFORE_NAMESPACE();
namespace qasr::kernels::HWY_NAMESPACE {

const GemmKernels* GetGemmKernels() {
  static const GemmKernels kTable = {
      HWY_TARGET,
      hwy::TargetName(HWY_TARGET),
#define QASR_A8_ENTRY(name, bits) &A8TilesEntry<bits>,
      {QASR_WEIGHT_FORMATS(QASR_A8_ENTRY)},
#undef QASR_A8_ENTRY
#define QASR_F32_ENTRY(name, bits) &F32Tiles<bits>,
      {QASR_WEIGHT_FORMATS(QASR_F32_ENTRY)},
#undef QASR_F32_ENTRY
      &QuantizeRows,
      &FakeQuantizeRows,
      &QuantizePatches,
  };
  return &kTable;
}

}  // namespace qasr::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/dispatch_tables.h"

namespace qasr::kernels {
HWY_EXPORT(GetGemmKernels);

const GemmKernels& ChosenGemmKernels() { return *HWY_DYNAMIC_DISPATCH(GetGemmKernels)(); }

std::vector<const GemmKernels*> SupportedGemmKernels() {
  return SupportedTables<GemmKernels>(HWY_DISPATCH_TABLE(GetGemmKernels));
}

}  // namespace qasr::kernels
#endif  // HWY_ONCE
