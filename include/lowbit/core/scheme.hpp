// lowbit/core/scheme.hpp: quantization schemes (symmetric, symmetric_absmax, affine) and quantize-step rounding policies.
#pragma once

#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/format.hpp"

LOWBIT_NAMESPACE_BEGIN

namespace detail {
struct scheme_tag {};
struct rounding_tag {};
}  // namespace detail

/// Symmetric: the range is [-amax, amax] and the zero point is fixed by the format
/// (0 for signed formats, see symmetric_zero_point()).
/// PyTorch's scale: amax / ((qmax - qmin) / 2), so amax maps to a half code beyond the format
/// (7.5 for int4, 127.5 for int8) and the largest value is clipped by half a step.
struct symmetric : detail::scheme_tag {
  static constexpr bool is_affine = false;
  static constexpr bool absmax = false;
  static constexpr const char* name = "symmetric";
};
/// Symmetric with the absmax scale of the block formats (llama.cpp's Q8_0, bitsandbytes):
/// scale = amax / (qmax - zp), so that amax maps to qmax exactly and nothing is clipped (for int4
/// the code -8 is then unused). Same zero point and storage as symmetric.
struct symmetric_absmax : detail::scheme_tag {
  static constexpr bool is_affine = false;
  static constexpr bool absmax = true;
  static constexpr const char* name = "symmetric_absmax";
};
/// Affine (asymmetric): scale and zero point are both chosen from [min, max].
struct affine : detail::scheme_tag {
  static constexpr bool is_affine = true;
  static constexpr bool absmax = false;
  static constexpr const char* name = "affine";
};

template <class T>
inline constexpr bool is_scheme_v = std::is_base_of_v<detail::scheme_tag, T>;

/// The scheme of a quantizer that names none: symmetric for signed formats (PyTorch's default for
/// weights, qint8 per_tensor_symmetric), affine for unsigned ones (its default for activations,
/// quint8 per_tensor_affine with MinMaxObserver). So quantizer<uint8> is affine, quantizer<int8>
/// symmetric.
template <class Format, class = void>
struct default_scheme {
  using type = symmetric;  // not a format: the quantizer's static_assert says so
};
template <class Format>
struct default_scheme<Format, std::enable_if_t<is_format_v<Format>>> {
  using type = std::conditional_t<Format::is_signed, symmetric, affine>;
};
template <class Format>
using default_scheme_t = typename default_scheme<Format>::type;

namespace detail {
/// "8, 4, 3 or 2" for the widths 8, 4, 3, 2.
template <int... Widths>
std::string widths_text() {
  const int w[] = {Widths...};
  std::string t;
  for (std::size_t i = 0; i < sizeof...(Widths); ++i)
    t += (i == 0 ? "" : i + 1 == sizeof...(Widths) ? " or " : ", ") + std::to_string(w[i]);
  return t;
}
}  // namespace detail

/// Calls fn(format, scheme) with the weight format of `bits` bits and its scheme: the signed
/// format with `symmetric`, or (affine) the unsigned one with `affine`, the pairs the weight tools
/// offer (mixed precision, lowbit-quantize, the demo), and returns what fn returns. The widths a
/// caller handles are template arguments (8, 4, 3 and 2 by default), so fn is instantiated only for
/// those; other widths throw lowbit::error naming `who`.
template <int... Widths, class Fn>
decltype(auto) with_weight_format(int bits, bool affine_scheme, Fn&& fn, const char* who = "with_weight_format") {
  if constexpr (sizeof...(Widths) == 0) {
    return with_weight_format<8, 4, 3, 2>(bits, affine_scheme, fn, who);
  } else {
    using result = decltype(fn(int8{}, symmetric{}));
    const auto call = [&](auto width) -> result {
      constexpr int w = decltype(width)::value;
      static_assert(w == 8 || w == 4 || w == 3 || w == 2, "with_weight_format: widths are 8, 4, 3 or 2");
      using S = std::conditional_t<w == 8, int8, std::conditional_t<w == 4, int4, std::conditional_t<w == 3, int3, int2>>>;
      using U = std::conditional_t<w == 8, uint8, std::conditional_t<w == 4, uint4, std::conditional_t<w == 3, uint3, uint2>>>;
      if (affine_scheme) return fn(U{}, affine{});
      return fn(S{}, symmetric{});
    };
    if constexpr (std::is_void_v<result>) {
      const bool found = ((bits == Widths ? (call(std::integral_constant<int, Widths>{}), true) : false) || ...);
      if (!found) detail::fail(who, ": ", bits, " bits; ", detail::widths_text<Widths...>(), " are supported");
    } else {
      std::optional<result> out;
      const bool found = ((bits == Widths ? (out.emplace(call(std::integral_constant<int, Widths>{})), true) : false) || ...);
      if (!found) detail::fail(who, ": ", bits, " bits; ", detail::widths_text<Widths...>(), " are supported");
      return result(std::move(*out));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Quantize-step rounding. Both round half to even (the default floating-point environment's
// rounding, as std::nearbyint and cvtps2dq do), then add the zero point and saturate:
//   reciprocal_multiply (PyTorch, FBGEMM):  q = clamp(nearbyint(x * (1.0f / scale)) + zp)
//   true_divide (ONNX QuantizeLinear):      q = clamp(nearbyint(x / scale) + zp)
// They disagree when x * fl(1/scale) and x / scale round to different sides of a .5 tie, e.g.
// scale = 0.00214854861f, x = 0.273939937f (exactly 127.499995...): the division rounds to
// 127.49999 -> 127, the reciprocal product to exactly 127.5 -> 128. Tests cover both.
// ---------------------------------------------------------------------------------------------
struct reciprocal_multiply : detail::rounding_tag {
  static constexpr bool divides = false;
  static constexpr const char* name = "reciprocal_multiply";
  /// The per-qparam factor the kernels apply: the float reciprocal of the scale.
  static float factor(float scale) noexcept { return 1.0f / scale; }
  static float apply(float x, float factor) noexcept { return x * factor; }
};
struct true_divide : detail::rounding_tag {
  static constexpr bool divides = true;
  static constexpr const char* name = "true_divide";
  static float factor(float scale) noexcept { return scale; }
  static float apply(float x, float factor) noexcept { return x / factor; }
};

template <class T>
inline constexpr bool is_rounding_v = std::is_base_of_v<detail::rounding_tag, T>;

/// What quantize does with +-Inf. NaN is always an error: it has no meaningful code.
enum class inf_policy {
  error,     ///< default: throw lowbit::error naming the first non-finite element
  saturate,  ///< opt-in: +Inf -> qmax, -Inf -> qmin
};

LOWBIT_NAMESPACE_END
