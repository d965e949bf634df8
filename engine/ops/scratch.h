// Scratch: the engine's growable activation buffer, a std::vector of floats
// whose growth leaves the new elements uninitialised. Every scratch buffer is
// written by an op before it is read, so value-initialisation would only add
// a serial pass: on a buffer's first use that pass is where the kernel maps
// and zeroes its pages, on the calling thread alone, before the parallel op
// that fills it (and would touch them on every thread) even starts.
//
// Buffers of kHugeScratchBytes or more are allocated 2 MiB-aligned and
// advised for transparent huge pages (Linux, where the kernel allows it), so
// a fresh buffer costs one page fault per 2 MiB instead of one per 4 KiB: an
// encoder call's first use of its VGG chunk buffers (2 x 8 MiB) faulted 4096
// pages, ~5.7 ms on the 2-vCPU VM, more than a quarter of the bundled model's
// 10 s encoder time, and none of it shrank with threads.
// Thread-safety: as std::vector.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace qasr::engine {

inline constexpr size_t kHugeScratchBytes = size_t{2} << 20;

// Storage for a scratch buffer of `bytes` >= kHugeScratchBytes: 2 MiB-aligned
// from the C allocator (so sanitizers still see it), advised for huge pages.
// Throws std::bad_alloc. Release with std::free.
void* AllocateLargeScratch(size_t bytes);

// std::allocator that default-initialises on value-less construction
// (resize(n)); construction with arguments is unchanged.
template <class T>
struct DefaultInitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  DefaultInitAllocator() noexcept = default;
  template <class U>
  DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}
  T* allocate(size_t n) {
    if (n >= kHugeScratchBytes / sizeof(T) && n <= SIZE_MAX / sizeof(T))
      return static_cast<T*>(AllocateLargeScratch(n * sizeof(T)));
    return std::allocator<T>::allocate(n);
  }
  void deallocate(T* p, size_t n) noexcept {
    if (n >= kHugeScratchBytes / sizeof(T) && n <= SIZE_MAX / sizeof(T)) {
      std::free(p);
    } else {
      std::allocator<T>::deallocate(p, n);
    }
  }
  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

using Scratch = std::vector<float, DefaultInitAllocator<float>>;

// Grows v to at least n elements (never shrinks; new elements uninitialised).
inline void Grow(Scratch& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

}  // namespace qasr::engine
