// Packed layout: validation, round trips, and the byte positions
// docs/QUANTIZATION.md promises the Python exporter.
#include "kernels/formats/weight_format.h"

#include <gtest/gtest.h>

#include <cmath>

#include "kernels/formats/fp16.h"
#include "tests/kernels/test_util.h"

namespace qasr::kernels {
namespace {

using testing::RandomWeights;

TEST(Fp16, RoundTripsEveryNonNanValue) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = F32FromF16(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(F16FromF32(f), h) << h;
  }
}

TEST(Fp16, RoundsHalfToEven) {
  EXPECT_EQ(F16FromF32(1.0f + 0x1p-11f), F16FromF32(1.0f));                // tie, even below
  EXPECT_EQ(F16FromF32(1.0f + 3 * 0x1p-11f), F16FromF32(1.0f + 0x1p-9f));  // tie, even above
  EXPECT_EQ(F16FromF32(65519.0f), 0x7BFF);
  EXPECT_EQ(F16FromF32(65520.0f), 0x7C00);
  EXPECT_EQ(F16FromF32(0x1p-25f), 0);    // tie to zero
  EXPECT_EQ(F16FromF32(0x1.8p-24f), 2);  // 1.5 ulp of subnormal -> 2
  EXPECT_EQ(F16FromF32(-0.0f), 0x8000);
}

TEST(WeightLayout, ValidatesShapes) {
  EXPECT_FALSE(WeightLayout::Make({5, 8, 64, 32}).ok());
  EXPECT_FALSE(WeightLayout::Make({4, 0, 64, 32}).ok());
  EXPECT_FALSE(WeightLayout::Make({4, 8, 0, 32}).ok());
  EXPECT_FALSE(WeightLayout::Make({4, 8, 64, 0}).ok());
  EXPECT_FALSE(WeightLayout::Make({4, 8, 100, 48}).ok());       // not a multiple of 32
  EXPECT_FALSE(WeightLayout::Make({4, 8, 40000, 40000}).ok());  // group too long for int32
  EXPECT_TRUE(WeightLayout::Make({4, 8, 100, 100}).ok());       // whole row
  EXPECT_TRUE(WeightLayout::Make({4, 8, 100, 128}).ok());       // group covers the row
  const WeightLayout l = *WeightLayout::Make({3, 9, 100, 32});
  EXPECT_EQ(l.tiles, 2u);
  EXPECT_EQ(l.padded_cols, 128u);
  EXPECT_EQ(l.groups, 4u);
  EXPECT_EQ(l.code_bytes, 2u * 128 * 3);
  EXPECT_EQ(l.scale_bytes, 2u * 4 * 8 * 2);
  EXPECT_EQ(l.zero_bytes, 2u * 4 * 8);
  EXPECT_EQ(l.total_bytes, l.code_bytes + l.scale_bytes + l.zero_bytes);
  EXPECT_EQ(l.GroupBegin(3), 3u);
  EXPECT_EQ(l.GroupEnd(3), 4u);
}

TEST(Pack, RejectsBadInputs) {
  const WeightShape s{4, 3, 40, 32};
  UnpackedWeights w = RandomWeights(s, 1);
  EXPECT_TRUE(Pack(s, w.codes, w.scales, w.zeros).ok());
  EXPECT_FALSE(Pack(s, std::span(w.codes).first(10), w.scales, w.zeros).ok());
  auto codes = w.codes;
  codes[7] = 16;
  EXPECT_FALSE(Pack(s, codes, w.scales, w.zeros).ok());
  auto zeros = w.zeros;
  zeros[0] = 200;
  EXPECT_FALSE(Pack(s, w.codes, w.scales, zeros).ok());
  auto scales = w.scales;
  scales[1] = 0x7C00;  // +inf
  EXPECT_FALSE(Pack(s, w.codes, scales, w.zeros).ok());
}

TEST(PackedWeightsView, ChecksSize) {
  const WeightShape s{2, 5, 70, 64};
  UnpackedWeights w = RandomWeights(s, 2);
  PackedWeights p = *Pack(s, w.codes, w.scales, w.zeros);
  const auto bytes = p.bytes();
  EXPECT_TRUE(PackedWeightsView::FromBytes(s, bytes.data(), bytes.size()).ok());
  const auto short_view = PackedWeightsView::FromBytes(s, bytes.data(), bytes.size() - 1);
  ASSERT_FALSE(short_view.ok());
  EXPECT_EQ(short_view.status().code(), StatusCode::kDataLoss);
  EXPECT_FALSE(PackedWeightsView::FromBytes(s, nullptr, bytes.size()).ok());
  EXPECT_FALSE(PackedWeightsView::FromBytes({2, 5, 70, 48}, bytes.data(), bytes.size()).ok());
}

class PackRoundTrip : public ::testing::TestWithParam<int> {};

TEST_P(PackRoundTrip, UnpackRestoresEverything) {
  const int bits = GetParam();
  for (size_t n : {1, 7, 8, 9, 31})
    for (size_t k : {1, 5, 31, 32, 33, 100, 257})
      for (size_t g : {32, 64, 128, 100000}) {
        const WeightShape s{bits, n, k, g};
        UnpackedWeights w = RandomWeights(s, static_cast<uint32_t>(n * 1000 + k + g));
        auto packed = Pack(s, w.codes, w.scales, w.zeros);
        ASSERT_TRUE(packed.ok()) << packed.status().ToString();
        // Misaligned copy: views work on any address.
        std::vector<uint8_t> copy(packed->bytes().size() + 1);
        std::copy(packed->bytes().begin(), packed->bytes().end(), copy.begin() + 1);
        auto view = PackedWeightsView::FromBytes(s, copy.data() + 1, copy.size() - 1);
        ASSERT_TRUE(view.ok());
        const UnpackedWeights u = Unpack(*view);
        EXPECT_EQ(u.codes, w.codes) << n << "x" << k << " g" << g;
        EXPECT_EQ(u.scales, w.scales);
        EXPECT_EQ(u.zeros, w.zeros);
      }
}

// Independent statement of the documented byte positions (docs/QUANTIZATION.md).
unsigned DocumentedCode(const uint8_t* blob, const WeightLayout& l, size_t n, size_t k) {
  const int b = l.shape.bits;
  const size_t t = n / 8, r = n % 8, sb = k / 32, c = k % 32, kb = c / 4, kk = c % 4;
  const uint8_t* s = blob + (t * l.superblocks + sb) * 32 * b;
  const size_t lane = 4 * r + kk;
  switch (b) {
    case 8:
      return s[32 * kb + lane];
    case 4:
      return (s[32 * (kb / 2) + lane] >> (4 * (kb % 2))) & 15u;
    case 2:
      return (s[32 * (kb / 4) + lane] >> (2 * (kb % 4))) & 3u;
    default:
      return ((s[32 * (kb / 4) + lane] >> (2 * (kb % 4))) & 3u) |
             (((s[64 + lane] >> kb) & 1u) << 2);
  }
}

TEST_P(PackRoundTrip, BytesAreWhereTheDocsSay) {
  const WeightShape s{GetParam(), 19, 77, 32};
  UnpackedWeights w = RandomWeights(s, 9);
  PackedWeights p = *Pack(s, w.codes, w.scales, w.zeros);
  const WeightLayout& l = p.view().layout();
  const uint8_t* blob = p.bytes().data();
  for (size_t n = 0; n < s.rows; ++n) {
    for (size_t k = 0; k < s.cols; ++k)
      ASSERT_EQ(DocumentedCode(blob, l, n, k), w.codes[n * s.cols + k]) << n << "," << k;
    for (size_t g = 0; g < l.groups; ++g) {
      const size_t at = ((n / 8) * l.groups + g) * 8 + n % 8;
      const uint16_t scale = static_cast<uint16_t>(blob[l.scale_offset + 2 * at] |
                                                   blob[l.scale_offset + 2 * at + 1] << 8);
      EXPECT_EQ(scale, w.scales[n * l.groups + g]);
      EXPECT_EQ(blob[l.zero_offset + at], w.zeros[n * l.groups + g]);
    }
  }
  // Padding rows and columns are zero codes with zero scale and zero point.
  for (size_t n = s.rows; n < l.tiles * 8; ++n)
    for (size_t k = 0; k < l.padded_cols; ++k) EXPECT_EQ(DocumentedCode(blob, l, n, k), 0u);
  for (size_t n = 0; n < s.rows; ++n)
    for (size_t k = s.cols; k < l.padded_cols; ++k) EXPECT_EQ(DocumentedCode(blob, l, n, k), 0u);
}

INSTANTIATE_TEST_SUITE_P(Bits, PackRoundTrip, ::testing::Values(2, 3, 4, 8),
                         [](const auto& info) { return testing::Cat("w", info.param); });

}  // namespace
}  // namespace qasr::kernels
