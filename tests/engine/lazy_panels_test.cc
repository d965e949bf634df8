// LazyPanels: packs once, on first use, identically to kernels::PackPanels,
// from borrowed, transposed or owned weights, and from several threads at
// once (std::call_once; a -DQASR_SANITIZE=thread build checks the races).
#include <thread>
#include <vector>

#include "engine/ops/linear.h"
#include "gtest/gtest.h"

namespace qasr::engine {
namespace {

std::vector<float> Weights(size_t n, size_t k) {
  std::vector<float> w(n * k);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 97) - 48.0f;
  return w;
}

void ExpectSame(const kernels::DensePanels& got, const std::vector<float>& w, size_t n, size_t k) {
  kernels::DensePanels want;
  ASSERT_TRUE(kernels::PackPanels(w.data(), k, n, k, false, want).ok());
  ASSERT_EQ(got.n, n);
  ASSERT_EQ(got.k, k);
  ASSERT_EQ(got.panels, want.panels);
  for (size_t i = 0; i < want.panels * k * kernels::kPanelCols; ++i)
    ASSERT_EQ(got.data[i], want.data[i]) << i;
}

// The first Get() of `lazy` succeeds and packs exactly what PackPanels packs from `w`.
void ExpectPacks(const LazyPanels& lazy, const std::vector<float>& w, size_t n, size_t k) {
  auto p = lazy.Get();
  ASSERT_TRUE(p.ok());
  ExpectSame(**p, w, n, k);
}

TEST(LazyPanels, BorrowedPacksOnFirstGetOnly) {
  const size_t n = 37, k = 19;
  const std::vector<float> w = Weights(n, k);
  const LazyPanels lazy(w.data(), n, k);
  auto first = lazy.Get();
  ASSERT_TRUE(first.ok());
  ExpectSame(**first, w, n, k);
  auto again = lazy.Get();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*first, *again);
}

TEST(LazyPanels, Transposed) {
  const size_t n = 21, k = 33;
  const std::vector<float> w = Weights(n, k);  // [n][k]
  std::vector<float> t(k * n);                 // [k][n]
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < k; ++j) t[j * n + i] = w[i * k + j];
  ExpectPacks(LazyPanels(t.data(), n, k, true), w, n, k);
}

TEST(LazyPanels, Owned) {
  const size_t n = 16, k = 5;
  const std::vector<float> w = Weights(n, k);
  ExpectPacks(LazyPanels(std::vector<float>(w), n, k), w, n, k);
}

TEST(LazyPanels, ConcurrentFirstUse) {
  const size_t n = 100, k = 300;
  const std::vector<float> w = Weights(n, k);
  for (int round = 0; round < 20; ++round) {
    const LazyPanels lazy(w.data(), n, k);
    std::vector<const kernels::DensePanels*> seen(4, nullptr);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < seen.size(); ++t)
      threads.emplace_back([&, t] {
        auto p = lazy.Get();
        if (p.ok()) seen[t] = *p;
      });
    for (auto& t : threads) t.join();
    for (const auto* p : seen) ASSERT_EQ(p, seen[0]);
    ASSERT_NE(seen[0], nullptr);
    ExpectSame(*seen[0], w, n, k);
  }
}

TEST(LazyPanels, ErrorIsReturnedByEveryGet) {
  const LazyPanels lazy(static_cast<const float*>(nullptr), 4, 4);
  EXPECT_FALSE(lazy.Get().ok());
  EXPECT_FALSE(lazy.Get().ok());
}

}  // namespace
}  // namespace qasr::engine
