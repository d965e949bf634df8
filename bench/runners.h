// One matmul implementation prepared for a shape: y[M][N] = x[M][K] * W^T.
// Setup (weight packing, primitive creation) happens at construction and is
// not timed; Run() is the timed layer call, starting from fp32 activations
// for qasr (quantization included) and from each baseline's native input.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace qasr::bench {

struct GemmShape {
  size_t m, n, k, threads;
};

class Runner {
 public:
  virtual ~Runner() = default;
  virtual void Run() = 0;
  // Bytes of weights one Run() streams (packed size for low-bit formats).
  virtual size_t weight_bytes() const = 0;
};

// impl: qasr_w{2,3,4,8}a8, qasr_w{2,3,4,8}f32 (group 128), qasr_f32dense
// (fp32 weights, dot-product form), qasr_f32panel (fp32 weights, packed panels).
std::unique_ptr<Runner> MakeQasr(const std::string& impl, const GemmShape& s);
// impl: onednn_f32, onednn_s8 (7-bit weights: no VNNI here, pairs saturate),
// xnnpack_f32, xnnpack_qs8.
std::unique_ptr<Runner> MakeBaseline(const std::string& impl, const GemmShape& s);

}  // namespace qasr::bench
