// Scratch: the engine's growable activation buffer, a std::vector of floats
// whose growth leaves the new elements uninitialised. Every scratch buffer is
// written by an op before it is read, so value-initialisation would only add
// a serial pass: on a buffer's first use that pass is where the kernel maps
// and zeroes its pages, on the calling thread alone, before the parallel op
// that fills it (and would touch them on every thread) even starts.
// Thread-safety: as std::vector.
#pragma once

#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace qasr::engine {

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
