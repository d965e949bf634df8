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

// Runs C[M,N] = A[M,K] * B[K,N] through a oneDNN matmul primitive.
template <typename TA, typename TB, typename TC>
std::vector<TC> OneDnnMatmul(const std::vector<TA>& a, const std::vector<TB>& b,
                             dnnl::memory::data_type ta, dnnl::memory::data_type tb,
                             dnnl::memory::data_type tc) {
  using dnnl::memory;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  std::vector<TC> c(kM * kN, TC{0});
  memory::desc ad({kM, kK}, ta, memory::format_tag::ab);
  memory::desc bd({kK, kN}, tb, memory::format_tag::ab);
  memory::desc cd({kM, kN}, tc, memory::format_tag::ab);
  dnnl::matmul mm(dnnl::matmul::primitive_desc(dnnl::matmul::desc(ad, bd, cd), eng));
  memory am(ad, eng, const_cast<TA*>(a.data())), bm(bd, eng, const_cast<TB*>(b.data()));
  memory cm(cd, eng, c.data());
  mm.execute(strm, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
  strm.wait();
  return c;
}

// Plain triple loop in the accumulator type TC.
template <typename TA, typename TB, typename TC>
TC LoopDot(const std::vector<TA>& a, const std::vector<TB>& b, int i, int j) {
  TC ref{0};
  for (int k = 0; k < kK; ++k)
    ref += static_cast<TC>(a[i * kK + k]) * static_cast<TC>(b[k * kN + j]);
  return ref;
}

TEST(OneDnnSmoke, F32MatmulMatchesLoop) {
  using dt = dnnl::memory::data_type;
  const auto a = Pattern<float>(kM * kK, 13, 6);
  const auto b = Pattern<float>(kK * kN, 11, 5);
  const auto c = OneDnnMatmul<float, float, float>(a, b, dt::f32, dt::f32, dt::f32);
  for (int i = 0; i < kM; ++i)
    for (int j = 0; j < kN; ++j)
      EXPECT_NEAR(c[i * kN + j], (LoopDot<float, float, float>(a, b, i, j)), 1e-3f)
          << i << "," << j;
}

// Without VNNI, oneDNN's int8 path multiplies pairs with a 16-bit saturating
// instruction, so weights are kept to 7 bits (|w| <= 63) as its docs advise.
TEST(OneDnnSmoke, S8MatmulIsExact) {
  using dt = dnnl::memory::data_type;
  const auto a = Pattern<int8_t>(kM * kK, 255, 127);
  const auto b = Pattern<int8_t>(kK * kN, 127, 63);
  const auto c = OneDnnMatmul<int8_t, int8_t, int32_t>(a, b, dt::s8, dt::s8, dt::s32);
  for (int i = 0; i < kM; ++i)
    for (int j = 0; j < kN; ++j)
      EXPECT_EQ(c[i * kN + j], (LoopDot<int8_t, int8_t, int32_t>(a, b, i, j))) << i << "," << j;
}

}  // namespace
