#include "frontend/features/fbank_kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "frontend/features/fbank_kernels.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "frontend/features/fbank_kernels-inl.h"

HWY_BEFORE_NAMESPACE();
namespace qasr::frontend::HWY_NAMESPACE {

FbankKernels GetFbankKernels() {
  return {hwy::TargetName(HWY_TARGET), PrepareFrame, PowerSpectrum, MelLog};
}

}  // namespace qasr::frontend::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace qasr::frontend {

HWY_EXPORT(GetFbankKernels);

FbankKernels ChooseFbankKernels() { return HWY_DYNAMIC_DISPATCH(GetFbankKernels)(); }

}  // namespace qasr::frontend
#endif  // HWY_ONCE
