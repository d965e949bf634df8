// Dynamic per-row int8 quantization of fp32 activations (the "a8" in w4a8).
// docs/QUANTIZATION.md specifies it; the scalar helpers here are the
// definition every SIMD target and the Python side reproduce bit for bit.
// Thread-safety: QuantizedActivations is a plain buffer owned by one caller.
#pragma once

#include <hwy/aligned_allocator.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/base/status.h"
#include "kernels/formats/weight_format.h"

namespace qasr::kernels {

// 127 / amax, or 0 when the row is all zeros or so tiny that 127 / amax is
// not finite (amax < ~3.7e-37): such rows quantize to all-zero codes.
inline float ActivationInverseScale(float amax) {
  if (!(amax > 0.0f)) return 0.0f;
  const float inv = 127.0f / amax;
  return std::isfinite(inv) ? inv : 0.0f;
}

// clamp(round_half_to_even(x * inv), -127, 127). Inputs must be finite;
// non-finite inputs give unspecified (but memory-safe) codes.
inline int8_t QuantizeActivation(float x, float inv) {
  const float v = std::nearbyint(x * inv);
  return static_cast<int8_t>(std::fmin(std::fmax(v, -127.0f), 127.0f));
}

// Codes of `rows` activation rows, each padded with zeros to the weights'
// padded_cols, plus per-row scales and per-(row, group) code sums.
struct QuantizedActivations {
  size_t rows = 0, cols = 0, padded_cols = 0, group_cols = 0, groups = 0;
  size_t stride = 0;                          // bytes from one row's codes to the next
  hwy::AlignedFreeUniquePtr<int8_t[]> codes;  // rows x stride, the first padded_cols used
  std::vector<float> scales;                  // sx per row: amax / 127
  std::vector<int32_t> sums;                  // rows x groups: sum of codes per group
  size_t capacity = 0;                        // codes allocated (bytes)

  const int8_t* row(size_t m) const { return codes.get() + m * stride; }
  int8_t* row(size_t m) { return codes.get() + m * stride; }

  // Shapes the buffer for `rows` rows against weights of layout `w`;
  // allocates only when it has to grow.
  Status Reshape(size_t new_rows, const WeightLayout& w) {
    if (new_rows == 0 || new_rows > kMaxDim) return OutOfRange("activation rows out of range");
    rows = new_rows;
    cols = w.shape.cols;
    padded_cols = w.padded_cols;
    group_cols = w.group_cols;
    groups = w.groups;
    // Rows a multiple of 1 KiB apart would share L1 sets (the GEMM reads 6
    // rows at the same column together): such rows get 64 bytes more.
    stride = padded_cols % 1024 == 0 ? padded_cols + 64 : padded_cols;
    const size_t need = rows * stride;
    if (need > capacity) {
      codes = hwy::AllocateAligned<int8_t>(need);
      if (!codes) return Status(StatusCode::kResourceExhausted, "activation codes");
      capacity = need;
    }
    scales.resize(rows);
    sums.resize(rows * groups);
    return Status::Ok();
  }
};

}  // namespace qasr::kernels
