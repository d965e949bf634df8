// Coarse-grained parallel loops for the ops, on the context's one thread
// pool (inline on the calling thread without one). Each item's result must
// not depend on which thread runs it or on how the items are grouped; the ops
// that use these keep every output element computed by one call in one order,
// so 1 and N threads give identical bits.
// Thread-safety: like OpContext, one caller at a time.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <mutex>
#include <utility>
#include <vector>

#include "engine/ops/context.h"
#include "kernels/base/status.h"

namespace qasr::engine {

// Below this many floats of work a range is not worth waking a thread for.
inline constexpr size_t kParallelGrainFloats = size_t{1} << 13;

inline size_t NumThreads(const OpContext& ctx) {
  return ctx.pool != nullptr ? ctx.pool->num_threads() : 1;
}

// The same context without the pool: for work inside a parallel item.
inline OpContext SingleThreaded(const OpContext& ctx) {
  OpContext single = ctx;
  single.pool = nullptr;
  return single;
}

// fn(begin, end) over contiguous ranges covering [0, n), each at least
// `grain` items (about four ranges per thread).
template <class F>
void ParallelRanges(const OpContext& ctx, size_t n, size_t grain, const F& fn) {
  const size_t threads = NumThreads(ctx);
  grain = std::max<size_t>(grain, 1);
  if (threads == 1 || n <= grain) {
    if (n > 0) fn(size_t{0}, n);
    return;
  }
  const size_t ranges = std::min(threads * 4, (n + grain - 1) / grain);
  const size_t step = (n + ranges - 1) / ranges;
  ctx.pool->ParallelFor((n + step - 1) / step,
                        [&](size_t r) { fn(r * step, std::min(n, (r + 1) * step)); });
}

// fn(slot, item) for every item in [0, items): one worker per thread (slot <
// NumThreads(ctx)) takes items from a shared counter, so per-slot scratch can
// be indexed by `slot`. Returns the first error (by item order) if any.
template <class F>
Status ParallelSlots(const OpContext& ctx, size_t items, const F& fn) {
  const size_t slots = std::min(NumThreads(ctx), items);
  if (slots <= 1) {
    for (size_t i = 0; i < items; ++i) QASR_RETURN_IF_ERROR(fn(size_t{0}, i));
    return Status::Ok();
  }
  std::atomic<size_t> next{0};
  std::mutex mu;
  size_t first_bad = items;  // guarded by mu
  Status error;              // guarded by mu: the error of item first_bad
  ctx.pool->ParallelFor(slots, [&](size_t slot) {
    for (size_t i = next.fetch_add(1); i < items; i = next.fetch_add(1)) {
      Status s = fn(slot, i);
      if (s.ok()) continue;
      const std::lock_guard<std::mutex> lock(mu);
      if (i < first_bad) {
        first_bad = i;
        error = std::move(s);
      }
    }
  });
  return error;
}

// Start of slice i (i <= slices) when [0, n) is split into `slices`
// contiguous ranges of nearly equal size, inner boundaries rounded to
// multiples of `align` (the GEMM microkernels' rows) where n allows.
inline size_t SliceBegin(size_t n, size_t slices, size_t align, size_t i) {
  if (i >= slices) return n;
  align = std::max<size_t>(align, 1);
  const size_t exact = i * n / slices;
  return std::min(n, (exact + align / 2) / align * align);
}

// Number of slices ParallelSlices makes of n items: one per thread, but at
// least min_items per slice.
inline size_t SliceCount(const OpContext& ctx, size_t n, size_t min_items) {
  return std::max<size_t>(1, std::min(NumThreads(ctx), n / std::max<size_t>(min_items, 1)));
}

// fn(slice, begin, end) for `slices` contiguous ranges of [0, n) (see SliceBegin), slice i meant
// for thread i (ThreadPool::ParallelForAffine): a series of calls with the same split keeps each
// range's data in one core's caches. Each fn runs single-threaded (pass SingleThreaded(ctx) to the
// ops inside); without a pool the slices run in order. Returns the first error by slice.
template <class F>
Status ParallelSlices(const OpContext& ctx, size_t n, size_t slices, size_t align, const F& fn) {
  slices = std::max<size_t>(slices, 1);
  std::vector<Status> status(slices);
  const auto run = [&](size_t i) {
    status[i] = fn(i, SliceBegin(n, slices, align, i), SliceBegin(n, slices, align, i + 1));
  };
  if (ctx.pool == nullptr || slices == 1) {
    for (size_t i = 0; i < slices; ++i) run(i);
  } else {
    ctx.pool->ParallelForAffine(slices, run);
  }
  for (Status& s : status)
    if (!s.ok()) return std::move(s);
  return Status::Ok();
}

}  // namespace qasr::engine
