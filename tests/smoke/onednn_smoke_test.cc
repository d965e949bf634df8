// oneDNN is linked and its f32 and s8 matmuls agree with plain loops.
#include <gtest/gtest.h>

#include <cstdint>
#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

namespace {

constexpr int kM = 5, kK = 37, kN = 11;  // odd sizes exercise tails

template <typename T>
std::vector<T> Pattern(size_t n, int mod, int offset) {
  std::vector<T> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = static_cast<T>(static_cast<int>((i * 7 + 3) % mod) - offset);
  return v;
}

TEST(OneDnnSmoke, F32MatmulMatchesLoop) {
  using dnnl::memory;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  auto a = Pattern<float>(kM * kK, 13, 6);
  auto b = Pattern<float>(kK * kN, 11, 5);
  std::vector<float> c(kM * kN, 0.f);
  memory::desc ad({kM, kK}, memory::data_type::f32, memory::format_tag::ab);
  memory::desc bd({kK, kN}, memory::data_type::f32, memory::format_tag::ab);
  memory::desc cd({kM, kN}, memory::data_type::f32, memory::format_tag::ab);
  dnnl::matmul mm(dnnl::matmul::primitive_desc(dnnl::matmul::desc(ad, bd, cd), eng));
  memory am(ad, eng, a.data()), bm(bd, eng, b.data()), cm(cd, eng, c.data());
  mm.execute(strm, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
  strm.wait();
  for (int i = 0; i < kM; ++i)
    for (int j = 0; j < kN; ++j) {
      float ref = 0.f;
      for (int k = 0; k < kK; ++k) ref += a[i * kK + k] * b[k * kN + j];
      EXPECT_NEAR(c[i * kN + j], ref, 1e-3f) << i << "," << j;
    }
}

// Without VNNI, oneDNN's int8 path multiplies pairs with a 16-bit saturating
// instruction, so weights are kept to 7 bits (|w| <= 63) as its docs advise.
TEST(OneDnnSmoke, S8MatmulIsExact) {
  using dnnl::memory;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  auto a = Pattern<int8_t>(kM * kK, 255, 127);
  auto b = Pattern<int8_t>(kK * kN, 127, 63);
  std::vector<int32_t> c(kM * kN, 0);
  memory::desc ad({kM, kK}, memory::data_type::s8, memory::format_tag::ab);
  memory::desc bd({kK, kN}, memory::data_type::s8, memory::format_tag::ab);
  memory::desc cd({kM, kN}, memory::data_type::s32, memory::format_tag::ab);
  dnnl::matmul mm(dnnl::matmul::primitive_desc(dnnl::matmul::desc(ad, bd, cd), eng));
  memory am(ad, eng, a.data()), bm(bd, eng, b.data()), cm(cd, eng, c.data());
  mm.execute(strm, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
  strm.wait();
  for (int i = 0; i < kM; ++i)
    for (int j = 0; j < kN; ++j) {
      int32_t ref = 0;
      for (int k = 0; k < kK; ++k) ref += int32_t{a[i * kK + k]} * int32_t{b[k * kN + j]};
      EXPECT_EQ(c[i * kN + j], ref) << i << "," << j;
    }
}

}  // namespace
