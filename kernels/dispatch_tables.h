// The per-target tables of a Highway HWY_EXPORT'ed getter that this CPU can
// run, best first as compiled: what tests and benchmarks iterate over. Include
// only inside a `#if HWY_ONCE` section (it reads the compiled HWY_TARGETS).
#pragma once

#include <hwy/targets.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace qasr::kernels {

// `dispatch` is HWY_DISPATCH_TABLE(getter); each table has a `target` field.
template <class Table>
std::vector<const Table*> SupportedTables(const Table* (*const* dispatch)()) {
  std::vector<const Table*> out;
  const int64_t supported = hwy::SupportedTargets();
  for (int64_t bit = 1; bit != 0 && bit <= HWY_SCALAR; bit <<= 1) {
    if ((HWY_TARGETS & bit) == 0 || (supported & bit) == 0) continue;
    // The entry HWY_DYNAMIC_DISPATCH would pick if `bit` were the best target.
    const int64_t mask = (HWY_CHOSEN_TARGET_SHIFT(bit) | HWY_CHOSEN_TARGET_MASK_SCALAR) &
                         HWY_CHOSEN_TARGET_MASK_TARGETS;
    const size_t index = hwy::Num0BitsBelowLS1Bit_Nonzero64(static_cast<uint64_t>(mask));
    const Table* table = dispatch[index]();
    if (table != nullptr && table->target == bit) out.push_back(table);
  }
  return out;
}

}  // namespace qasr::kernels
