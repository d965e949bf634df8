// Attention of one query row of one head over gathered keys and values (the
// incremental decoder's self-attention over its KV cache): scores =
// (q * scale) . keys[s], softmax, out = sum_s p[s] * values[s]. Four keys
// at a time share the scaled query's loads and give four independent FMA
// chains; the weighted sum keeps out in L1. Sums run in lane order, so
// targets agree to a few ulp, not bitwise.
#if defined(QASR_KERNELS_DENSE_ATTEND_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QASR_KERNELS_DENSE_ATTEND_INL_H_
#undef QASR_KERNELS_DENSE_ATTEND_INL_H_
#else
#define QASR_KERNELS_DENSE_ATTEND_INL_H_
#endif

#include <hwy/highway.h>

#include "kernels/dense/dense_gemm.h"
#include "kernels/dense/softmax-inl.h"

HWY_BEFORE_NAMESPACE();
namespace qasr::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// sum_j qs[j] * k[j] over dim values.
HWY_INLINE float Dot(const float* HWY_RESTRICT qs, const float* HWY_RESTRICT k, size_t dim) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  auto acc = hn::Zero(d);
  size_t j = 0;
  for (; j + lanes <= dim; j += lanes)
    acc = hn::MulAdd(hn::LoadU(d, qs + j), hn::LoadU(d, k + j), acc);
  float dot = hn::GetLane(hn::SumOfLanes(d, acc));
  for (; j < dim; ++j) dot += qs[j] * k[j];
  return dot;
}

void AttendRowKernel(const float* q, float scale, const float* const* keys,
                     const float* const* values, size_t offset, size_t steps, size_t dim,
                     float* scores, float* out) {
  if (steps == 0) return;
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  // out holds the scaled query until the weighted sum replaces it.
  float* qs = out;
  const auto vs = hn::Set(d, scale);
  size_t j = 0;
  for (; j + lanes <= dim; j += lanes) hn::StoreU(hn::Mul(hn::LoadU(d, q + j), vs), d, qs + j);
  for (; j < dim; ++j) qs[j] = q[j] * scale;
  size_t s = 0;
  for (; s + 4 <= steps; s += 4) {
    const float* k0 = keys[s] + offset;
    const float* k1 = keys[s + 1] + offset;
    const float* k2 = keys[s + 2] + offset;
    const float* k3 = keys[s + 3] + offset;
    auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
    j = 0;
    for (; j + lanes <= dim; j += lanes) {
      const auto x = hn::LoadU(d, qs + j);
      a0 = hn::MulAdd(x, hn::LoadU(d, k0 + j), a0);
      a1 = hn::MulAdd(x, hn::LoadU(d, k1 + j), a1);
      a2 = hn::MulAdd(x, hn::LoadU(d, k2 + j), a2);
      a3 = hn::MulAdd(x, hn::LoadU(d, k3 + j), a3);
    }
    float d0 = hn::GetLane(hn::SumOfLanes(d, a0)), d1 = hn::GetLane(hn::SumOfLanes(d, a1));
    float d2 = hn::GetLane(hn::SumOfLanes(d, a2)), d3 = hn::GetLane(hn::SumOfLanes(d, a3));
    for (; j < dim; ++j) {
      d0 += qs[j] * k0[j];
      d1 += qs[j] * k1[j];
      d2 += qs[j] * k2[j];
      d3 += qs[j] * k3[j];
    }
    scores[s] = d0;
    scores[s + 1] = d1;
    scores[s + 2] = d2;
    scores[s + 3] = d3;
  }
  for (; s < steps; ++s) scores[s] = Dot(qs, keys[s] + offset, dim);
  SoftmaxRow(scores, steps);
  j = 0;
  for (; j + lanes <= dim; j += lanes) hn::StoreU(hn::Zero(d), d, out + j);
  for (; j < dim; ++j) out[j] = 0.0f;
  for (s = 0; s < steps; ++s) {
    const float* v = values[s] + offset;
    const auto p = hn::Set(d, scores[s]);
    j = 0;
    for (; j + lanes <= dim; j += lanes)
      hn::StoreU(hn::MulAdd(p, hn::LoadU(d, v + j), hn::LoadU(d, out + j)), d, out + j);
    for (; j < dim; ++j) out[j] += scores[s] * v[j];
  }
}

}  // namespace qasr::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
