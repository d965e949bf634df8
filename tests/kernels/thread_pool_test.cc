#include "kernels/base/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "tests/kernels/test_util.h"

namespace qasr::kernels {
namespace {

TEST(ThreadPool, RunsEveryTaskOnce) {
  if (testing::NoThreads()) GTEST_SKIP() << "QASR_TEST_NO_THREADS is set";
  for (size_t threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.num_threads(), threads);
    for (size_t n : {0, 1, 2, 7, 100, 1000}) {
      std::vector<std::atomic<int>> hits(n);
      pool.ParallelFor(n, [&](size_t i) { hits[i].fetch_add(1); });
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << threads << " " << n;
    }
  }
}

TEST(ThreadPool, ManyShortLoops) {
  if (testing::NoThreads()) GTEST_SKIP() << "QASR_TEST_NO_THREADS is set";
  ThreadPool pool(3);
  std::atomic<size_t> total{0};
  for (int rep = 0; rep < 2000; ++rep) pool.ParallelFor(5, [&](size_t i) { total += i; });
  EXPECT_EQ(total.load(), 2000u * 10);
}

}  // namespace
}  // namespace qasr::kernels
