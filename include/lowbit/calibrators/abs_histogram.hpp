// lowbit/calibrators/abs_histogram.hpp: the histogram of |x| that TensorRT-style calibrators work on.
//
// The observers keep signed histograms over [min, max]. Entropy, percentile and MSE calibration for
// symmetric ranges, as TensorRT / pytorch-quantization define them, work on |x| over [0, amax]. This
// folds a signed histogram into `bins` bins of |x| over [0, max(|min|, |max|)], spreading each
// signed bin's count over the |x| bins it overlaps in proportion to the overlap (values are taken
// as uniform within a bin), a bin that straddles zero contributing to both halves.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/observers/histogram.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace detail {

struct abs_histogram {
  double width = 0;            ///< bin width; bin b covers [b * width, (b + 1) * width)
  std::vector<double> counts;  ///< as many bins as the signed histogram
  double total = 0;
  double amax() const noexcept { return width * static_cast<double>(counts.size()); }
};

inline void add_interval(abs_histogram& out, double a, double b, double mass) {
  // mass spread uniformly over [a, b] (0 <= a <= b)
  const auto bins = static_cast<index_t>(out.counts.size());
  if (mass == 0) return;
  if (b <= a) {
    const index_t at = std::min<index_t>(bins - 1, static_cast<index_t>(a / out.width));
    out.counts[static_cast<std::size_t>(at)] += mass;
    return;
  }
  index_t first = std::min<index_t>(bins - 1, static_cast<index_t>(a / out.width));
  for (index_t d = first; d < bins; ++d) {
    const double da = static_cast<double>(d) * out.width;
    const double de = d == bins - 1 ? b : da + out.width;
    const double overlap = std::min(b, de) - std::max(a, da);
    if (overlap > 0) out.counts[static_cast<std::size_t>(d)] += mass * overlap / (b - a);
    if (de >= b) break;
  }
}

inline abs_histogram fold_abs(const histogram_view& h) {
  abs_histogram out;
  out.counts.assign(static_cast<std::size_t>(h.bins), 0.0);
  const double amax = std::max(std::fabs(static_cast<double>(h.min)), std::fabs(static_cast<double>(h.max)));
  out.width = amax / static_cast<double>(h.bins);
  if (out.width <= 0) {
    out.counts[0] = h.total();
    out.total = out.counts[0];
    return out;
  }
  const double w = (static_cast<double>(h.max) - h.min) / static_cast<double>(h.bins);
  for (index_t b = 0; b < h.bins; ++b) {
    const double c = h.counts[b];
    if (c == 0) continue;
    const double lo = h.min + b * w, hi = lo + w;
    if (lo >= 0) {
      add_interval(out, lo, hi, c);
    } else if (hi <= 0) {
      add_interval(out, -hi, -lo, c);
    } else {  // straddles zero
      add_interval(out, 0, -lo, c * (-lo) / w);
      add_interval(out, 0, hi, c * hi / w);
    }
    out.total += c;
  }
  return out;
}

}  // namespace detail
LOWBIT_NAMESPACE_END
