// IEEE 754 binary16 <-> binary32 conversion (scalar, exact, no CPU features).
// Group scales are stored as fp16; this is the reference the SIMD code and the
// Python exporter (torch.float16) must match bit for bit.
// Thread-safety: pure functions.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace qasr::kernels {

// Exact widening; subnormals, infinities and NaNs (quiet) included.
inline float F32FromF16(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t mant = h & 0x3FFu;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24, exact in fp32
    const float mag = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -mag : mag;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7F800000u | (mant << 13));
  return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (mant << 13));
}

// Round to nearest, ties to even (what torch's .half() does). Values of
// magnitude >= 65520 become infinity; NaN stays NaN.
inline uint16_t F16FromF32(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  x &= 0x7FFFFFFFu;
  if (x >= 0x7F800000u) return sign | (x > 0x7F800000u ? 0x7E00u : 0x7C00u);
  if (x >= 0x477FF000u) return sign | 0x7C00u;
  if (x < 0x38800000u) {  // below the smallest normal fp16 (2^-14)
    // Scaling by 2^24 is exact; nearbyint rounds half to even.
    const float scaled = std::nearbyint(std::bit_cast<float>(x) * 16777216.0f);
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(scaled));
  }
  x += 0xFFFu + ((x >> 13) & 1u);  // round to nearest even at bit 13
  return static_cast<uint16_t>(sign | ((x - 0x38000000u) >> 13));
}

inline bool F16IsFinite(uint16_t h) { return ((h >> 10) & 0x1Fu) != 31u; }

}  // namespace qasr::kernels
