#include "kernels/dense/dense_gemm.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

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
  ParallelFor(pool, tasks, task);
  return Status::Ok();
}

Status ResizePanels(size_t n, size_t k, DensePanels& out) {
  if (n == 0 || k == 0) return InvalidArgument("pack panels: empty matrix");
  const size_t panels = (n + kPanelCols - 1) / kPanelCols, need = panels * k * kPanelCols;
  if (need > out.capacity) {
    out.data = hwy::AllocateAligned<float>(need);
    if (!out.data) return Status(StatusCode::kResourceExhausted, "pack panels");
    out.capacity = need;
  }
  out.n = n;
  out.k = k;
  out.panels = panels;
  return Status::Ok();
}

Status PackPanelRows(const float* w, size_t ldw, size_t n, size_t k, bool transposed, size_t r0,
                     size_t r1, DensePanels& out) {
  if (w == nullptr || out.data == nullptr) return InvalidArgument("pack panel rows: null data");
  if (out.n != n || out.k != k) return InvalidArgument("pack panel rows: panels sized otherwise");
  if (ldw < (transposed ? n : k)) return InvalidArgument("pack panel rows: stride too small");
  const size_t rows = transposed ? k : n;
  if (r0 > r1 || r1 > rows) return InvalidArgument("pack panel rows: rows out of range");
  if (!transposed && (r0 % kPanelCols != 0 || (r1 % kPanelCols != 0 && r1 != n)))
    return InvalidArgument("pack panel rows: rows not on panel boundaries");
  if (!transposed) {  // rows are outputs: whole panels
    for (size_t n0 = r0; n0 < r1; n0 += kPanelCols) {
      float* dst = out.data.get() + n0 / kPanelCols * k * kPanelCols;
      const size_t cols = std::min(kPanelCols, n - n0);
      for (size_t kk = 0; kk < k; ++kk, dst += kPanelCols) {
        for (size_t c = 0; c < cols; ++c) dst[c] = w[(n0 - r0 + c) * ldw + kk];
        for (size_t c = cols; c < kPanelCols; ++c) dst[c] = 0.0f;
      }
    }
    return Status::Ok();
  }
  for (size_t p = 0; p < out.panels; ++p) {  // rows are k steps of every panel
    const size_t n0 = p * kPanelCols, cols = std::min(kPanelCols, n - n0);
    float* dst = out.data.get() + (p * k + r0) * kPanelCols;
    for (size_t kk = r0; kk < r1; ++kk, dst += kPanelCols) {
      for (size_t c = 0; c < cols; ++c) dst[c] = w[(kk - r0) * ldw + n0 + c];
      for (size_t c = cols; c < kPanelCols; ++c) dst[c] = 0.0f;
    }
  }
  return Status::Ok();
}

Status PackPanels(const float* w, size_t ldw, size_t n, size_t k, bool transposed, DensePanels& out,
                  ThreadPool* pool) {
  if (n == 0 || k == 0) return InvalidArgument("pack panels: empty matrix");
  if (w == nullptr) return InvalidArgument("pack panels: null weights");
  if (ldw < (transposed ? n : k)) return InvalidArgument("pack panels: stride too small");
  QASR_RETURN_IF_ERROR(ResizePanels(n, k, out));
  // Blocks of source rows (whole panels for W as [N][K], k steps of every
  // panel for [K][N]), at least ~64 KiB of panels per task.
  const size_t rows = transposed ? k : n;
  const size_t row_floats = transposed ? out.panels * kPanelCols : k;
  size_t block = std::max<size_t>(1, (size_t{1} << 14) / row_floats);
  if (!transposed) block = (block + kPanelCols - 1) / kPanelCols * kPanelCols;
  const size_t tasks = (rows + block - 1) / block;
  std::vector<Status> status(tasks);
  ParallelFor(pool, tasks, [&](size_t t) {
    const size_t r0 = t * block, r1 = std::min(rows, r0 + block);
    status[t] = PackPanelRows(w + r0 * ldw, ldw, n, k, transposed, r0, r1, out);
  });
  for (Status& st : status)
    if (!st.ok()) return std::move(st);
  return Status::Ok();
}

Status DenseGemmPanels(const DenseKernels& kernels, const float* x, size_t lda, size_t m,
                       const DensePanels& w, const float* bias, float* y, size_t ldy,
                       ThreadPool* pool) {
  if (m == 0) return Status::Ok();
  if (x == nullptr || y == nullptr || w.data == nullptr)
    return InvalidArgument("dense gemm: null data");
  if (lda < w.k || ldy < w.n) return InvalidArgument("dense gemm: stride too small");
  const PanelJob job{x, lda, &w, bias, y, ldy};
  const size_t threads = pool ? pool->num_threads() : 1;
  // Row blocks of 48 (8 microkernel blocks) x 4 panels (64 outputs); small M
  // (decoder steps, attention blocks) splits the panels across threads
  // instead, in even counts (512-bit kernels take panels in pairs), and on
  // one thread leaves them to one call.
  const size_t row_block = m <= 16 ? m : 48;
  const size_t row_tasks = (m + row_block - 1) / row_block;
  size_t panel_block = 4;
  if (row_tasks < 2 * threads) {
    panel_block =
        threads == 1 ? w.panels : (std::max<size_t>(2, w.panels / (4 * threads)) + 1) / 2 * 2;
  }
  const size_t panel_tasks = (w.panels + panel_block - 1) / panel_block;
  const size_t tasks = row_tasks * panel_tasks;
  auto task = [&](size_t i) {
    const size_t rb = i / panel_tasks, pb = i % panel_tasks;
    const size_t m0 = rb * row_block, p0 = pb * panel_block;
    kernels.panel_tile(job, m0, std::min(m, m0 + row_block), p0,
                       std::min(w.panels, p0 + panel_block));
  };
  ParallelFor(pool, tasks, task);
  return Status::Ok();
}

Status Conv3x3OneChannel(const DenseKernels& kernels, const float* x, size_t time, size_t freq,
                         const DensePanels& w, const float* bias, float* y, size_t t0, size_t t1,
                         std::span<float> pad) {
  if (x == nullptr || y == nullptr || !w.data) return InvalidArgument("conv 1ch: null data");
  if (w.k != 9) return InvalidArgument("conv 1ch: weights need K = 9, got " + std::to_string(w.k));
  if (t0 > t1 || t1 > time) return InvalidArgument("conv 1ch: frame range out of bounds");
  if (freq == 0 || pad.size() < 3 * (freq + 2))
    return InvalidArgument("conv 1ch: scratch too small");
  const Conv1Job job{x, time, freq, &w, bias, y, pad.data()};
  kernels.conv3x3_1ch(job, t0, t1);
  return Status::Ok();
}

}  // namespace qasr::kernels
