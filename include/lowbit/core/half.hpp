// lowbit/core/half.hpp: IEEE 754 binary16 (fp16) storage: exact widening to float, round-half-to-even narrowing.
//
// Group scales of sub-byte weights are stored as fp16 (as llama.cpp's blocks store theirs), and
// file formats carry fp16 tensors. Widening is exact (every fp16 value is a float); narrowing
// rounds to nearest, ties to even, as the F16C instruction vcvtps2ph does in its default mode:
// values beyond 65504 (after rounding) become +-Inf, NaN stays NaN, and values below 2^-14 become
// fp16 subnormals or zero. Both are plain bit manipulation, the same on every CPU.
#pragma once

#include <cstdint>
#include <cstring>

#include "lowbit/config.hpp"

LOWBIT_NAMESPACE_BEGIN

/// The bits of an fp16 value.
using half_bits = std::uint16_t;

inline float half_to_float(half_bits h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1Fu;
  std::uint32_t mantissa = h & 0x3FFu;
  std::uint32_t bits = 0;
  if (exponent == 0x1F) {  // Inf or NaN (the payload kept, quietened)
    bits = sign | 0x7F800000u | (mantissa << 13) | (mantissa != 0 ? 0x00400000u : 0u);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa != 0) {  // subnormal: normalize
    int e = -1;
    do {
      ++e;
      mantissa <<= 1;
    } while ((mantissa & 0x400u) == 0);
    bits = sign | (static_cast<std::uint32_t>(112 - e) << 23) | ((mantissa & 0x3FFu) << 13);
  } else {
    bits = sign;
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline half_bits float_to_half(float f) noexcept {
  std::uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  const auto sign = static_cast<half_bits>((bits >> 16) & 0x8000u);
  const std::uint32_t exponent = (bits >> 23) & 0xFFu;
  const std::uint32_t mantissa = bits & 0x7FFFFFu;
  if (exponent == 0xFF) return static_cast<half_bits>(sign | 0x7C00u | (mantissa != 0 ? 0x200u | (mantissa >> 13) : 0u));
  // Round half to even on the magnitude in units of the target's least significant bit.
  const int e = static_cast<int>(exponent) - 127;
  if (e > 15) return static_cast<half_bits>(sign | 0x7C00u);  // overflow
  std::uint32_t m = mantissa | (exponent != 0 ? 0x800000u : 0u);
  int shift;            // bits of m dropped
  std::uint32_t base;   // exponent field of the result before any carry
  if (e >= -14) {
    shift = 13;
    base = static_cast<std::uint32_t>(e + 15);
    m &= 0x7FFFFFu;     // normal result: the implicit bit is carried by the exponent field
  } else {
    shift = 13 + (-14 - e);  // subnormal result
    base = 0;
    if (shift > 24) return sign;  // below half the smallest subnormal
  }
  const std::uint32_t half_ulp = 1u << (shift - 1), mask = (1u << shift) - 1u;
  std::uint32_t q = m >> shift;
  const std::uint32_t rest = m & mask;
  if (rest > half_ulp || (rest == half_ulp && (q & 1u))) ++q;
  // A carry out of the mantissa moves into the exponent field, as it should (also 0x3FF -> Inf).
  return static_cast<half_bits>(sign | ((base << 10) + q));
}

LOWBIT_NAMESPACE_END
