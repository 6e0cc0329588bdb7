// lowbit/gemm/output.hpp: the output stages that turn the GEMM's int32 sums into results.
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
// product, the bias is added with a fused multiply-add (y = fma(float(acc), sa * sw, bias)), and
// nearbyint rounds half to even. The kernels therefore agree bit for bit whatever the compiler
// contracts elsewhere.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/core/qparams.hpp"

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

namespace detail {

inline void check_output(const output_int32&) {}
inline void check_output(const output_float& o) {
  if (std::isnan(o.lo) || std::isnan(o.hi) || o.lo > o.hi)
    fail("output clamp [", o.lo, ", ", o.hi, "] is empty or NaN");
}
template <class F>
void check_output(const output_requantized<F>& o) {
  check_output(o.pre);
  check_scale(o.scale, "requantize (output)");
  if (o.zero_point < F::qmin || o.zero_point > F::qmax)
    fail("requantize: output zero point ", o.zero_point, " is outside [", F::qmin, ", ", F::qmax, "]");
}

/// Writes one row segment of results: acc[j] for columns n0 .. n0 + count - 1 of row m.
/// `w_scales` and `bias` point at column n0.
inline void store_output(const output_int32&, const std::int32_t* acc, index_t count, float,
                         const float*, const float*, std::int32_t* out) noexcept {
  for (index_t j = 0; j < count; ++j) out[j] = acc[j];
}

inline float float_result(const output_float& o, std::int32_t acc, float a_scale, float w_scale,
                          const float* bias) noexcept {
  const float s = a_scale * w_scale;
  const float y = bias != nullptr && o.use_bias ? std::fma(static_cast<float>(acc), s, *bias)
                                                : static_cast<float>(acc) * s;
  return std::min(std::max(y, o.lo), o.hi);
}

inline void store_output(const output_float& o, const std::int32_t* acc, index_t count,
                         float a_scale, const float* w_scales, const float* bias,
                         float* out) noexcept {
  for (index_t j = 0; j < count; ++j)
    out[j] = float_result(o, acc[j], a_scale, w_scales[j], bias ? bias + j : nullptr);
}

template <class F>
void store_output(const output_requantized<F>& o, const std::int32_t* acc, index_t count,
                  float a_scale, const float* w_scales, const float* bias,
                  typename F::code_type* out) noexcept {
  const float inv = 1.0f / o.scale;
  const float lo = static_cast<float>(F::qmin - o.zero_point);
  const float hi = static_cast<float>(F::qmax - o.zero_point);
  for (index_t j = 0; j < count; ++j) {
    float v = float_result(o.pre, acc[j], a_scale, w_scales[j], bias ? bias + j : nullptr) * inv;
    v = std::min(std::max(v, lo), hi);
    out[j] = static_cast<typename F::code_type>(static_cast<std::int32_t>(std::nearbyint(v)) + o.zero_point);
  }
}

}  // namespace detail
LOWBIT_NAMESPACE_END
