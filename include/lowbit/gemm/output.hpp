// lowbit/gemm/output.hpp: quantized activations, and the output stages that turn int32 sums into results.
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

LOWBIT_NAMESPACE_BEGIN

/// Quantized activations: an M x K matrix of int8 or uint8 codes, row-major with leading
/// dimension ld (in elements), a zero point per tensor (or per row) and a scale per tensor (or per
/// row, "per token"). Scales matter only for float and requantized outputs.
struct quantized_activations {
  const std::uint8_t* data = nullptr;  ///< codes (int8 codes are read through this pointer too)
  bool is_signed = false;              ///< int8 codes (true) or uint8 codes (false)
  index_t rows = 0, cols = 0, ld = 0;
  std::int32_t zero_point = 0;
  const std::int32_t* row_zero_points = nullptr;  ///< overrides zero_point when set (M values)
  float scale = 1.0f;
  const float* row_scales = nullptr;              ///< overrides scale when set (M values)

  quantized_activations() = default;
  quantized_activations(const std::uint8_t* codes, index_t m, index_t k, index_t leading,
                        std::int32_t zp = 0, float s = 1.0f)
      : data(codes), is_signed(false), rows(m), cols(k), ld(leading), zero_point(zp), scale(s) {}
  quantized_activations(const std::int8_t* codes, index_t m, index_t k, index_t leading,
                        std::int32_t zp = 0, float s = 1.0f)
      : data(reinterpret_cast<const std::uint8_t*>(codes)), is_signed(true), rows(m), cols(k),
        ld(leading), zero_point(zp), scale(s) {}

  std::int32_t zero_point_of(index_t m) const noexcept { return row_zero_points ? row_zero_points[m] : zero_point; }
  float scale_of(index_t m) const noexcept { return row_scales ? row_scales[m] : scale; }
  std::int32_t code(index_t m, index_t k) const noexcept {
    const std::uint8_t b = data[m * ld + k];
    return is_signed ? static_cast<std::int32_t>(static_cast<std::int8_t>(b)) : static_cast<std::int32_t>(b);
  }
};

/// The raw int32 sums.
struct output_int32 {
  using value_type = std::int32_t;
};

template <class F>
struct output_requantized;

/// Float results: acc * (sa[m] * sw[n]), plus the packed bias unless without_bias(), then an
/// optional clamp (relu() is clamp(0, +Inf)).
struct output_float {
  using value_type = float;
  bool use_bias = true;
  float lo = -std::numeric_limits<float>::infinity();
  float hi = std::numeric_limits<float>::infinity();

  output_float& without_bias() noexcept {
    use_bias = false;
    return *this;
  }
  output_float& relu() noexcept { return clamp(0.0f, hi); }
  output_float& clamp(float low, float high) noexcept {
    lo = std::max(lo, low);
    hi = std::min(hi, high);
    return *this;
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
  if (!(std::isfinite(o.scale) && o.scale >= std::numeric_limits<float>::min()))
    fail("requantize: output scale ", o.scale, " is not a positive normal float");
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
