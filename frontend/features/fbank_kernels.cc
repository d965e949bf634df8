#include "frontend/features/fbank_kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "frontend/features/fbank_kernels.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "frontend/features/fbank_kernels-inl.h"

HWY_BEFORE_NAMESPACE();
namespace qasr::frontend::HWY_NAMESPACE {

const FbankKernels* GetFbankKernels() {
  static const FbankKernels kTable{HWY_TARGET, hwy::TargetName(HWY_TARGET), FbankLanes(),
                                   ComputeFbankFrames};
  return &kTable;
}

}  // namespace qasr::frontend::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/dispatch_tables.h"

namespace qasr::frontend {

HWY_EXPORT(GetFbankKernels);

FbankKernels ChooseFbankKernels() { return *HWY_DYNAMIC_DISPATCH(GetFbankKernels)(); }

std::vector<FbankKernels> SupportedFbankKernels() {
  std::vector<FbankKernels> out;
  for (const FbankKernels* table :
       kernels::SupportedTables<FbankKernels>(HWY_DISPATCH_TABLE(GetFbankKernels))) {
    out.push_back(*table);
  }
  return out;
}

size_t FbankScratchSize(const FbankPlan& plan, size_t lanes) {
  const size_t half = plan.fft_size / 2;
  const size_t simd = (3 * half + 1) * lanes + 3 * kFbankPlanePad + plan.window_size;
  // The scalar reference: FFTW input (N) and output (N + 2), each rounded up
  // to 8 doubles so both keep the buffer's alignment, then the power spectrum.
  const size_t round = (plan.fft_size + 7) / 8 * 8;
  const size_t reference = round + (plan.fft_size + 2 + 7) / 8 * 8 + half + 1;
  return std::max(simd, reference);
}

}  // namespace qasr::frontend
#endif  // HWY_ONCE
