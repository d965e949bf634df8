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

// 20000 back-to-back loops on pools of 2-4 threads, loop `rep` of
// tasks(rep) tasks started by run(pool, n, task): every task runs exactly
// once in its own loop, and no task index reaches past its loop's end.
template <class Tasks, class Run>
void ExpectEachTaskOnce(size_t most_tasks, const Tasks& tasks, const Run& run) {
  for (size_t threads : {2, 3, 4}) {
    ThreadPool pool(threads);
    std::vector<std::atomic<int>> hits(most_tasks);
    std::atomic<int> out_of_range{0};
    for (int rep = 0; rep < 20000; ++rep) {
      const size_t n = tasks(rep);
      for (size_t i = 0; i < n; ++i) hits[i].store(0, std::memory_order_relaxed);
      run(pool, rep, n, [&](size_t i) {
        if (i >= n) {
          out_of_range.fetch_add(1);
          return;
        }
        hits[i].fetch_add(1, std::memory_order_relaxed);
      });
      for (size_t i = 0; i < n; ++i)
        ASSERT_EQ(hits[i].load(std::memory_order_relaxed), 1) << threads << " " << rep << " " << i;
    }
    EXPECT_EQ(out_of_range.load(), 0) << threads;
  }
}

// Back-to-back loops of changing sizes: a worker that still holds the previous
// loop's last index when the next loop starts must not claim past either
// loop's end, and every task runs exactly once in its own loop.
TEST(ThreadPool, LoopsOfChangingSizesRunEachTaskOnce) {
  if (testing::NoThreads()) GTEST_SKIP() << "QASR_TEST_NO_THREADS is set";
  ExpectEachTaskOnce(
      16, [](int rep) { return 2 + static_cast<size_t>(rep * 7 % 13); },  // 2..14, never twice
      [](ThreadPool& pool, int, size_t n, const auto& task) { pool.ParallelFor(n, task); });
}

// Affine loops (task i meant for thread i, then any left) interleaved with
// plain ones of changing sizes, more tasks than threads included (then the
// threads take each other's): every task runs exactly once in its own loop;
// above kMaxAffineTasks the loop falls back to plain claiming.
TEST(ThreadPool, AffineLoopsRunEachTaskOnce) {
  if (testing::NoThreads()) GTEST_SKIP() << "QASR_TEST_NO_THREADS is set";
  ExpectEachTaskOnce(
      40, [](int rep) { return rep % 97 == 0 ? 40 : 1 + static_cast<size_t>(rep * 7 % 31); },
      [](ThreadPool& pool, int rep, size_t n, const auto& task) {
        if (rep % 3 == 0) {
          pool.ParallelFor(n, task);
        } else {
          pool.ParallelForAffine(n, task);
        }
      });
}

// The caller takes task 0 of an affine loop; a task that waits for another
// task proves the workers claim theirs while the caller is busy.
TEST(ThreadPool, AffineWorkersTakeTheirTasks) {
  if (testing::NoThreads()) GTEST_SKIP() << "QASR_TEST_NO_THREADS is set";
  ThreadPool pool(3);
  for (int rep = 0; rep < 200; ++rep) {
    std::atomic<int> done{0};
    pool.ParallelForAffine(3, [&](size_t) {
      done.fetch_add(1);
      while (done.load() < 3) {
      }
    });
    ASSERT_EQ(done.load(), 3);
  }
}

}  // namespace
}  // namespace qasr::kernels
