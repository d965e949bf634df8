// Random low-bit weights and activations for the kernel tests.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/formats/fp16.h"
#include "kernels/formats/weight_format.h"

namespace qasr::kernels::testing {

// Thread count for a test's pool: n, or 1 (no worker threads) when the
// environment sets QASR_TEST_NO_THREADS. Debian 12's qemu-user (7.2) hangs
// dynamically linked programs as soon as they start a thread, so the aarch64
// run (tools/test-arm.sh) checks every kernel single-threaded; the pool itself
// is ISA-independent and is tested natively (and under TSan).
inline bool NoThreads() { return std::getenv("QASR_TEST_NO_THREADS") != nullptr; }
inline size_t TestThreads(size_t n) { return NoThreads() ? 1 : n; }

inline size_t GroupsOf(const WeightShape& s) {
  const size_t gc = s.group < s.cols ? s.group : s.cols;
  return (s.cols + gc - 1) / gc;
}

// Codes and zero points uniform in [0, 2^bits); scales fp16 in +-[2^-10, 2^-2].
inline UnpackedWeights RandomWeights(const WeightShape& s, uint32_t seed) {
  std::mt19937 rng(seed);
  const size_t ng = GroupsOf(s);
  std::uniform_int_distribution<int> code(0, (1 << s.bits) - 1);
  std::uniform_real_distribution<float> mag(-10.0f, -2.0f);
  UnpackedWeights w{s, std::vector<uint8_t>(s.rows * s.cols), std::vector<uint16_t>(s.rows * ng),
                    std::vector<uint8_t>(s.rows * ng)};
  for (auto& c : w.codes) c = static_cast<uint8_t>(code(rng));
  for (auto& z : w.zeros) z = static_cast<uint8_t>(code(rng));
  for (auto& sc : w.scales) {
    const float v = std::exp2(mag(rng)) * ((rng() & 1) ? 1.0f : -1.0f);
    sc = F16FromF32(v);
  }
  return w;
}

// Gaussian-ish activations with a few outliers; size n.
inline std::vector<float> RandomActivations(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(n);
  for (auto& v : x) v = normal(rng);
  for (size_t i = 0; i < n; i += 97) x[i] *= 8.0f;
  return x;
}

// Concatenates with a stream (GCC 12 warns falsely on "literal" + std::string).
template <class... Args>
std::string Cat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

inline std::string ShapeName(const WeightShape& s, size_t m) {
  return Cat("w", s.bits, " M", m, " N", s.rows, " K", s.cols, " G", s.group);
}

}  // namespace qasr::kernels::testing
