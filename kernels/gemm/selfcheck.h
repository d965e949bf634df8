// Quick kernel-vs-reference check of one kernel table on small shapes
// (every weight format, a few group sizes, tails in M/N/K): exact group dots
// and activation codes, fp32 outputs within the documented bound. Runs in
// milliseconds; used by `asr-cli selfcheck`. Thread-safety: reentrant.
#pragma once

#include "kernels/base/status.h"
#include "kernels/gemm/gemm_table.h"

namespace qasr::kernels {

// Ok, or a status naming the first mismatching format and shape.
Status SelfCheckKernels(const GemmKernels& k);

}  // namespace qasr::kernels
