// A fixed-size thread pool for data-parallel loops over tiles, shared by the
// engine's layers. ParallelFor allocates nothing; which thread runs which task
// is unspecified, so callers make each task's result independent of it
// (the kernels do: every output element is computed by one task, in one order).
// Thread-safety: ParallelFor may be called by one thread at a time (it is not
// reentrant); construction and destruction are not concurrent with it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace qasr::kernels {

class ThreadPool {
 public:
  // num_threads counts the calling thread: 1 means no worker threads.
  explicit ThreadPool(size_t num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t num_threads() const { return workers_.size() + 1; }

  // Calls fn(task) for every task in [0, num_tasks) and returns when all
  // have finished. fn must not throw.
  template <class F>
  void ParallelFor(size_t num_tasks, const F& fn) {
    Run(
        num_tasks, false, [](const void* ctx, size_t task) { (*static_cast<const F*>(ctx))(task); },
        &fn);
  }

  // Like ParallelFor, but task i is meant for thread i (0: the calling thread, i: the i-th
  // worker): each thread first claims its own task, then any left unclaimed. A series of such
  // loops over the same split of the data (the encoder's row slices) keeps each part in one
  // core's caches; moving data between cores costs far more than reading it from the own L2 when
  // the two vCPUs sit on different core complexes (measured here: 400 ns against 85 ns for a
  // round trip, 40 against 130 GB/s for reading another core's writes). A thread not running yet
  // still never holds the others up: a free thread takes its task. Which thread runs a task is
  // thus only likely, not guaranteed; results must not depend on it. Above kMaxAffineTasks tasks
  // (one claim bit each) it is a plain ParallelFor.
  static constexpr size_t kMaxAffineTasks = 31;
  template <class F>
  void ParallelForAffine(size_t num_tasks, const F& fn) {
    Run(
        num_tasks, true, [](const void* ctx, size_t task) { (*static_cast<const F*>(ctx))(task); },
        &fn);
  }

 private:
  using TaskFn = void (*)(const void* ctx, size_t task);
  void Run(size_t num_tasks, bool affine, TaskFn fn, const void* ctx);
  // Claims and runs tasks of loop `generation` until none is left or a newer
  // loop has started; `self` is the thread's index (0: the caller).
  void RunTasks(uint32_t generation, size_t self);
  void WorkerLoop(size_t self);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  // The current loop's generation (high 32 bits; the top one marks an affine loop) and its next
  // unclaimed task (low 32 bits; in an affine loop the set of claimed tasks, one bit each),
  // claimed by compare-and-swap: a task is claimed only while its loop is current, so a worker
  // that wakes late, after the caller has run every task itself, claims nothing of the finished
  // loop. The caller waits for its tasks, never for workers to check in: a worker slow to wake (a
  // wake-up through the kernel costs tens of microseconds, more in a VM whose other vCPU has
  // halted) or busy elsewhere only takes fewer tasks. While Run writes a loop's parameters, its
  // task field is kPublishing.
  static constexpr uint32_t kPublishing = 0xFFFFFFFFu;
  static constexpr uint32_t kAffine = 0x80000000u;
  std::atomic<uint64_t> work_{0};
  std::atomic<bool> stop_{false};
  // Written before work_ publishes a loop; read after a claim of that loop
  // succeeds (which orders them), or speculatively before it (relaxed; a
  // stale value only makes that claim's compare-and-swap fail).
  std::atomic<TaskFn> fn_{nullptr};
  std::atomic<const void*> ctx_{nullptr};
  std::atomic<size_t> num_tasks_{0};
  std::atomic<size_t> tasks_done_{0};
};

// pool->ParallelFor(num_tasks, fn), or without a pool every task in order on
// the calling thread (as ParallelFor itself does with one thread or task).
template <class F>
void ParallelFor(ThreadPool* pool, size_t num_tasks, const F& fn) {
  if (pool == nullptr) {
    for (size_t t = 0; t < num_tasks; ++t) fn(t);
    return;
  }
  pool->ParallelFor(num_tasks, fn);
}

}  // namespace qasr::kernels
