#include "kernels/dispatch.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/dispatch.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace qasr::kernels::HWY_NAMESPACE {
// Returns the target this copy of the code was compiled for.
int64_t CompiledTarget() { return HWY_TARGET; }
}  // namespace qasr::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <hwy/targets.h>

namespace qasr::kernels {
HWY_EXPORT(CompiledTarget);

TargetReport DescribeTargets() {
  TargetReport report;
  report.chosen = hwy::TargetName(HWY_DYNAMIC_DISPATCH(CompiledTarget)());
  const int64_t supported = hwy::SupportedTargets();
  for (int64_t bit = 1; bit != 0 && bit <= HWY_SCALAR; bit <<= 1) {
    if ((HWY_TARGETS & bit) == 0) continue;
    report.compiled.emplace_back(hwy::TargetName(bit));
    if ((supported & bit) != 0) report.supported.emplace_back(hwy::TargetName(bit));
  }
  return report;
}

}  // namespace qasr::kernels
#endif  // HWY_ONCE
