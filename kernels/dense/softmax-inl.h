// Softmax of one fp32 row in place: max, exp(x - max) (Highway's Exp, max
// error 1 ulp), sum, scale. Rows must be finite. The lane-parallel sum has a
// target-dependent order; results agree across targets to a few ulp.
#if defined(QASR_KERNELS_DENSE_SOFTMAX_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QASR_KERNELS_DENSE_SOFTMAX_INL_H_
#undef QASR_KERNELS_DENSE_SOFTMAX_INL_H_
#else
#define QASR_KERNELS_DENSE_SOFTMAX_INL_H_
#endif

#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

#include <cmath>

HWY_BEFORE_NAMESPACE();
namespace qasr::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void SoftmaxRow(float* x, size_t n) {
  if (n == 0) return;
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  float mx = x[0];
  size_t i = 0;
  if (n >= lanes) {
    auto vmax = hn::LoadU(d, x);
    for (i = lanes; i + lanes <= n; i += lanes) vmax = hn::Max(vmax, hn::LoadU(d, x + i));
    mx = hn::GetLane(hn::MaxOfLanes(d, vmax));
  }
  for (; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
  const auto vm = hn::Set(d, mx);
  auto vsum = hn::Zero(d);
  for (i = 0; i + lanes <= n; i += lanes) {
    const auto e = hn::Exp(d, hn::Sub(hn::LoadU(d, x + i), vm));
    hn::StoreU(e, d, x + i);
    vsum = hn::Add(vsum, e);
  }
  float sum = hn::GetLane(hn::SumOfLanes(d, vsum));
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const auto inv = hn::Set(d, 1.0f / sum);
  for (i = 0; i + lanes <= n; i += lanes) hn::StoreU(hn::Mul(hn::LoadU(d, x + i), inv), d, x + i);
  for (; i < n; ++i) x[i] *= 1.0f / sum;
}

}  // namespace qasr::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
