#include "frontend/features/fft.h"

#include <fftw3.h>

#include <cstring>
#include <mutex>

namespace qasr::frontend {
namespace {

// FFTW's planner is not thread-safe unless told so; executing plans is.
void MakePlannerThreadSafe() {
  static std::once_flag once;
  std::call_once(once, [] { fftw_make_planner_thread_safe(); });
}

}  // namespace

void FftwFree::operator()(double* p) const { fftw_free(p); }

FftBuffer AllocateFftBuffer(size_t count) {
  FftBuffer buffer(fftw_alloc_real(count));
  if (buffer) std::memset(buffer.get(), 0, count * sizeof(double));
  return buffer;
}

struct RealFft::Plan {
  fftw_plan plan = nullptr;
  ~Plan() {
    if (plan != nullptr) fftw_destroy_plan(plan);
  }
};

RealFft::RealFft(size_t n, size_t batch, std::unique_ptr<Plan> plan)
    : n_(n), batch_(batch), plan_(std::move(plan)) {}
RealFft::RealFft(RealFft&&) noexcept = default;
RealFft& RealFft::operator=(RealFft&&) noexcept = default;
RealFft::~RealFft() = default;

Result<RealFft> RealFft::Create(size_t n, size_t batch) {
  if (n < 2 || n % 2 != 0 || n > (1u << 20) || batch < 1 || batch > 64) {
    return InvalidArgument("fft: size must be even and in [2, 2^20], batch in [1, 64]; got " +
                           std::to_string(n) + " x " + std::to_string(batch));
  }
  MakePlannerThreadSafe();
  FftBuffer in = AllocateFftBuffer(n * batch);
  FftBuffer out = AllocateFftBuffer((n + 2) * batch);
  if (!in || !out) return Status(StatusCode::kResourceExhausted, "fft: out of memory");
  auto plan = std::make_unique<Plan>();
  const int size = static_cast<int>(n);
  const int howmany = static_cast<int>(batch);
  // Inputs row by row (distance n); outputs bin-major (stride batch, distance 1).
  plan->plan = fftw_plan_many_dft_r2c(1, &size, howmany, in.get(), nullptr, 1, size,
                                      reinterpret_cast<fftw_complex*>(out.get()), nullptr, howmany,
                                      1, FFTW_ESTIMATE | FFTW_PRESERVE_INPUT);
  if (plan->plan == nullptr) return Internal("fft: FFTW could not plan size " + std::to_string(n));
  return RealFft(n, batch, std::move(plan));
}

void RealFft::Forward(double* in, double* out) const {
  fftw_execute_dft_r2c(plan_->plan, in, reinterpret_cast<fftw_complex*>(out));
}

}  // namespace qasr::frontend
