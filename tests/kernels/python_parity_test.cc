// The Python toolkit (tools/qasr/quant/formats.py) against the C++ kernels,
// on vectors it writes (tools/qasr/quant/parity.py, run by the ctest fixture
// kernels.python_parity_vectors): identical packed bytes, identical
// activation codes/scales/sums, identical int32 group dots on every target,
// fp32 outputs bit-identical to the scalar reference and to FMA targets and
// within the documented bound elsewhere (docs/QUANTIZATION.md §3).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "kernels/formats/fp16.h"
#include "kernels/gemm/gemm.h"
#include "kernels/ref/gemm_ref.h"

#ifndef QASR_PARITY_DIR
#define QASR_PARITY_DIR ""
#endif

namespace qasr::kernels {
namespace {

struct Case {
  std::string name;
  WeightShape shape;
  size_t m = 0;
};

std::vector<Case> ReadCases() {
  std::vector<Case> cases;
  std::ifstream in(std::string(QASR_PARITY_DIR) + "/cases.txt");
  Case c;
  while (in >> c.name >> c.shape.bits >> c.m >> c.shape.rows >> c.shape.cols >> c.shape.group)
    cases.push_back(c);
  return cases;
}

template <class T>
std::vector<T> ReadArray(const Case& c, const char* file, size_t count) {
  const std::string path = std::string(QASR_PARITY_DIR) + "/" + c.name + "/" + file;
  std::ifstream in(path, std::ios::binary);
  std::vector<char> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(raw.size(), count * sizeof(T)) << path;
  std::vector<T> out(count);
  if (raw.size() == count * sizeof(T)) std::memcpy(out.data(), raw.data(), raw.size());
  return out;
}

// Everything one case holds, as the Python side computed it.
struct Vectors {
  WeightLayout layout;
  UnpackedWeights w;
  std::vector<uint8_t> packed;
  std::vector<float> x, bias, sx, y_a8, y_f32;
  std::vector<int8_t> xq;
  std::vector<int32_t> xsum, dots;
};

Vectors Load(const Case& c) {
  Vectors v;
  v.layout = *WeightLayout::Make(c.shape);
  const size_t n = c.shape.rows, k = c.shape.cols, ng = v.layout.groups, m = c.m;
  v.w = {c.shape, ReadArray<uint8_t>(c, "codes", n * k), ReadArray<uint16_t>(c, "scales", n * ng),
         ReadArray<uint8_t>(c, "zeros", n * ng)};
  v.packed = ReadArray<uint8_t>(c, "packed", v.layout.total_bytes);
  v.x = ReadArray<float>(c, "x", m * k);
  v.bias = ReadArray<float>(c, "bias", n);
  v.xq = ReadArray<int8_t>(c, "xq", m * k);
  v.sx = ReadArray<float>(c, "sx", m);
  v.xsum = ReadArray<int32_t>(c, "xsum", m * ng);
  v.dots = ReadArray<int32_t>(c, "dots", m * n * ng);
  v.y_a8 = ReadArray<float>(c, "y_a8", m * n);
  v.y_f32 = ReadArray<float>(c, "y_f32", m * n);
  return v;
}

bool HasFma(const GemmKernels& k) {
  const std::string n = k.name;
  return n == "AVX2" || n == "AVX3" || n == "AVX3_DL" || n == "NEON" || n == "SVE" || n == "SVE2";
}

bool SameBits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

class PythonParity : public ::testing::Test {
 protected:
  void SetUp() override {
    cases_ = ReadCases();
    if (cases_.empty())
      GTEST_SKIP() << "no vectors in '" << QASR_PARITY_DIR
                   << "' (run the kernels.python_parity_vectors fixture; needs torch)";
  }
  std::vector<Case> cases_;
};

// Pack of the Python codes gives the Python bytes; Unpack of them gives the codes.
TEST_F(PythonParity, PackedBytesIdentical) {
  for (const Case& c : cases_) {
    const Vectors v = Load(c);
    Result<PackedWeights> packed = Pack(c.shape, v.w.codes, v.w.scales, v.w.zeros);
    ASSERT_TRUE(packed.ok()) << c.name;
    const auto bytes = packed->bytes();
    ASSERT_EQ(bytes.size(), v.packed.size()) << c.name;
    ASSERT_EQ(std::memcmp(bytes.data(), v.packed.data(), bytes.size()), 0) << c.name;
    const auto view = *PackedWeightsView::FromBytes(c.shape, v.packed.data(), v.packed.size());
    const UnpackedWeights back = Unpack(view);
    ASSERT_EQ(back.codes, v.w.codes) << c.name;
    ASSERT_EQ(back.scales, v.w.scales) << c.name;
    ASSERT_EQ(back.zeros, v.w.zeros) << c.name;
  }
}

// The scalar reference reproduces Python's activation codes, dots and outputs bit for bit.
TEST_F(PythonParity, ReferenceBitIdentical) {
  for (const Case& c : cases_) {
    const Vectors v = Load(c);
    const size_t n = c.shape.rows, k = c.shape.cols, ng = v.layout.groups;
    QuantizedActivations q;
    ASSERT_TRUE(q.Reshape(c.m, v.layout).ok());
    ref::QuantizeActivations(v.x.data(), k, q, v.layout);
    for (size_t m = 0; m < c.m; ++m) {
      ASSERT_EQ(std::memcmp(q.row(m), &v.xq[m * k], k), 0) << c.name << " row " << m;
      ASSERT_TRUE(SameBits(q.scales[m], v.sx[m])) << c.name << " row " << m;
    }
    ASSERT_EQ(q.sums, v.xsum) << c.name;
    std::vector<int32_t> dots(c.m * n * ng);
    ref::GroupDots(q, v.w, dots.data());
    ASSERT_EQ(dots, v.dots) << c.name;
    std::vector<float> y(c.m * n), yf(c.m * n);
    ref::GemmA8(q, v.w, v.bias.data(), y.data(), n);
    ref::GemmF32(v.x.data(), k, c.m, v.w, v.bias.data(), yf.data(), n);
    for (size_t i = 0; i < y.size(); ++i) {
      ASSERT_TRUE(SameBits(y[i], v.y_a8[i]))
          << c.name << " a8 " << i << ": " << y[i] << " vs " << v.y_a8[i];
      ASSERT_TRUE(SameBits(yf[i], v.y_f32[i]))
          << c.name << " f32 " << i << ": " << yf[i] << " vs " << v.y_f32[i];
    }
  }
}

class PythonParityTargets : public ::testing::TestWithParam<const GemmKernels*> {};

// Every compiled target on this CPU, on the Python-packed bytes: identical
// codes and dots; fp32 bit-identical on FMA targets, else within §3's bound.
TEST_P(PythonParityTargets, KernelsMatchPython) {
  const GemmKernels& kern = *GetParam();
  const std::vector<Case> cases = ReadCases();
  if (cases.empty()) GTEST_SKIP() << "no vectors in '" << QASR_PARITY_DIR << "'";
  for (const Case& c : cases) {
    const Vectors v = Load(c);
    const size_t n = c.shape.rows, k = c.shape.cols, ng = v.layout.groups;
    const auto w = *PackedWeightsView::FromBytes(c.shape, v.packed.data(), v.packed.size());
    QuantizedActivations q;
    ASSERT_TRUE(QuantizeActivations(kern, v.x.data(), k, c.m, v.layout, q, nullptr).ok());
    for (size_t m = 0; m < c.m; ++m) {
      ASSERT_EQ(std::memcmp(q.row(m), &v.xq[m * k], k), 0) << c.name << " row " << m;
      ASSERT_TRUE(SameBits(q.scales[m], v.sx[m])) << c.name << " row " << m;
    }
    ASSERT_EQ(q.sums, v.xsum) << c.name;
    std::vector<int32_t> dots(c.m * n * ng, -1);
    ASSERT_TRUE(GemmA8GroupDots(kern, q, w, dots.data(), nullptr).ok());
    ASSERT_EQ(dots, v.dots) << c.name;

    std::vector<float> y(c.m * n), yf(c.m * n);
    ASSERT_TRUE(GemmA8(kern, q, w, v.bias.data(), y.data(), n, nullptr).ok());
    ASSERT_TRUE(GemmF32(kern, v.x.data(), k, c.m, w, v.bias.data(), yf.data(), n, nullptr).ok());
    for (size_t m = 0; m < c.m; ++m)
      for (size_t j = 0; j < n; ++j) {
        const size_t i = m * n + j;
        if (HasFma(kern)) {
          ASSERT_TRUE(SameBits(y[i], v.y_a8[i])) << c.name << " a8 at " << m << "," << j;
          ASSERT_TRUE(SameBits(yf[i], v.y_f32[i])) << c.name << " f32 at " << m << "," << j;
          continue;
        }
        double terms = std::fabs(v.bias[j]), fterms = terms;
        for (size_t g = 0; g < ng; ++g)
          terms += std::fabs(static_cast<double>(v.sx[m]) * F32FromF16(v.w.scales[j * ng + g]) *
                             v.dots[i * ng + g]);
        for (size_t kk = 0; kk < k; ++kk) {
          const size_t g = kk / v.layout.group_cols;
          fterms +=
              std::fabs(static_cast<double>(F32FromF16(v.w.scales[j * ng + g])) * v.x[m * k + kk] *
                        (int{v.w.codes[j * k + kk]} - int{v.w.zeros[j * ng + g]}));
        }
        const double tol = (ng + 2.0) * 0x1p-23 * terms + 1e-37;
        const double ftol = (k + ng + 2.0) * 0x1p-23 * fterms + 1e-37;
        ASSERT_LE(std::fabs(static_cast<double>(y[i]) - v.y_a8[i]), tol) << c.name;
        ASSERT_LE(std::fabs(static_cast<double>(yf[i]) - v.y_f32[i]), ftol) << c.name;
      }
  }
}

std::string TargetName(const ::testing::TestParamInfo<const GemmKernels*>& info) {
  return info.param->name;
}

INSTANTIATE_TEST_SUITE_P(Targets, PythonParityTargets, ::testing::ValuesIn(SupportedGemmKernels()),
                         TargetName);

}  // namespace
}  // namespace qasr::kernels
