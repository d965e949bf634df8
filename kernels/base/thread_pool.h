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
        num_tasks, [](const void* ctx, size_t task) { (*static_cast<const F*>(ctx))(task); }, &fn);
  }

 private:
  using TaskFn = void (*)(const void* ctx, size_t task);
  void Run(size_t num_tasks, TaskFn fn, const void* ctx);
  void RunTasks();
  void WorkerLoop();

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  // Written under mu_ (so condition-variable waits see them) but atomic, so
  // that waiters can spin on them briefly before blocking: a wake-up through
  // the kernel costs tens of microseconds, as much as a small layer's work.
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::atomic<size_t> busy_workers_{0};
  // The current loop; written under mu_ before generation_ advances.
  TaskFn fn_ = nullptr;
  const void* ctx_ = nullptr;
  size_t num_tasks_ = 0;
  std::atomic<size_t> next_task_{0};
};

}  // namespace qasr::kernels
