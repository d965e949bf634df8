#include "engine/ops/conv2d.h"

#include <algorithm>
#include <cstring>

#include "engine/ops/parallel.h"
#include "kernels/gemm/gemm.h"

namespace qasr::engine {

std::vector<float> PermuteConv2dWeight(const float* w, const Conv2dShape& s) {
  const size_t k = s.kernel, cin = s.in_channels, cols = k * k * cin;
  std::vector<float> out(s.out_channels * cols);
  for (size_t o = 0; o < s.out_channels; ++o)
    for (size_t c = 0; c < cin; ++c)
      for (size_t i = 0; i < k; ++i)
        for (size_t j = 0; j < k; ++j)
          out[o * cols + (i * k + j) * cin + c] = w[((o * cin + c) * k + i) * k + j];
  return out;
}

Status Conv2d(const OpContext& ctx, const Conv2dShape& s, const LinearWeights& w, const float* x,
              size_t time, size_t freq, float* y, Conv2dScratch& scratch) {
  const size_t k = s.kernel, pad = k / 2, cin = s.in_channels, cols = k * k * cin;
  // Patches for a chunk of frames at a time: bounded scratch (~1 MiB per
  // thread) for any length, and at least four chunks per thread when the clip
  // allows, one chunk per parallel item. A patch row's GEMM result does not
  // depend on the rows it is batched with, so the chunking changes no bits.
  const size_t threads = NumThreads(ctx);
  size_t chunk = std::max<size_t>(1, (size_t{1} << 18) / (freq * cols));
  if (threads > 1) chunk = std::min(chunk, std::max<size_t>(1, time / (4 * threads)));
  const size_t chunks = (time + chunk - 1) / chunk;
  const size_t rows_max = std::min(chunk, time) * freq;
  const size_t slots = std::min(threads, chunks);
  if (scratch.slots.size() < slots) scratch.slots.resize(slots);
  if (cin == 1 && k == 3 && !w.is_packed && w.act_bits == 0) {
    // One input channel (the first VGG layer): the direct kernel, same bits
    // as the im2col path below without copying 9 single floats per pixel;
    // its only scratch is three zero-padded input frames per thread.
    if (w.panels == nullptr) return InvalidArgument("conv2d: weights not set");
    Result<const kernels::DensePanels*> panels = w.panels->Get();
    if (!panels.ok()) return panels.status();
    for (size_t i = 0; i < slots; ++i) Grow(scratch.slots[i].patches, 3 * (freq + 2));
    return ParallelSlots(ctx, chunks, [&](size_t slot, size_t c) {
      return kernels::Conv3x3OneChannel(*ctx.dense, x, time, freq, **panels, w.bias, y, c * chunk,
                                        std::min(time, (c + 1) * chunk),
                                        scratch.slots[slot].patches);
    });
  }
  if (w.is_packed && w.act_bits == 8 && w.packed.layout().groups == 1) {
    // int8 weights with whole-row groups: the patches are quantized straight
    // from x (kernels::QuantizeConvPatches: the codes im2col + the activation
    // quantizer would give, without writing fp32 patches), then GemmA8.
    return ParallelSlots(ctx, chunks, [&](size_t slot, size_t c) {
      const size_t t0 = c * chunk, t1 = std::min(time, t0 + chunk);
      Conv2dScratch::Slot& mine = scratch.slots[slot];
      QASR_RETURN_IF_ERROR(kernels::QuantizeConvPatches(*ctx.gemm, x, time, freq, cin, k, t0, t1,
                                                        w.packed.layout(), mine.linear.qx,
                                                        mine.pixel_amax));
      return kernels::GemmA8(*ctx.gemm, mine.linear.qx, w.packed, w.bias,
                             y + t0 * freq * s.out_channels, s.out_channels, nullptr);
    });
  }
  for (size_t i = 0; i < slots; ++i) Grow(scratch.slots[i].patches, rows_max * cols);
  const OpContext single = SingleThreaded(ctx);
  return ParallelSlots(ctx, chunks, [&](size_t slot, size_t c) {
    const size_t t0 = c * chunk, t1 = std::min(time, t0 + chunk);
    Conv2dScratch::Slot& mine = scratch.slots[slot];
    float* p = mine.patches.data();
    for (size_t t = t0; t < t1; ++t)
      for (size_t f = 0; f < freq; ++f, p += cols)
        for (size_t i = 0; i < k; ++i) {
          const ptrdiff_t tt = static_cast<ptrdiff_t>(t + i) - static_cast<ptrdiff_t>(pad);
          for (size_t j = 0; j < k; ++j) {
            const ptrdiff_t ff = static_cast<ptrdiff_t>(f + j) - static_cast<ptrdiff_t>(pad);
            float* dst = p + (i * k + j) * cin;
            if (tt < 0 || tt >= static_cast<ptrdiff_t>(time) || ff < 0 ||
                ff >= static_cast<ptrdiff_t>(freq)) {
              std::memset(dst, 0, cin * sizeof(float));
            } else {
              std::memcpy(dst, x + (static_cast<size_t>(tt) * freq + static_cast<size_t>(ff)) * cin,
                          cin * sizeof(float));
            }
          }
        }
    return Linear(single, w, mine.patches.data(), cols, (t1 - t0) * freq,
                  y + t0 * freq * s.out_channels, s.out_channels, mine.linear);
  });
}

void MaxPoolCeil(const float* x, size_t time, size_t freq, size_t channels, size_t pool, float* y) {
  const size_t to = (time + pool - 1) / pool, fo = (freq + pool - 1) / pool;
  for (size_t t = 0; t < to; ++t)
    for (size_t f = 0; f < fo; ++f) {
      float* dst = y + (t * fo + f) * channels;
      bool first = true;
      for (size_t i = t * pool; i < std::min(time, (t + 1) * pool); ++i)
        for (size_t j = f * pool; j < std::min(freq, (f + 1) * pool); ++j) {
          const float* src = x + (i * freq + j) * channels;
          if (first) {
            std::memcpy(dst, src, channels * sizeof(float));
            first = false;
          } else {
            for (size_t c = 0; c < channels; ++c) dst[c] = std::max(dst[c], src[c]);
          }
        }
    }
}

void MaxPoolCeil(const OpContext& ctx, const float* x, size_t time, size_t freq, size_t channels,
                 size_t pool, float* y) {
  const size_t to = (time + pool - 1) / pool, fo = (freq + pool - 1) / pool;
  const size_t grain = std::max<size_t>(1, kParallelGrainFloats / (pool * freq * channels));
  ParallelRanges(ctx, to, grain, [&](size_t o0, size_t o1) {
    const size_t i0 = o0 * pool, i1 = std::min(time, o1 * pool);
    MaxPoolCeil(x + i0 * freq * channels, i1 - i0, freq, channels, pool, y + o0 * fo * channels);
  });
}

}  // namespace qasr::engine
