// lowbit/core/qparams.hpp: observed ranges, quantization parameters, PyTorch's formulas between them, and the one scale check.
//
// The public route from a range to qparams is quantizer::qparams_for (tensor/quantizer.hpp); the
// formulas it applies live here, in detail::, with the checks every entry point shares.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/core/scheme.hpp"

LOWBIT_NAMESPACE_BEGIN

/// Observed [min, max] per qparam slot (one slot per tensor, channel or group). A slot that saw
/// no data holds min = +Inf, max = -Inf, as PyTorch's observers do.
struct range {
  std::vector<float> min;
  std::vector<float> max;

  range() = default;
  explicit range(index_t slots)
      : min(static_cast<std::size_t>(slots), std::numeric_limits<float>::infinity()),
        max(static_cast<std::size_t>(slots), -std::numeric_limits<float>::infinity()) {}
  range(std::vector<float> mins, std::vector<float> maxs) : min(std::move(mins)), max(std::move(maxs)) {}

  index_t size() const noexcept { return static_cast<index_t>(min.size()); }
  friend bool operator==(const range& a, const range& b) { return a.min == b.min && a.max == b.max; }
};

/// Scale and zero point per slot. Symmetric quantizers have zero points equal to
/// symmetric_zero_point<Format>().
struct qparams {
  std::vector<float> scale;
  std::vector<std::int32_t> zero_point;

  qparams() = default;
  qparams(std::vector<float> scales, std::vector<std::int32_t> zero_points)
      : scale(std::move(scales)), zero_point(std::move(zero_points)) {}
  /// One slot: per-tensor qparams.
  qparams(float s, std::int32_t z) : scale{s}, zero_point{z} {}

  index_t size() const noexcept { return static_cast<index_t>(scale.size()); }
  friend bool operator==(const qparams& a, const qparams& b) {
    return a.scale == b.scale && a.zero_point == b.zero_point;
  }
};

/// float32 machine epsilon (2^-23): PyTorch's lower bound for a computed scale.
inline constexpr float scale_eps = std::numeric_limits<float>::epsilon();

namespace detail {

/// The one check of a scale given to lowbit (by a user, a file or another layer): finite, positive
/// and normal. `what` names the entry point, `slot` the position (-1 for a lone scale).
inline void check_scale(float s, const char* what, index_t slot = -1) {
  if (std::isfinite(s) && s >= std::numeric_limits<float>::min()) return;
  const std::string where = slot >= 0 ? concat("[", slot, "]") : std::string();
  if (std::isfinite(s) && s > 0.0f) {
    fail(what, ": scale", where, " = ", s, " is subnormal (below FLT_MIN = ", std::numeric_limits<float>::min(),
         "): its reciprocal overflows. Use a scale of at least FLT_MIN; scales lowbit computes from a range "
         "are never below scale_eps (2^-23), PyTorch's lower bound");
  }
  fail(what, ": scale", where, " = ", s, " is not a positive finite float");
}

/// Largest scale whose grid (q - zp) * scale stays finite for every code q of format F.
template <class Format>
float largest_finite_scale(std::int32_t zero_point) noexcept {
  const auto reach = static_cast<float>(std::max(std::abs(Format::qmin - zero_point), std::abs(Format::qmax - zero_point)));
  float s = std::numeric_limits<float>::max() / reach;
  while (!std::isfinite(s * reach)) s = std::nextafter(s, 0.0f);
  return s;
}

/// (scale, zero point) for one observed [mn, mx], following PyTorch's
/// ObserverBase._calculate_qparams (torch 1.13) in float32 arithmetic:
///   never observed (mn = +Inf, mx = -Inf): scale 1, zero point 0 (PyTorch's default; a
///              symmetric scheme keeps its format's zero point, e.g. 128 for uint8, where PyTorch
///              would return 0)
///   min_neg = min(mn, 0), max_pos = max(mx, 0)
///   symmetric: scale = max(max(-min_neg, max_pos) / ((qmax - qmin) / 2), eps),
///              zero point = symmetric_zero_point<Format>()
///   symmetric_absmax (not PyTorch's): scale = max(max(-min_neg, max_pos) / (qmax - zero point), eps)
///   affine:    scale = max((max_pos - min_neg) / (qmax - qmin), eps),
///              zero point = clamp(qmin - nearbyint(min_neg / scale), qmin, qmax)
/// Two additions to PyTorch, for ranges near the float limit only: an affine range wider than
/// FLT_MAX gets its scale from the width in double (PyTorch's is infinite), and a scale whose grid
/// would overflow float (ranges within about 0.4 % of FLT_MAX, where PyTorch dequantizes the
/// extreme codes to +-Inf) is lowered to the largest scale whose every code dequantizes to a
/// finite value, so extreme data saturates instead of becoming infinite. Raises lowbit::error for
/// NaN or infinite bounds and for mn > mx.
template <class Format, class Scheme>
void qparam_from_range(float mn, float mx, float& scale, std::int32_t& zero_point, const char* what = "qparams",
                       index_t slot = -1) {
  static_assert(is_format_v<Format> && is_scheme_v<Scheme>, "qparam_from_range<Format, Scheme>");
  constexpr float inf = std::numeric_limits<float>::infinity();
  if (mn == inf && mx == -inf) {
    scale = 1.0f;
    zero_point = Scheme::is_affine ? 0 : symmetric_zero_point<Format>();
    return;
  }
  const auto fail_range = [&](const char* why) {
    if (slot >= 0) fail(what, ": slot ", slot, ": range [", mn, ", ", mx, "] ", why);
    fail(what, ": range [", mn, ", ", mx, "] ", why);
  };
  if (!std::isfinite(mn) || !std::isfinite(mx)) fail_range("is not finite");
  if (mn > mx) fail_range("has min > max");
  const float min_neg = std::min(mn, 0.0f);
  const float max_pos = std::max(mx, 0.0f);
  constexpr auto levels = static_cast<float>(Format::qmax - Format::qmin);
  if constexpr (!Scheme::is_affine) {
    const float amax = std::max(-min_neg, max_pos);
    constexpr auto top = static_cast<float>(Format::qmax - symmetric_zero_point<Format>());
    scale = std::max(amax / (Scheme::absmax ? top : levels / 2.0f), scale_eps);
    zero_point = symmetric_zero_point<Format>();
  } else {
    const float width = max_pos - min_neg;
    // A width beyond FLT_MAX (finite ends far apart) is taken in double: scale = width / levels
    // is then an ordinary float, where PyTorch's float32 arithmetic gives an infinite scale.
    scale = std::isfinite(width) ? std::max(width / levels, scale_eps)
                                 : static_cast<float>((static_cast<double>(max_pos) - static_cast<double>(min_neg)) / levels);
    const float shifted = std::nearbyint(min_neg / scale);  // in [-(qmax - qmin), 0]
    zero_point = std::clamp(Format::qmin - static_cast<std::int32_t>(shifted), Format::qmin, Format::qmax);
  }
  // No format reaches more than 255 codes from its zero point: smaller scales need no cap.
  if (scale > std::numeric_limits<float>::max() / 256.0f) scale = std::min(scale, largest_finite_scale<Format>(zero_point));
}

/// Checks qparams before they reach a kernel: `expected` slots, every scale as check_scale wants
/// it, zero points in [qmin, qmax] and, for a symmetric scheme, equal to the format's symmetric
/// zero point, and every grid (q - zero point) * scale finite (scale at most
/// largest_finite_scale).
template <class Format, class Scheme>
void check_qparams(const qparams& p, index_t expected, const char* what) {
  if (p.size() != expected || static_cast<index_t>(p.zero_point.size()) != expected) {
    fail(what, ": expected ", expected, " scales and zero points, got ", p.scale.size(), " scales and ",
         p.zero_point.size(), " zero points");
  }
  for (index_t i = 0; i < expected; ++i) {
    check_scale(p.scale[static_cast<std::size_t>(i)], what, i);
    const std::int32_t zp = p.zero_point[static_cast<std::size_t>(i)];
    if (zp < Format::qmin || zp > Format::qmax) {
      fail(what, ": zero_point[", i, "] = ", zp, " is outside ", Format::name, "'s [", Format::qmin, ", ",
           Format::qmax, "]");
    }
    if (!Scheme::is_affine && zp != symmetric_zero_point<Format>()) {
      fail(what, ": zero_point[", i, "] = ", zp, " but a symmetric ", Format::name, " quantizer uses ",
           symmetric_zero_point<Format>());
    }
    // A grid that overflows float would dequantize its extreme codes to +-Inf. No format reaches
    // more than 255 codes from its zero point, so smaller scales need no closer look.
    const float s = p.scale[static_cast<std::size_t>(i)];
    if (s > std::numeric_limits<float>::max() / 256.0f && s > largest_finite_scale<Format>(zp)) {
      fail(what, ": scale[", i, "] = ", s, " with zero_point ", zp, " puts ", Format::name,
           "'s extreme codes beyond FLT_MAX (they would dequantize to +-Inf); the largest scale for this "
           "zero point is ",
           largest_finite_scale<Format>(zp));
    }
  }
}

}  // namespace detail

LOWBIT_NAMESPACE_END
