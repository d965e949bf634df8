#include "kernels/base/thread_pool.h"

#include <algorithm>
#include <bit>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace qasr::kernels {

namespace {

// How long a waiter polls before it blocks: about one small layer. Workers
// that find the next loop within this window start it without a system call.
constexpr auto kSpin = std::chrono::microseconds(50);

void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Polls done() for up to kSpin; true if it became true.
template <class Done>
bool SpinUntil(const Done& done) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      CpuRelax();
    }
    if (std::chrono::steady_clock::now() >= until) return false;
  }
}

}  // namespace

ThreadPool::ThreadPool(size_t num_threads) {
  const size_t workers = num_threads > 1 ? num_threads - 1 : 0;
  workers_.reserve(workers);
  for (size_t i = 0; i < workers; ++i) workers_.emplace_back([this, i] { WorkerLoop(i + 1); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true, std::memory_order_release);
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::RunTasks(uint32_t generation, size_t self) {
  const bool affine = (generation & kAffine) != 0;
  uint64_t w = work_.load(std::memory_order_acquire);
  for (;;) {
    if (static_cast<uint32_t>(w >> 32) != generation) return;
    const uint32_t low = static_cast<uint32_t>(w);
    if (low == kPublishing) {  // Run is writing this loop's parameters
      CpuRelax();
      w = work_.load(std::memory_order_acquire);
      continue;
    }
    // Acquire: a task count of a newer loop is seen only after that loop
    // closed this one (kPublishing), so the claim below then fails.
    const size_t n = num_tasks_.load(std::memory_order_acquire);
    uint32_t task = low;
    uint64_t claimed = w + 1;
    if (affine) {
      // low: the claimed tasks' bits (n <= kMaxAffineTasks, so never
      // kPublishing). Own task first, else the first unclaimed one.
      const uint32_t open = ~low & ((uint32_t{1} << n) - 1);
      if (open == 0) return;
      task = self < n && (open >> self & 1u) != 0 ? static_cast<uint32_t>(self)
                                                  : static_cast<uint32_t>(std::countr_zero(open));
      claimed = w | (uint64_t{1} << task);
    } else if (task >= n) {
      return;
    }
    // On failure w is reloaded: another thread claimed this task, or a newer
    // loop has started.
    if (!work_.compare_exchange_weak(w, claimed, std::memory_order_acq_rel,
                                     std::memory_order_acquire))
      continue;
    // The claim succeeded while `generation` was current with `task` < n
    // unfinished, so its caller is still in Run: fn_, ctx_, n are its own.
    fn_.load(std::memory_order_relaxed)(ctx_.load(std::memory_order_relaxed), task);
    if (tasks_done_.fetch_add(1, std::memory_order_acq_rel) + 1 == n) {
      // Under the lock, so a caller between its check and its wait cannot
      // miss the notification.
      std::lock_guard<std::mutex> lock(mu_);
      done_.notify_one();
    }
    w = work_.load(std::memory_order_acquire);
  }
}

void ThreadPool::Run(size_t num_tasks, bool affine, TaskFn fn, const void* ctx) {
  if (num_tasks == 0) return;
  if (workers_.empty() || num_tasks == 1) {
    for (size_t t = 0; t < num_tasks; ++t) fn(ctx, t);
    return;
  }
  if (affine && num_tasks > kMaxAffineTasks) affine = false;  // plain claiming then
  // Task indices live in 32 bits of work_.
  constexpr size_t kMaxTasks = size_t{1} << 31;
  if (num_tasks > kMaxTasks) {
    for (size_t base = 0; base < num_tasks; base += kMaxTasks) {
      struct Slice {
        TaskFn fn;
        const void* ctx;
        size_t base;
      } slice{fn, ctx, base};
      Run(
          std::min(kMaxTasks, num_tasks - base), false,
          [](const void* c, size_t t) {
            const auto& s = *static_cast<const Slice*>(c);
            s.fn(s.ctx, s.base + t);
          },
          &slice);
    }
    return;
  }
  uint32_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // First close the finished loop to claims (a worker holding its last
    // index and this loop's new task count must not claim past its end),
    // then write the parameters, then open the new loop at task 0.
    // The generation counts in the low 31 bits; the top bit marks an affine
    // loop (any change of the high word starts a new loop for the workers).
    generation =
        ((static_cast<uint32_t>(work_.load(std::memory_order_relaxed) >> 32) + 1) & ~kAffine) |
        (affine ? kAffine : 0u);
    work_.store(uint64_t{generation} << 32 | kPublishing, std::memory_order_relaxed);
    fn_.store(fn, std::memory_order_relaxed);
    ctx_.store(ctx, std::memory_order_relaxed);
    tasks_done_.store(0, std::memory_order_relaxed);
    num_tasks_.store(num_tasks, std::memory_order_release);
    work_.store(uint64_t{generation} << 32, std::memory_order_release);
  }
  wake_.notify_all();
  RunTasks(generation, 0);
  const auto all_done = [&] { return tasks_done_.load(std::memory_order_acquire) == num_tasks; };
  if (SpinUntil(all_done)) return;
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, all_done);
}

void ThreadPool::WorkerLoop(size_t self) {
  uint32_t seen = 0;
  for (;;) {
    const auto woken = [&] {
      return stop_.load(std::memory_order_acquire) ||
             static_cast<uint32_t>(work_.load(std::memory_order_acquire) >> 32) != seen;
    };
    if (!SpinUntil(woken)) {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, woken);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = static_cast<uint32_t>(work_.load(std::memory_order_acquire) >> 32);
    RunTasks(seen, self);
  }
}

}  // namespace qasr::kernels
