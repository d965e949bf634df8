#include "kernels/dense/dense_gemm.h"

#include <algorithm>
#include <string>

namespace qasr::kernels {

namespace {

// A task covers up to kRowBlock rows of x (kept in L2) times a block of
// outputs; decoder-sized M (a few beams) splits the outputs finely instead.
constexpr size_t kRowBlock = 64;
constexpr size_t kColBlock = 64;

}  // namespace

Status DenseGemm(const DenseKernels& kernels, const float* x, size_t lda, size_t m, const float* w,
                 size_t ldw, size_t n, size_t k, const float* bias, float* y, size_t ldy,
                 ThreadPool* pool) {
  if (m == 0 || n == 0) return Status::Ok();
  if (x == nullptr || w == nullptr || y == nullptr) return InvalidArgument("dense gemm: null data");
  if (lda < k || ldw < k || ldy < n)
    return InvalidArgument("dense gemm: stride too small (lda " + std::to_string(lda) + ", ldw " +
                           std::to_string(ldw) + ", ldy " + std::to_string(ldy) + ")");
  const DenseJob job{x, lda, w, ldw, bias, y, ldy, k};
  const size_t threads = pool ? pool->num_threads() : 1;
  const size_t row_block = m <= 16 ? m : kRowBlock;
  const size_t row_tasks = (m + row_block - 1) / row_block;
  size_t col_block = kColBlock;
  if (row_tasks < 2 * threads) {
    const size_t want = 4 * threads;
    col_block = std::max<size_t>(2, (n / want + 1) & ~size_t{1});
  }
  const size_t col_tasks = (n + col_block - 1) / col_block;
  auto task = [&](size_t i) {
    const size_t rb = i / col_tasks, cb = i % col_tasks;
    const size_t m0 = rb * row_block, n0 = cb * col_block;
    kernels.tile(job, m0, std::min(m, m0 + row_block), n0, std::min(n, n0 + col_block));
  };
  const size_t tasks = row_tasks * col_tasks;
  if (pool == nullptr || threads == 1 || tasks == 1) {
    for (size_t i = 0; i < tasks; ++i) task(i);
  } else {
    pool->ParallelFor(tasks, task);
  }
  return Status::Ok();
}

}  // namespace qasr::kernels
