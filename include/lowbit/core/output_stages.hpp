// lowbit/core/output_stages.hpp: what a GEMM makes of its int32 sums, as small value types composed by the caller.
//
// For output element (m, n) the GEMM first forms the exact int32 sum
//
//   acc = sum_k (a[m][k] - za[m]) * w[n][k]
//
// and then applies one output stage, built by composition:
//
//   output_int32()                                   acc
//   output_float()                                   y = acc * (sa[m] * sw[n]) [+ bias[n]]
//   output_float().relu() / .clamp(lo, hi)           y clamped
//   output_float().requantize<uint8>(s, z)           q = clamp(nearbyint(y * (1/s)) + z, qmin, qmax)
//
// Every float step is written out so that all paths round identically: sa[m] * sw[n] is one float
// product, the bias is added with a fused multiply-add (y = fma(float(acc), sa * sw, bias)), the
// clamp is std::min(std::max(y, lo), hi), and nearbyint rounds half to even. The arithmetic itself
// is kernels/gemm_scalar.hpp's (the specification every path's vectorized version matches bit for
// bit); these types only carry the parameters, so that kernels can take them.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "lowbit/config.hpp"
#include "lowbit/core/format.hpp"

LOWBIT_NAMESPACE_BEGIN

/// The raw int32 sums.
struct output_int32 {
  using value_type = std::int32_t;
};

template <class F>
struct output_requantized;

/// Float results: acc * (sa[m] * sw[n]), plus the packed bias unless without_bias(), then an
/// optional clamp (relu() is clamp(0, +Inf)). The builders return modified copies:
/// `output_float{}.relu().requantize<uint8>(s, z)`.
struct output_float {
  using value_type = float;
  bool use_bias = true;
  float lo = -std::numeric_limits<float>::infinity();
  float hi = std::numeric_limits<float>::infinity();

  output_float without_bias() const noexcept {
    output_float o = *this;
    o.use_bias = false;
    return o;
  }
  output_float relu() const noexcept { return clamp(0.0f, hi); }
  /// Narrows the clamp to [low, high] (intersected with the current one). A NaN bound is kept as
  /// NaN, and the GEMM rejects it, instead of being dropped by the comparison.
  output_float clamp(float low, float high) const noexcept {
    output_float o = *this;
    o.lo = std::isnan(low) || std::isnan(o.lo) ? std::numeric_limits<float>::quiet_NaN() : std::max(o.lo, low);
    o.hi = std::isnan(high) || std::isnan(o.hi) ? std::numeric_limits<float>::quiet_NaN() : std::min(o.hi, high);
    return o;
  }
  /// Requantizes the float result to format F (int8 or uint8) with an output scale and zero point.
  template <class F>
  output_requantized<F> requantize(float scale, std::int32_t zero_point) const;
};

/// int8 / uint8 results: q = clamp(nearbyint(y * (1/scale)) + zero_point, qmin, qmax), y from the
/// float stage.
template <class F>
struct output_requantized {
  static_assert(F::bits == 8, "requantize to int8 or uint8 (or int8_narrow)");
  using value_type = typename F::code_type;
  using format = F;
  output_float pre;
  float scale = 1.0f;
  std::int32_t zero_point = 0;
};

template <class F>
output_requantized<F> output_float::requantize(float scale, std::int32_t zero_point) const {
  return output_requantized<F>{*this, scale, zero_point};
}

LOWBIT_NAMESPACE_END
