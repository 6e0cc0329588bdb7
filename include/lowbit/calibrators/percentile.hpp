// lowbit/calibrators/percentile.hpp: clip at a percentile of the observed distribution.
//
//   symmetric  amax = the right edge of the |x| bin where the cumulative count reaches p percent,
//              on the folded |x| histogram, so at least p percent of the values are inside
//              (pytorch-quantization's percentile calibrator returns that bin's left edge, one bin
//              narrower); the range is [-amax, amax]
//   affine     [left edge of the bin where the cumulative count first exceeds (100 - p) percent,
//              right edge of the bin where it reaches p percent] of the signed histogram: each
//              tail gives up at most 100 - p percent
// p defaults to 99.99 and must be in (0, 100]; p = 100 keeps the whole observed range.
#pragma once

#include <algorithm>
#include <cmath>

#include "lowbit/calibrators/abs_histogram.hpp"
#include "lowbit/calibrators/calibrator.hpp"
#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"

LOWBIT_NAMESPACE_BEGIN

struct percentile_calibrator : detail::histogram_calibrator<percentile_calibrator> {
  double percentile = 99.99;

  percentile_calibrator() = default;
  explicit percentile_calibrator(double p) : percentile(p) {
    if (!(p > 0.0 && p <= 100.0)) detail::fail("percentile_calibrator: percentile ", p, " is not in (0, 100]");
  }

  template <class Quantizer>
  void choose_slot(const Quantizer&, const histogram_view& h, float& lo, float& hi) const {
    using Scheme = typename Quantizer::scheme;
    const double p = percentile / 100.0;
    if constexpr (!Scheme::is_affine) {
      const detail::abs_histogram a = detail::fold_abs(h);
      double cum = 0;
      index_t idx = static_cast<index_t>(a.counts.size()) - 1;
      for (index_t b = 0; b < static_cast<index_t>(a.counts.size()); ++b) {
        cum += a.counts[static_cast<std::size_t>(b)];
        if (cum >= p * a.total) {
          idx = b;
          break;
        }
      }
      const auto amax = static_cast<float>(a.width * static_cast<double>(idx + 1));
      lo = -amax;  // the symmetric formulas use max(|lo|, |hi|)
      hi = amax;
    } else {
      const double total = h.total(), w = (static_cast<double>(h.max) - h.min) / static_cast<double>(h.bins);
      double cum = 0;
      index_t first = 0, last = h.bins - 1;
      bool found_first = false;
      for (index_t b = 0; b < h.bins; ++b) {
        cum += h.counts[b];
        if (!found_first && cum > (1.0 - p) * total) {
          first = b;
          found_first = true;
        }
        if (cum >= p * total) {
          last = b;
          break;
        }
      }
      lo = static_cast<float>(h.min + w * static_cast<double>(first));
      hi = static_cast<float>(h.min + w * static_cast<double>(last + 1));
      lo = std::max(lo, h.min);
      hi = std::min(hi, h.max);
    }
  }
};

LOWBIT_NAMESPACE_END
