// lowbit/calibrators/entropy.hpp: the clipping range that minimizes KL divergence (TensorRT's entropy calibration).
//
// On the folded |x| histogram (calibrators/abs_histogram.hpp) with B bins, as TensorRT and
// pytorch-quantization define it:
//   - bin 0 is given the count of bin 1 (the spike of exact zeros after a ReLU would dominate)
//   - for each candidate i = L, L + stride, ..., B (L = the levels covering [0, amax]: 2^(bits - 1)
//     for symmetric schemes, 128 for int8; 2^bits for affine ones when nothing negative was
//     observed):
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
  ///
  /// With P and Q the totals of the unnormalized p and q,
  ///   KL = (1/P) sum_j p_j (ln p_j - ln q_j) + ln(Q / P),
  /// and within a slot every nonzero q_j equals the slot's average, so each candidate costs O(levels)
  /// with prefix sums of counts, of nonzero-bin counts and of c ln c, instead of O(i).
  static index_t best_bins(std::vector<double> bins, index_t levels, index_t stride) {
    const auto n = static_cast<index_t>(bins.size());
    if (n > 1) bins[0] = bins[1];
    std::vector<double> sum(static_cast<std::size_t>(n + 1), 0.0), xlogx(static_cast<std::size_t>(n + 1), 0.0);
    std::vector<index_t> nonzero(static_cast<std::size_t>(n + 1), 0);
    for (index_t j = 0; j < n; ++j) {
      const double c = bins[static_cast<std::size_t>(j)];
      sum[static_cast<std::size_t>(j + 1)] = sum[static_cast<std::size_t>(j)] + c;
      xlogx[static_cast<std::size_t>(j + 1)] = xlogx[static_cast<std::size_t>(j)] + (c > 0 ? c * std::log(c) : 0.0);
      nonzero[static_cast<std::size_t>(j + 1)] = nonzero[static_cast<std::size_t>(j)] + (c > 0 ? 1 : 0);
    }
    const auto S = [&](index_t a, index_t b) { return sum[static_cast<std::size_t>(b)] - sum[static_cast<std::size_t>(a)]; };
    const auto NZ = [&](index_t a, index_t b) { return nonzero[static_cast<std::size_t>(b)] - nonzero[static_cast<std::size_t>(a)]; };
    double best = std::numeric_limits<double>::infinity();
    index_t best_i = n;
    for (index_t i = std::min(levels, n); i <= n; i += stride) {
      const double total_q = S(0, i);
      const double outliers = S(i, n);
      const double total_p = total_q + outliers;
      if (total_p <= 0 || total_q <= 0) continue;
      const double last = bins[static_cast<std::size_t>(i - 1)];
      const double p_last = last + outliers;
      if (last == 0 && p_last > 0) continue;  // q = 0 < p at the last bin: KL = +Inf
      // sum_j p_j ln p_j: bins before the last as they are, the last with the outliers.
      double acc = xlogx[static_cast<std::size_t>(i - 1)] + (p_last > 0 ? p_last * std::log(p_last) : 0.0);
      // sum_j p_j ln q_j, slot by slot: slot s holds bins [ceil(s i / L), ceil((s + 1) i / L)).
      for (index_t s = 0; s < levels; ++s) {
        const index_t a = (s * i + levels - 1) / levels, b = ((s + 1) * i + levels - 1) / levels;
        const index_t count = NZ(a, b);
        if (count == 0) continue;
        const double slot_sum = S(a, b);
        const double lq = std::log(slot_sum / static_cast<double>(count));
        double p_in_slot = slot_sum;
        if (a <= i - 1 && i - 1 < b) p_in_slot += outliers;
        acc -= p_in_slot * lq;
      }
      const double kl = acc / total_p + std::log(total_q / total_p);
      if (kl <= best) {  // <=: the last minimum
        best = kl;
        best_i = i;
      }
    }
    return best_i;
  }

  template <class Quantizer>
  void choose_slot(const Quantizer&, const histogram_view& h, float& lo, float& hi) const {
    using Format = typename Quantizer::format;
    using Scheme = typename Quantizer::scheme;
    const detail::abs_histogram a = detail::fold_abs(h);
    const index_t levels = detail::quantized_bins<Format, Scheme>(h.min >= 0);
    const index_t keep = best_bins(a.counts, levels, stride);
    const auto amax = static_cast<float>(a.width * static_cast<double>(keep));
    lo = Scheme::is_affine ? std::max(h.min, -amax) : -amax;
    hi = Scheme::is_affine ? std::min(h.max, amax) : amax;
  }
};

LOWBIT_NAMESPACE_END
