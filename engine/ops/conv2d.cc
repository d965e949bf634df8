#include "engine/ops/conv2d.h"

#include <algorithm>
#include <cstring>

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
  // Patches for a chunk of frames at a time: bounded scratch (~1 MiB) for any length.
  const size_t chunk = std::max<size_t>(1, (size_t{1} << 18) / (freq * cols));
  const size_t rows_max = std::min(chunk, time) * freq;
  if (scratch.patches.size() < rows_max * cols) scratch.patches.resize(rows_max * cols);
  for (size_t t0 = 0; t0 < time; t0 += chunk) {
    const size_t t1 = std::min(time, t0 + chunk);
    float* p = scratch.patches.data();
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
    QASR_RETURN_IF_ERROR(Linear(ctx, w, scratch.patches.data(), cols, (t1 - t0) * freq,
                                y + t0 * freq * s.out_channels, s.out_channels, scratch.linear));
  }
  return Status::Ok();
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

}  // namespace qasr::engine
