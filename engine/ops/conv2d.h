// The VGG front end's 2-D convolution (stride 1, zero padding kernel/2) as
// im2col + GEMM, and ceil-mode max pooling. Activations are
// [time][freq][channel] (channels last), so GEMM outputs land in place and
// patches are runs of contiguous channels. The weight is therefore permuted
// once at load from PyTorch's (out, in, kh, kw) to [out][(i*kw + j)*in + c]
// (PermuteConv2dWeight); per-row activation quantization does not depend on
// the column order, so fake-quantized convolutions stay exact.
// Thread-safety: functions on caller-owned buffers.
#pragma once

#include <cstddef>
#include <vector>

#include "engine/ops/linear.h"

namespace qasr::engine {

struct Conv2dShape {
  size_t in_channels = 0, out_channels = 0, kernel = 3;
};

// PyTorch (out, in, k, k) -> [out][(i*k + j)*in + c].
std::vector<float> PermuteConv2dWeight(const float* w, const Conv2dShape& shape);

struct Conv2dScratch {
  struct Slot {                     // one per thread
    Scratch patches;                // im2col rows (or one-channel padding)
    std::vector<float> pixel_amax;  // QuantizeConvPatches' per-pixel maxima
    LinearScratch linear;
  };
  std::vector<Slot> slots;
};

// y[t][f][o] = sum over the k x k window of x (zero outside) times W, + bias.
Status Conv2d(const OpContext& ctx, const Conv2dShape& shape, const LinearWeights& w,
              const float* x, size_t time, size_t freq, float* y, Conv2dScratch& scratch);

// Max over non-overlapping pool x pool windows, partial windows at the end
// (ceil_mode): [time][freq][c] -> [ceil(time/pool)][ceil(freq/pool)][c].
void MaxPoolCeil(const float* x, size_t time, size_t freq, size_t channels, size_t pool, float* y);
// The same over ranges of output frames on ctx's thread pool.
void MaxPoolCeil(const OpContext& ctx, const float* x, size_t time, size_t freq, size_t channels,
                 size_t pool, float* y);

}  // namespace qasr::engine
