// tests/fuzz/fuzz_input.hpp: turns a fuzzer's bytes into the choices and values of one test case.
//
// Every read is defined for any input: past the end, reads return zeros, so a short input is a
// small, plain case rather than an error.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace lowbit_fuzz {

class input {
 public:
  input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  std::uint32_t u32() {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | byte();
    return v;
  }
  /// An integer in [lo, hi].
  int range(int lo, int hi) { return lo + static_cast<int>(u32() % static_cast<std::uint32_t>(hi - lo + 1)); }
  bool flag() { return (byte() & 1) != 0; }

  /// A float that is often ordinary and sometimes extreme: any bit pattern (NaN, Inf, subnormals),
  /// values near FLT_MAX, zeros of both signs, or small multiples of a step.
  float value() {
    switch (byte() % 8) {
      case 0: {
        const std::uint32_t bits = u32();
        float f;
        std::memcpy(&f, &bits, 4);
        return f;
      }
      case 1: return (flag() ? -1.f : 1.f) * std::numeric_limits<float>::max() / static_cast<float>(1 + byte() % 8);
      case 2: return flag() ? -0.f : 0.f;
      default: return static_cast<float>(static_cast<std::int8_t>(byte())) * 0.0625f * static_cast<float>(1 + byte() % 4);
    }
  }
  /// A value that is finite (for cases whose subject is not bad data).
  float finite_value() {
    const float v = value();
    return std::isfinite(v) ? v : 1.f;
  }
  std::size_t left() const { return pos_ < size_ ? size_ - pos_ : 0; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

/// Aborts (a finding) when a property that must hold does not.
inline void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz: property violated: %s\n", what);
    std::abort();
  }
}

}  // namespace lowbit_fuzz
