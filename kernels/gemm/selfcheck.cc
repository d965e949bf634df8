#include "kernels/gemm/selfcheck.h"

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/formats/fp16.h"
#include "kernels/gemm/gemm.h"
#include "kernels/ref/gemm_ref.h"

namespace qasr::kernels {

namespace {

struct Case {
  size_t m, n, k, group;
};
constexpr Case kCases[] = {{1, 9, 33, 32}, {5, 17, 100, 64}, {3, 8, 257, 1u << 20}};

// Deterministic pseudo-random stream (no global state).
struct Lcg {
  uint32_t s;
  uint32_t Next() { return s = s * 1664525u + 1013904223u; }
  float Uniform() { return static_cast<float>(Next() >> 8) / 16777216.0f - 0.5f; }
};

std::string Where(int bits, const Case& c) {
  std::string s = "w";
  s += std::to_string(bits);
  s += " M" + std::to_string(c.m);
  s += " N" + std::to_string(c.n);
  s += " K" + std::to_string(c.k);
  s += " G" + std::to_string(c.group);
  return s;
}

Status CheckCase(const GemmKernels& k, int bits, const Case& c, Lcg& rng) {
  const WeightShape ws{bits, c.n, c.k, c.group};
  Result<WeightLayout> layout = WeightLayout::Make(ws);
  if (!layout.ok()) return layout.status();
  const size_t ng = layout->groups;
  UnpackedWeights w{ws, std::vector<uint8_t>(c.n * c.k), std::vector<uint16_t>(c.n * ng),
                    std::vector<uint8_t>(c.n * ng)};
  const uint32_t mask = (1u << bits) - 1u;
  for (auto& q : w.codes) q = static_cast<uint8_t>(rng.Next() >> 24 & mask);
  for (auto& z : w.zeros) z = static_cast<uint8_t>(rng.Next() >> 24 & mask);
  for (auto& s : w.scales) s = F16FromF32(rng.Uniform() * 0.1f);
  Result<PackedWeights> packed = Pack(ws, w.codes, w.scales, w.zeros);
  if (!packed.ok()) return packed.status();
  std::vector<float> x(c.m * c.k);
  for (auto& v : x) v = rng.Uniform() * 4.0f;

  QuantizedActivations q, rq;
  QASR_RETURN_IF_ERROR(QuantizeActivations(k, x.data(), c.k, c.m, *layout, q, nullptr));
  QASR_RETURN_IF_ERROR(rq.Reshape(c.m, *layout));
  ref::QuantizeActivations(x.data(), c.k, rq, *layout);
  for (size_t m = 0; m < c.m; ++m)
    if (std::memcmp(q.row(m), rq.row(m), q.padded_cols) != 0 || q.scales[m] != rq.scales[m])
      return Internal("activation codes differ: " + Where(bits, c));

  std::vector<int32_t> dots(c.m * c.n * ng), want(dots.size());
  QASR_RETURN_IF_ERROR(GemmA8GroupDots(k, q, packed->view(), dots.data(), nullptr));
  ref::GroupDots(rq, w, want.data());
  if (dots != want) return Internal("integer group dots differ: " + Where(bits, c));

  std::vector<float> y(c.m * c.n), yr(y.size()), f(y.size()), fr(y.size());
  QASR_RETURN_IF_ERROR(GemmA8(k, q, packed->view(), nullptr, y.data(), c.n, nullptr));
  ref::GemmA8(rq, w, nullptr, yr.data(), c.n);
  QASR_RETURN_IF_ERROR(
      GemmF32(k, x.data(), c.k, c.m, packed->view(), nullptr, f.data(), c.n, nullptr));
  ref::GemmF32(x.data(), c.k, c.m, w, nullptr, fr.data(), c.n);
  for (size_t i = 0; i < y.size(); ++i) {
    // Loose bound for a quick check; the unit tests hold the documented one.
    if (std::fabs(y[i] - yr[i]) > 1e-4f * (1.0f + std::fabs(yr[i])))
      return Internal("a8 outputs differ: " + Where(bits, c));
    if (std::fabs(f[i] - fr[i]) > 1e-4f * (1.0f + std::fabs(fr[i])))
      return Internal("f32 outputs differ: " + Where(bits, c));
  }
  return Status::Ok();
}

}  // namespace

Status SelfCheckKernels(const GemmKernels& k) {
  Lcg rng{12345};
  for (int f = 0; f < kNumWeightFormats; ++f)
    for (const Case& c : kCases) QASR_RETURN_IF_ERROR(CheckCase(k, FormatBits(f), c, rng));
  return Status::Ok();
}

}  // namespace qasr::kernels
