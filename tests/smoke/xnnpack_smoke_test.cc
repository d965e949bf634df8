// XNNPACK initialises and its f32 fully-connected operator matches a loop.
#include <gtest/gtest.h>
#include <xnnpack.h>

#include <limits>
#include <memory>
#include <vector>

namespace {

struct OperatorDeleter {
  void operator()(xnn_operator_t op) const { xnn_delete_operator(op); }
};

TEST(XnnpackSmoke, FullyConnectedF32MatchesLoop) {
  ASSERT_EQ(xnn_initialize(nullptr), xnn_status_success);
  constexpr size_t kBatch = 3, kIn = 19, kOut = 7;
  std::vector<float> x(kBatch * kIn + XNN_EXTRA_BYTES / sizeof(float));
  std::vector<float> w(kOut * kIn), bias(kOut), y(kBatch * kOut);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 5) - 2.f;
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.25f * static_cast<float>(i % 9) - 1.f;
  for (size_t i = 0; i < bias.size(); ++i) bias[i] = static_cast<float>(i);

  xnn_operator_t raw = nullptr;
  ASSERT_EQ(xnn_create_fully_connected_nc_f32(kIn, kOut, kIn, kOut, w.data(), bias.data(),
                                              -std::numeric_limits<float>::infinity(),
                                              std::numeric_limits<float>::infinity(), 0, &raw),
            xnn_status_success);
  std::unique_ptr<xnn_operator, OperatorDeleter> op(raw);
  ASSERT_EQ(xnn_setup_fully_connected_nc_f32(op.get(), kBatch, x.data(), y.data(), nullptr),
            xnn_status_success);
  ASSERT_EQ(xnn_run_operator(op.get(), nullptr), xnn_status_success);

  for (size_t b = 0; b < kBatch; ++b)
    for (size_t o = 0; o < kOut; ++o) {
      float ref = bias[o];
      for (size_t i = 0; i < kIn; ++i) ref += x[b * kIn + i] * w[o * kIn + i];
      EXPECT_NEAR(y[b * kOut + o], ref, 1e-4f);
    }
}

}  // namespace
