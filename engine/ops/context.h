// What every op needs to run: the kernel tables chosen once for this CPU and
// the one thread pool shared by all ops of a session.
// Thread-safety: a context is used by one thread at a time (the pool is not
// reentrant); the tables are immutable.
#pragma once

#include "kernels/base/thread_pool.h"
#include "kernels/dense/dense_gemm.h"
#include "kernels/gemm/gemm_table.h"

namespace qasr::engine {

struct OpContext {
  const kernels::GemmKernels* gemm = nullptr;
  const kernels::DenseKernels* dense = nullptr;
  kernels::ThreadPool* pool = nullptr;  // may be null: run on the calling thread
};

}  // namespace qasr::engine
