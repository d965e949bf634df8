#include "kernels/gemm/gemm.h"

#include <algorithm>
#include <string>

namespace qasr::kernels {

namespace {

// Cache blocking: a task covers up to kRowBlock activation rows (their codes
// for one K block, <= 288 KiB, stay in L2) times kTileBlock weight tiles; each
// tile's codes are unpacked once per task and K block and reused from L1 by
// every row block of the task (288 rows: 48 blocks of the VNNI panel kernel's
// 6 rows, 72 of the AVX2 kernel's 4). On the Zen 3 (512 KiB L2) 96 rows
// measured 0-7 % faster than 64; on the Zen 5 (1 MiB L2) 288 rows measured
// 2-9 % faster than 96 at M >= 256 (fewer unpacks per weight), 1 and 2
// threads, and the paper w2 60 s encoder 1.98 -> 1.93 s.
constexpr size_t kRowBlock = 288;
constexpr size_t kTileBlock = 16;

struct Partition {
  size_t row_block, tile_block, row_tasks, tile_tasks;
  size_t tasks() const { return row_tasks * tile_tasks; }
};

Partition Split(size_t rows, size_t tiles, ThreadPool* pool) {
  const size_t threads = pool ? pool->num_threads() : 1;
  Partition p;
  p.row_block = rows <= 16 ? rows : kRowBlock;
  p.row_tasks = (rows + p.row_block - 1) / p.row_block;
  if (p.row_tasks >= 2 * threads) {
    p.tile_block = kTileBlock;
  } else {  // few row blocks (decoder GEMV): split the weights finely
    const size_t want = 4 * threads;
    p.tile_block = std::max<size_t>(1, std::min(kTileBlock, tiles / want));
  }
  p.tile_tasks = (tiles + p.tile_block - 1) / p.tile_block;
  return p;
}

template <class Fn>
void RunTiles(size_t rows, size_t tiles, ThreadPool* pool, const Fn& fn) {
  const Partition p = Split(rows, tiles, pool);
  auto task = [&](size_t i) {
    const size_t rb = i / p.tile_tasks, tb = i % p.tile_tasks;
    const size_t m0 = rb * p.row_block, t0 = tb * p.tile_block;
    fn(m0, std::min(rows, m0 + p.row_block), t0, std::min(tiles, t0 + p.tile_block));
  };
  ParallelFor(pool, p.tasks(), task);
}

Status CheckA8(const QuantizedActivations& x, const PackedWeightsView& w) {
  const WeightLayout& l = w.layout();
  if (w.data() == nullptr) return InvalidArgument("weights not set");
  if (x.rows == 0 || x.codes == nullptr) return InvalidArgument("activations not quantized");
  if (x.cols != l.shape.cols || x.padded_cols != l.padded_cols || x.groups != l.groups ||
      x.group_cols != l.group_cols)
    return InvalidArgument("activations quantized for " + std::to_string(x.cols) +
                           " columns / group " + std::to_string(x.group_cols) + ", weights have " +
                           std::to_string(l.shape.cols) + " / " + std::to_string(l.group_cols));
  return Status::Ok();
}

Status CheckOutput(const float* y, size_t ldy, const WeightLayout& l) {
  if (y == nullptr) return InvalidArgument("null output");
  if (ldy < l.shape.rows)
    return InvalidArgument("output stride " + std::to_string(ldy) + " < N " +
                           std::to_string(l.shape.rows));
  return Status::Ok();
}

}  // namespace

Status QuantizeActivations(const GemmKernels& k, const float* x, size_t lda, size_t rows,
                           const WeightLayout& w, QuantizedActivations& out, ThreadPool* pool) {
  if (x == nullptr) return InvalidArgument("null activations");
  if (lda < w.shape.cols) return InvalidArgument("activation stride < K");
  QASR_RETURN_IF_ERROR(out.Reshape(rows, w));
  const size_t per_task = 16;
  const size_t tasks = (rows + per_task - 1) / per_task;
  auto task = [&](size_t i) {
    k.quantize(x, lda, i * per_task, std::min(rows, (i + 1) * per_task), out);
  };
  ParallelFor(pool, tasks, task);
  return Status::Ok();
}

Status QuantizeConvPatches(const GemmKernels& k, const float* x, size_t time, size_t freq,
                           size_t cin, size_t kernel, size_t t0, size_t t1, const WeightLayout& w,
                           QuantizedActivations& out, std::vector<float>& scratch) {
  if (x == nullptr) return InvalidArgument("null activations");
  if (kernel == 0 || kernel % 2 == 0 || cin == 0 || freq == 0 || t0 >= t1 || t1 > time)
    return InvalidArgument("bad convolution patch shape");
  if (w.shape.cols != kernel * kernel * cin || w.groups != 1)
    return InvalidArgument("patch quantization needs whole-row groups of k * k * cin columns");
  QASR_RETURN_IF_ERROR(out.Reshape((t1 - t0) * freq, w));
  // PatchJob::pixel_amax: a zero row and the frames the patches touch,
  // zero-padded, then (see QuantizePatches) slack and one frame's scales.
  const size_t frames = t1 - t0 + kernel - 1;
  const size_t need = (frames + 2) * (freq + kernel + 16) + 16;
  if (scratch.size() < need) scratch.resize(need);
  const PatchJob job{x, time, freq, cin, kernel, scratch.data()};
  k.quantize_patches(job, t0, t1, out);
  return Status::Ok();
}

Status FakeQuantizeActivations(const GemmKernels& k, const float* x, size_t lda, size_t rows,
                               size_t cols, float* y, size_t ldy, ThreadPool* pool) {
  if (x == nullptr || y == nullptr) return InvalidArgument("null activations");
  if (cols == 0 || cols > kMaxDim || rows > kMaxDim)
    return OutOfRange("activation shape out of range");
  if (lda < cols || ldy < cols) return InvalidArgument("activation stride < K");
  // ~64 KiB of input per task.
  const size_t per_task = std::max<size_t>(1, (size_t{1} << 14) / cols);
  const size_t tasks = (rows + per_task - 1) / per_task;
  auto task = [&](size_t i) {
    k.fake_quantize(x, lda, i * per_task, std::min(rows, (i + 1) * per_task), cols, y, ldy);
  };
  ParallelFor(pool, tasks, task);
  return Status::Ok();
}

Status GemmA8(const GemmKernels& k, const QuantizedActivations& x, const PackedWeightsView& w,
              const float* bias, float* y, size_t ldy, ThreadPool* pool) {
  QASR_RETURN_IF_ERROR(CheckA8(x, w));
  QASR_RETURN_IF_ERROR(CheckOutput(y, ldy, w.layout()));
  const A8TileFn fn = k.a8[FormatIndex(w.layout().shape.bits)];
  const A8Job job{&x, w, bias, y, ldy, nullptr};
  RunTiles(x.rows, w.layout().tiles, pool,
           [&](size_t m0, size_t m1, size_t t0, size_t t1) { fn(job, m0, m1, t0, t1); });
  return Status::Ok();
}

Status GemmA8GroupDots(const GemmKernels& k, const QuantizedActivations& x,
                       const PackedWeightsView& w, int32_t* dots, ThreadPool* pool) {
  QASR_RETURN_IF_ERROR(CheckA8(x, w));
  if (dots == nullptr) return InvalidArgument("null dots");
  const A8TileFn fn = k.a8[FormatIndex(w.layout().shape.bits)];
  const A8Job job{&x, w, nullptr, nullptr, 0, dots};
  RunTiles(x.rows, w.layout().tiles, pool,
           [&](size_t m0, size_t m1, size_t t0, size_t t1) { fn(job, m0, m1, t0, t1); });
  return Status::Ok();
}

Status GemmF32(const GemmKernels& k, const float* x, size_t lda, size_t rows,
               const PackedWeightsView& w, const float* bias, float* y, size_t ldy,
               ThreadPool* pool) {
  const WeightLayout& l = w.layout();
  if (w.data() == nullptr) return InvalidArgument("weights not set");
  if (x == nullptr || rows == 0) return InvalidArgument("no activations");
  if (lda < l.shape.cols) return InvalidArgument("activation stride < K");
  QASR_RETURN_IF_ERROR(CheckOutput(y, ldy, l));
  const F32TileFn fn = k.f32[FormatIndex(l.shape.bits)];
  const F32Job job{x, lda, w, bias, y, ldy};
  RunTiles(rows, l.tiles, pool,
           [&](size_t m0, size_t m1, size_t t0, size_t t1) { fn(job, m0, m1, t0, t1); });
  return Status::Ok();
}

}  // namespace qasr::kernels
