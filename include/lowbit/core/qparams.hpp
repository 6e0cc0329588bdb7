// lowbit/core/qparams.hpp: observed ranges, quantization parameters, and PyTorch's formulas between them.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
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
};

/// Scale and zero point per slot. Symmetric quantizers have zero points equal to
/// symmetric_zero_point<Format>().
struct qparams {
  std::vector<float> scale;
  std::vector<std::int32_t> zero_point;

  qparams() = default;
  qparams(std::vector<float> scales, std::vector<std::int32_t> zero_points)
      : scale(std::move(scales)), zero_point(std::move(zero_points)) {}

  index_t size() const noexcept { return static_cast<index_t>(scale.size()); }
  friend bool operator==(const qparams& a, const qparams& b) {
    return a.scale == b.scale && a.zero_point == b.zero_point;
  }
};

/// float32 machine epsilon (2^-23): PyTorch's lower bound for a computed scale.
inline constexpr float scale_eps = std::numeric_limits<float>::epsilon();

/// (scale, zero point) for one observed [mn, mx], following PyTorch's
/// ObserverBase._calculate_qparams (torch 1.13) in float32 arithmetic:
///   never observed (mn = +Inf, mx = -Inf): scale 1, zero point 0 (PyTorch's default; a
///              symmetric scheme keeps its format's zero point, e.g. 128 for uint8, where PyTorch
///              would return 0)
///   min_neg = min(mn, 0), max_pos = max(mx, 0)
///   symmetric: scale = max(max(-min_neg, max_pos) / ((qmax - qmin) / 2), eps),
///              zero point = symmetric_zero_point<Format>()
///   affine:    scale = max((max_pos - min_neg) / (qmax - qmin), eps),
///              zero point = clamp(qmin - nearbyint(min_neg / scale), qmin, qmax)
/// Raises lowbit::error for NaN or infinite bounds, mn > mx, or a range whose width overflows.
template <class Format, class Scheme>
void compute_qparam(float mn, float mx, float& scale, std::int32_t& zero_point) {
  static_assert(is_format_v<Format> && is_scheme_v<Scheme>, "compute_qparam<Format, Scheme>");
  constexpr float inf = std::numeric_limits<float>::infinity();
  if (mn == inf && mx == -inf) {
    scale = 1.0f;
    zero_point = Scheme::is_affine ? 0 : symmetric_zero_point<Format>();
    return;
  }
  if (!std::isfinite(mn) || !std::isfinite(mx)) detail::fail("range [", mn, ", ", mx, "] is not finite");
  if (mn > mx) detail::fail("range [", mn, ", ", mx, "] has min > max");
  const float min_neg = std::min(mn, 0.0f);
  const float max_pos = std::max(mx, 0.0f);
  constexpr auto levels = static_cast<float>(Format::qmax - Format::qmin);
  if constexpr (!Scheme::is_affine) {
    const float amax = std::max(-min_neg, max_pos);
    scale = std::max(amax / (levels / 2.0f), scale_eps);
    zero_point = symmetric_zero_point<Format>();
  } else {
    const float width = max_pos - min_neg;
    if (!std::isfinite(width))
      detail::fail("range [", mn, ", ", mx, "] is too wide: max - min overflows float");
    scale = std::max(width / levels, scale_eps);
    const float shifted = std::nearbyint(min_neg / scale);  // in [-(qmax - qmin), 0]
    zero_point = std::clamp(Format::qmin - static_cast<std::int32_t>(shifted), Format::qmin,
                            Format::qmax);
  }
}

/// qparams for every slot of a range.
template <class Format, class Scheme>
qparams qparams_from_range(const range& r) {
  if (r.min.size() != r.max.size())
    detail::fail("range has ", r.min.size(), " minima but ", r.max.size(), " maxima");
  qparams out;
  out.scale.resize(r.min.size());
  out.zero_point.resize(r.min.size());
  for (std::size_t i = 0; i < r.min.size(); ++i)
    compute_qparam<Format, Scheme>(r.min[i], r.max[i], out.scale[i], out.zero_point[i]);
  return out;
}

/// Checks user-given qparams before they reach a kernel: `expected` slots, every scale finite,
/// positive and normal (a subnormal scale's reciprocal overflows), zero points in [qmin, qmax]
/// and, for a symmetric scheme, equal to the format's symmetric zero point.
template <class Format, class Scheme>
void validate_qparams(const qparams& p, index_t expected, const char* what = "qparams") {
  if (p.size() != expected || static_cast<index_t>(p.zero_point.size()) != expected) {
    detail::fail(what, ": expected ", expected, " scales and zero points, got ", p.scale.size(),
                 " scales and ", p.zero_point.size(), " zero points");
  }
  for (index_t i = 0; i < expected; ++i) {
    const float s = p.scale[static_cast<std::size_t>(i)];
    if (!(std::isfinite(s) && s >= std::numeric_limits<float>::min())) {
      detail::fail(what, ": scale[", i, "] = ", s,
                   " is not a positive normal float (zero, negative, NaN, Inf or subnormal)");
    }
    const std::int32_t zp = p.zero_point[static_cast<std::size_t>(i)];
    if (zp < Format::qmin || zp > Format::qmax) {
      detail::fail(what, ": zero_point[", i, "] = ", zp, " is outside ", Format::name, "'s [",
                   Format::qmin, ", ", Format::qmax, "]");
    }
    if (!Scheme::is_affine && zp != symmetric_zero_point<Format>()) {
      detail::fail(what, ": zero_point[", i, "] = ", zp, " but a symmetric ", Format::name,
                   " quantizer uses ", symmetric_zero_point<Format>());
    }
  }
}

LOWBIT_NAMESPACE_END
