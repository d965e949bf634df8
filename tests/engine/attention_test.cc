// engine::Attention against a double-precision reference, at lengths where
// the queries are processed in several blocks (tk = 1500: 48-row blocks) and
// with masked keys, packed in full (decoder cross-attention) or only the
// valid ones (encoder self-attention).
#include "engine/ops/attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/base/thread_pool.h"

namespace qasr::engine {
namespace {

std::vector<float> Random(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  std::vector<float> v(n);
  for (auto& x : v) x = normal(rng);
  return v;
}

// out[i][h*hd + j] = sum_s softmax_s(scale * q_i . k_s) v_s over s < valid.
std::vector<double> Reference(const AttentionShape& shape, float scale, const std::vector<float>& q,
                              const std::vector<float>& k, const std::vector<float>& v, size_t tq,
                              size_t valid) {
  const size_t d = shape.d(), hd = shape.head_dim;
  std::vector<double> out(tq * d, 0.0), p(valid);
  for (size_t h = 0; h < shape.heads; ++h)
    for (size_t i = 0; i < tq; ++i) {
      double mx = -1e300, sum = 0.0;
      for (size_t s = 0; s < valid; ++s) {
        double dot = 0.0;
        for (size_t j = 0; j < hd; ++j)
          dot += static_cast<double>(q[i * d + h * hd + j] * scale) * k[s * d + h * hd + j];
        p[s] = dot;
        mx = std::max(mx, dot);
      }
      for (size_t s = 0; s < valid; ++s) sum += p[s] = std::exp(p[s] - mx);
      for (size_t s = 0; s < valid; ++s)
        for (size_t j = 0; j < hd; ++j)
          out[i * d + h * hd + j] += p[s] / sum * v[s * d + h * hd + j];
    }
  return out;
}

std::vector<float> Check(size_t tq, size_t tk, size_t valid, size_t packed_keys, size_t threads) {
  const AttentionShape shape{4, 64};
  const size_t d = shape.d();
  std::mt19937 rng(static_cast<unsigned>(tq * 31 + tk + valid));
  const auto q = Random(tq * d, rng), k = Random(tk * d, rng), v = Random(tk * d, rng);
  const float scale = 0.125f;
  kernels::ThreadPool pool(threads);
  const OpContext ctx{nullptr, &kernels::ChosenDenseKernels(), &pool};
  HeadPanels kv;
  EXPECT_TRUE(PackHeads(ctx, k.data(), v.data(), d, packed_keys, shape, kv).ok());
  AttentionScratch scratch;
  std::vector<float> out(tq * d, -1.0f);
  EXPECT_TRUE(
      Attention(ctx, shape, scale, q.data(), d, tq, kv, valid, out.data(), d, scratch).ok());
  const auto ref = Reference(shape, scale, q, k, v, tq, valid);
  double worst = 0.0;
  for (size_t i = 0; i < out.size(); ++i) worst = std::max(worst, std::abs(out[i] - ref[i]));
  EXPECT_LT(worst, 1e-5) << "tq " << tq << " tk " << tk << " valid " << valid;
  // Bounded scratch: one block of query rows per thread, not [tq][tk].
  EXPECT_LE(scratch.scores.size(), threads * std::max<size_t>(48 * packed_keys, size_t{1} << 16));
  return out;
}

TEST(Attention, LongSequenceInBlocksMatchesReference) {
  for (size_t threads : {1, 2, 3}) {
    Check(100, 1500, 1500, 1500, threads);  // 48 + 48 + 4 query rows
    Check(100, 1500, 1400, 1500, threads);  // masked keys packed (cross-attention)
    Check(100, 1500, 1400, 1400, threads);  // only valid keys packed (self-attention)
    Check(7, 40, 33, 40, threads);          // one block smaller than the tile
  }
}

// (head, query block) items run on any thread: the bits do not change.
TEST(Attention, ThreadCountDoesNotChangeBits) {
  const auto one = Check(100, 1500, 1400, 1400, 1);
  for (size_t threads : {2, 3, 5}) EXPECT_EQ(Check(100, 1500, 1400, 1400, threads), one);
}

}  // namespace
}  // namespace qasr::engine
