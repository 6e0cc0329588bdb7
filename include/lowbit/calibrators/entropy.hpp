// lowbit/calibrators/entropy.hpp: the clipping range that minimizes KL divergence (TensorRT's entropy calibration).
//
// On the folded |x| histogram (calibrators/abs_histogram.hpp) with B bins, as TensorRT and
// pytorch-quantization define it:
//   - bin 0 is given the count of bin 1 (the spike of exact zeros after a ReLU would dominate)
//   - for each candidate i = L, L + stride, ..., B (L = the format's levels for |x|: 2^(bits - 1),
//     or 2^bits when nothing negative was observed; 128 for int8):
//       P = the first i bins, with the count of all bins >= i added to bin i - 1
//       Q = the first i bins merged into L slots (bin j into slot floor(j * L / i)), each slot's
//           count spread evenly back over its non-empty bins (empty bins stay 0)
//       KL(P || Q) = sum over P > 0 of P log(P / Q), both normalized (+Inf where Q = 0 < P)
//   - amax = i * bin width for the i with the smallest divergence (the last one among equals)
// The range is [-amax, amax] for symmetric schemes and [max(min, -amax), min(max, amax)] for
// affine ones. There is no peer to compare against here; the tests check known answers and an
// independent implementation.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "lowbit/calibrators/abs_histogram.hpp"
#include "lowbit/calibrators/calibrator.hpp"
#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"

LOWBIT_NAMESPACE_BEGIN

struct entropy_calibrator : detail::histogram_calibrator<entropy_calibrator> {
  index_t stride = 1;

  entropy_calibrator() = default;
  explicit entropy_calibrator(index_t candidate_stride) : stride(candidate_stride) {
    if (candidate_stride < 1) detail::fail("entropy_calibrator: stride must be positive, got ", candidate_stride);
  }

  /// The KL-optimal number of |x| bins to keep (the candidate i above) for `levels` slots.
  static index_t best_bins(std::vector<double> bins, index_t levels, index_t stride) {
    const auto n = static_cast<index_t>(bins.size());
    if (n > 1) bins[0] = bins[1];
    std::vector<double> suffix(static_cast<std::size_t>(n + 1), 0.0);
    for (index_t j = n; j-- > 0;) suffix[static_cast<std::size_t>(j)] = suffix[static_cast<std::size_t>(j + 1)] + bins[static_cast<std::size_t>(j)];
    std::vector<double> slot_sum(static_cast<std::size_t>(levels));
    std::vector<index_t> slot_nonempty(static_cast<std::size_t>(levels));
    double best = std::numeric_limits<double>::infinity();
    index_t best_i = n;
    for (index_t i = std::min(levels, n); i <= n; i += stride) {
      std::fill(slot_sum.begin(), slot_sum.end(), 0.0);
      std::fill(slot_nonempty.begin(), slot_nonempty.end(), index_t{0});
      double total_q = 0;
      for (index_t j = 0; j < i; ++j) {
        const double c = bins[static_cast<std::size_t>(j)];
        if (c == 0) continue;
        const auto s = static_cast<std::size_t>(j * levels / i);
        slot_sum[s] += c;
        ++slot_nonempty[s];
        total_q += c;
      }
      const double outliers = suffix[static_cast<std::size_t>(i)];
      const double total_p = total_q + outliers;
      if (total_p <= 0 || total_q <= 0) continue;
      double kl = 0;
      for (index_t j = 0; j < i; ++j) {
        double pj = bins[static_cast<std::size_t>(j)];
        if (j == i - 1) pj += outliers;
        if (pj <= 0) continue;
        const double c = bins[static_cast<std::size_t>(j)];
        const auto s = static_cast<std::size_t>(j * levels / i);
        const double qj = c == 0 ? 0.0 : slot_sum[s] / static_cast<double>(slot_nonempty[s]);
        if (qj <= 0) {
          kl = std::numeric_limits<double>::infinity();
          break;
        }
        const double pn = pj / total_p, qn = qj / total_q;
        kl += pn * std::log(pn / qn);
      }
      if (kl <= best) {  // <=: the last minimum
        best = kl;
        best_i = i;
      }
    }
    return best_i;
  }

  template <class Format, class Scheme>
  void choose_slot(const histogram_view& h, float& lo, float& hi) const {
    const detail::abs_histogram a = detail::fold_abs(h);
    const index_t levels = detail::quantized_bins<Format>(h.min >= 0);
    const index_t keep = best_bins(a.counts, levels, stride);
    const auto amax = static_cast<float>(a.width * static_cast<double>(keep));
    lo = Scheme::is_affine ? std::max(h.min, -amax) : -amax;
    hi = Scheme::is_affine ? std::min(h.max, amax) : amax;
  }
};

LOWBIT_NAMESPACE_END
