// lowbit/kernels/elementwise_scalar.hpp: scalar reference of the elementwise kernels (the specification).
//
// Every vectorized path of kernels/elementwise_*.hpp must produce bit-identical output to these
// functions. Conventions shared by all paths:
//
//   quantize   q = clamp(nearbyint(R(x, f)) + zp, qmin, qmax), R = x * f (f = 1/scale) or x / f
//              (f = scale), nearbyint = round half to even. Computed as
//              nearbyint(clamp(R(x, f), qmin - zp, qmax - zp)) + zp, which is the same for integer
//              bounds and keeps the float-to-int conversion in range.
//   dequantize x = float(q - zp) * scale (one rounding: q - zp is exact in float).
//   packing    codes of B bits, 8 / B per byte, element i of a run in bits [B*(i % (8/B)), ...) of
//              byte i / (8/B): the first element in the low bits (ONNX order). The unused bits of
//              a last partial byte are zero.
//   min/max    running minimum and maximum; the kernels report whether any element was NaN or
//              +-Inf (then the values they return are unspecified and the caller decides).
//   finite     quantize reports (returns false) when it met NaN, or +-Inf unless the saturating
//              inf policy is selected; its output is then unspecified and the caller throws.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "lowbit/config.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/core/scheme.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace kernels {

/// Largest |x| accepted as a quantize input under an inf policy: FLT_MAX for error, +Inf for
/// saturate (so only NaN is rejected).
inline float finite_limit(inf_policy inf) noexcept {
  return inf == inf_policy::error ? std::numeric_limits<float>::max()
                                  : std::numeric_limits<float>::infinity();
}

namespace scalar {

/// Quantizes one value with an explicit factor (1/scale or scale, per Rounding).
template <class F, class Rounding>
LOWBIT_ALWAYS_INLINE std::int32_t quantize_value(float x, float factor, std::int32_t zp) noexcept {
  const float lo = static_cast<float>(F::qmin - zp);
  const float hi = static_cast<float>(F::qmax - zp);
  float v = Rounding::apply(x, factor);
  v = v < lo ? lo : v;  // NaN stays NaN here; callers have rejected it
  v = v > hi ? hi : v;
  if (std::isnan(v)) return zp;
  return static_cast<std::int32_t>(std::nearbyint(v)) + zp;
}

/// Copies the packed codes of n elements (from a byte boundary) to `out`: whole bytes as they
/// are, and in a partial last byte only the codes it holds, its unused high bits cleared, as
/// store_code leaves them. The vector kernels quantize a short tail into a padded buffer and copy
/// it out with this.
template <class F>
LOWBIT_ALWAYS_INLINE void copy_codes(std::uint8_t* out, const std::uint8_t* codes, index_t n) noexcept {
  const index_t full = n / F::per_byte, rem = n % F::per_byte;
  for (index_t b = 0; b < full; ++b) out[b] = codes[b];
  if (rem != 0) out[full] = static_cast<std::uint8_t>(codes[full] & ((1u << (rem * F::bits)) - 1u));
}

/// Writes `code` (already in [qmin, qmax]) as element `i` of a packed run.
template <class F>
LOWBIT_ALWAYS_INLINE void store_code(std::uint8_t* out, index_t i, std::int32_t code) noexcept {
  if constexpr (F::per_byte == 1) {
    out[i] = static_cast<std::uint8_t>(code);
  } else {
    const int shift = static_cast<int>(i % F::per_byte) * F::bits;
    std::uint8_t& byte = out[i / F::per_byte];
    const auto bits = static_cast<std::uint8_t>((static_cast<unsigned>(code) & F::code_mask) << shift);
    if (shift == 0) {
      byte = bits;  // first code of the byte: also clears the unused high bits
    } else {
      byte = static_cast<std::uint8_t>(byte | bits);
    }
  }
}

/// Reads element `i` of a packed run, sign-extended for signed formats.
template <class F>
LOWBIT_ALWAYS_INLINE std::int32_t load_code(const std::uint8_t* in, index_t i) noexcept {
  if constexpr (F::per_byte == 1) {
    return F::is_signed ? static_cast<std::int32_t>(static_cast<std::int8_t>(in[i]))
                        : static_cast<std::int32_t>(in[i]);
  } else {
    const int shift = static_cast<int>(i % F::per_byte) * F::bits;
    const auto raw = static_cast<std::int32_t>((in[i / F::per_byte] >> shift) & F::code_mask);
    if constexpr (F::is_signed) {
      constexpr std::int32_t sign = 1 << (F::bits - 1);
      return (raw ^ sign) - sign;
    } else {
      return raw;
    }
  }
}

/// Quantizes x[0, n) with one (factor, zero point) into the packed run `out`.
template <class F, class Rounding>
bool quantize(const float* LOWBIT_RESTRICT x, index_t n, float factor, std::int32_t zp,
              inf_policy inf, std::uint8_t* LOWBIT_RESTRICT out) noexcept {
  const float limit = finite_limit(inf);
  bool ok = true;
  for (index_t i = 0; i < n; ++i) {
    ok &= std::fabs(x[i]) <= limit;
    store_code<F>(out, i, quantize_value<F, Rounding>(x[i], factor, zp));
  }
  return ok;
}

/// Quantizes x[0, n) where element i has its own (factors[i], zps[i]).
template <class F, class Rounding>
bool quantize_vec(const float* LOWBIT_RESTRICT x, index_t n, const float* factors,
                  const std::int32_t* zps, inf_policy inf,
                  std::uint8_t* LOWBIT_RESTRICT out) noexcept {
  const float limit = finite_limit(inf);
  bool ok = true;
  for (index_t i = 0; i < n; ++i) {
    ok &= std::fabs(x[i]) <= limit;
    store_code<F>(out, i, quantize_value<F, Rounding>(x[i], factors[i], zps[i]));
  }
  return ok;
}

/// Dequantizes the packed run `in` (n codes) with one (scale, zero point).
template <class F>
void dequantize(const std::uint8_t* LOWBIT_RESTRICT in, index_t n, float scale, std::int32_t zp,
                float* LOWBIT_RESTRICT out) noexcept {
  for (index_t i = 0; i < n; ++i) out[i] = static_cast<float>(load_code<F>(in, i) - zp) * scale;
}

template <class F>
void dequantize_vec(const std::uint8_t* LOWBIT_RESTRICT in, index_t n, const float* scales,
                    const std::int32_t* zps, float* LOWBIT_RESTRICT out) noexcept {
  for (index_t i = 0; i < n; ++i) out[i] = static_cast<float>(load_code<F>(in, i) - zps[i]) * scales[i];
}

/// Folds x[0, n) into the running [mn, mx]; returns false if x holds NaN or +-Inf.
inline bool minmax(const float* x, index_t n, float& mn, float& mx) noexcept {
  constexpr float big = std::numeric_limits<float>::max();
  bool ok = true;
  float lo = mn, hi = mx;
  for (index_t i = 0; i < n; ++i) {
    ok &= std::fabs(x[i]) <= big;
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
  }
  mn = lo;
  mx = hi;
  return ok;
}

/// Elementwise running min/max: mins[i] = min(mins[i], x[i]) (a column reduction step).
inline bool minmax_vec(const float* LOWBIT_RESTRICT x, index_t n, float* LOWBIT_RESTRICT mins,
                       float* LOWBIT_RESTRICT maxs) noexcept {
  constexpr float big = std::numeric_limits<float>::max();
  bool ok = true;
  for (index_t i = 0; i < n; ++i) {
    ok &= std::fabs(x[i]) <= big;
    mins[i] = x[i] < mins[i] ? x[i] : mins[i];
    maxs[i] = x[i] > maxs[i] ? x[i] : maxs[i];
  }
  return ok;
}

}  // namespace scalar
}  // namespace kernels
LOWBIT_NAMESPACE_END
