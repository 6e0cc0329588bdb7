// lowbit/calibrators/mse.hpp: the clipping range with the least expected squared quantization error.
//
// The error of a candidate range is the expected squared error of fake-quantizing the histogram's
// values, taken as uniform within each bin (the integral of (x - q(x))^2 over each bin, in closed
// form), with the qparams the range gives in the target format and scheme (lowbit's own formulas,
// so the chosen range is exactly what the quantizer will use). Bin centers alone would misjudge
// steps finer than a bin, which heavy-tailed data produces.
//   symmetric  candidates amax = i * w on the folded |x| histogram, i = L .. B (L the format's
//              levels for |x|, see entropy.hpp), as TensorRT's MSE calibrator
//   affine     on the signed histogram, the two ends of the zero-including range [min(min, 0),
//              max(max, 0)] are searched in turn (coordinate descent):
//              max * t with min fixed, then min * t with that max, and so on until a round
//              improves nothing, t = 0.97^k down to 0.005 (a geometric grid: 3 % steps at any
//              scale, which heavy tails need), so a one-sided outlier is clipped without clipping
//              the other side
// The first of equal minima wins (the widest range for symmetric, the least shrink for affine).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "lowbit/calibrators/abs_histogram.hpp"
#include "lowbit/calibrators/calibrator.hpp"
#include "lowbit/config.hpp"
#include "lowbit/core/qparams.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace detail {

inline double cube(double x) noexcept { return x * x * x; }

/// Integral over [a, b] of (x - q(x))^2, q rounding to the grid {(k - zp) * scale : qmin <= k <= qmax}
/// and clamping outside it: the exact squared error of values spread uniformly over [a, b].
inline double interval_squared_error(double a, double b, double scale, double lo_point, double hi_point) {
  if (!(b > a)) return 0.0;
  double total = 0;
  const double lo_edge = lo_point - scale / 2, hi_edge = hi_point + scale / 2;
  // Below the grid: error x - lo_point; above it: x - hi_point.
  if (a < lo_edge) {
    const double e = std::min(b, lo_edge);
    total += (cube(e - lo_point) - cube(a - lo_point)) / 3;
  }
  if (b > hi_edge) {
    const double s = std::max(a, hi_edge);
    total += (cube(b - hi_point) - cube(s - hi_point)) / 3;
  }
  // Inside: the error t - scale * round(t / scale) (t measured from lo_point) is periodic.
  const double ia = std::max(a, lo_edge), ib = std::min(b, hi_edge);
  if (ib > ia) {
    const auto primitive = [&](double x) {  // integral of the periodic error from lo_edge to x
      const double t = (x - lo_edge) / scale;
      const double periods = std::floor(t);
      const double y = (t - periods - 0.5) * scale;  // error at x, in [-scale / 2, scale / 2)
      return periods * scale * scale * scale / 12 + (y * y * y + scale * scale * scale / 8) / 3;
    };
    total += primitive(ib) - primitive(ia);
  }
  return total;
}

/// Expected squared error (times the count) of fake-quantizing a histogram with the qparams of
/// [lo, hi], values uniform within each bin: bin b covers [origin + b w, origin + (b + 1) w].
template <class Format, class Scheme>
double histogram_mse(const double* counts, index_t bins, double origin, double width, float lo, float hi) {
  float scale = 1;
  std::int32_t zp = 0;
  detail::qparam_from_range<Format, Scheme>(lo, hi, scale, zp);
  const double s = scale;
  const double lo_point = static_cast<double>(Format::qmin - zp) * s, hi_point = static_cast<double>(Format::qmax - zp) * s;
  double err = 0;
  for (index_t b = 0; b < bins; ++b) {
    const double c = counts[b];
    if (c == 0) continue;
    const double a = origin + static_cast<double>(b) * width;
    err += c / width * interval_squared_error(a, a + width, s, lo_point, hi_point);
  }
  return err;
}

}  // namespace detail

struct mse_calibrator : detail::histogram_calibrator<mse_calibrator> {
  template <class Quantizer>
  void choose_slot(const Quantizer&, const histogram_view& h, float& lo, float& hi) const {
    using Format = typename Quantizer::format;
    using Scheme = typename Quantizer::scheme;
    if constexpr (!Scheme::is_affine) {
      const detail::abs_histogram a = detail::fold_abs(h);
      const auto bins = static_cast<index_t>(a.counts.size());
      const index_t first = std::min(bins, detail::quantized_bins<Format, Scheme>(h.min >= 0));
      double best = std::numeric_limits<double>::infinity();
      index_t best_i = bins;
      for (index_t i = bins; i >= first && i > 0; --i) {  // widest first: ties keep the wider range
        const auto amax = static_cast<float>(a.width * static_cast<double>(i));
        const double e = detail::histogram_mse<Format, Scheme>(a.counts.data(), bins, 0.0, a.width, -amax, amax);
        if (e < best) {
          best = e;
          best_i = i;
        }
      }
      const auto amax = static_cast<float>(a.width * static_cast<double>(best_i));
      lo = -amax;
      hi = amax;
    } else {
      std::vector<double> counts(h.counts, h.counts + h.bins);
      const double w = (static_cast<double>(h.max) - h.min) / static_cast<double>(h.bins);
      // The ends are those of the range the qparams formulas use, zero included: for one-sided
      // data (all positive, all negative) the end at zero stays there and only the other moves.
      const float lo_end = std::min(h.min, 0.0f), hi_end = std::max(h.max, 0.0f);
      float best_lo = lo_end, best_hi = hi_end;
      double best = detail::histogram_mse<Format, Scheme>(counts.data(), h.bins, h.min, w, best_lo, best_hi);
      for (int pass = 0; pass < 16; ++pass) {  // until a full round improves nothing
        const bool upper = pass % 2 == 0;
        const double before = best;
        const float end = upper ? hi_end : lo_end;
        for (float t = 0.97f; t > 0.005f; t *= 0.97f) {
          const float moved = end * t;
          const float l = upper ? best_lo : moved, r = upper ? moved : best_hi;
          const double e = detail::histogram_mse<Format, Scheme>(counts.data(), h.bins, h.min, w, l, r);
          if (e < best) {
            best = e;
            best_lo = l;
            best_hi = r;
          }
        }
        if (pass > 0 && best == before && pass % 2 == 1) break;
      }
      lo = best_lo;
      hi = best_hi;
    }
  }
};

LOWBIT_NAMESPACE_END
