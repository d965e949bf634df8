// A batch of fixed-size real-to-complex FFTs (FFTW double precision). The plan
// is made once (FFTW_ESTIMATE, so results are deterministic run to run) and
// executed on caller-owned buffers, so one RealFft may be shared by threads.
// Every transform of the batch is computed with the same operations, so a
// frame's spectrum does not depend on its position in the batch.
#pragma once

#include <cstddef>
#include <memory>

#include "kernels/base/status.h"

namespace qasr::frontend {

// Owner of an FFTW-aligned double buffer.
struct FftwFree {
  void operator()(double* p) const;
};
using FftBuffer = std::unique_ptr<double[], FftwFree>;
FftBuffer AllocateFftBuffer(size_t count);  // zero-filled; null on failure

class RealFft {
 public:
  // n: even transform size >= 2; batch: transforms per call.
  static Result<RealFft> Create(size_t n, size_t batch = 1);
  RealFft(RealFft&&) noexcept;
  RealFft& operator=(RealFft&&) noexcept;
  ~RealFft();

  size_t size() const { return n_; }
  size_t batch() const { return batch_; }
  // in: batch rows of n doubles. out: (n/2+1) x batch complex values, bin
  // major: the (re, im) of bin k of transform b at out[2 * (k * batch + b)].
  // Both from AllocateFftBuffer. Thread-safe.
  void Forward(double* in, double* out) const;

 private:
  struct Plan;
  RealFft(size_t n, size_t batch, std::unique_ptr<Plan> plan);
  size_t n_;
  size_t batch_;
  std::unique_ptr<Plan> plan_;
};

}  // namespace qasr::frontend
