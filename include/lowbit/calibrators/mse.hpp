// lowbit/calibrators/mse.hpp: the clipping range with the least expected squared quantization error.
//
// The error of a candidate range is estimated over the histogram: every bin's count times the
// squared error of fake-quantizing the bin's center with the qparams the range gives in the
// target format and scheme (lowbit's own formulas, so the chosen range is exactly what the
// quantizer will use).
//   symmetric  candidates amax = i * w on the folded |x| histogram, i = L .. B (L the format's
//              levels for |x|, see entropy.hpp), as TensorRT's MSE calibrator; |x| bin centers
//   affine     on the signed histogram, the two ends are searched in turn (coordinate descent):
//              max * t with min fixed, then min * t with that max, and so on until a round
//              improves nothing, t = 1, 0.99, ..., 0.01, so a one-sided outlier is clipped without
//              clipping the other side
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

/// Round half to even for |v| < 2^22 without a library call (default rounding mode).
inline float round_even_small(float v) noexcept {
  constexpr float magic = 12582912.0f;  // 1.5 * 2^23
  volatile float t = v + magic;         // volatile: keep the compiler from folding (v + m) - m
  return t - magic;
}

/// Sum of count * (x - fake_quant(x))^2 over bin centers x = origin + (b + 0.5) * width.
template <class Format, class Scheme>
double histogram_mse(const double* counts, index_t bins, double origin, double width, float lo, float hi) {
  float scale = 1;
  std::int32_t zp = 0;
  compute_qparam<Format, Scheme>(lo, hi, scale, zp);
  const float inv = 1.0f / scale;
  const float qlo = static_cast<float>(Format::qmin - zp), qhi = static_cast<float>(Format::qmax - zp);
  double err = 0;
  for (index_t b = 0; b < bins; ++b) {
    const double c = counts[b];
    if (c == 0) continue;
    const auto x = static_cast<float>(origin + (static_cast<double>(b) + 0.5) * width);
    const float q = round_even_small(std::min(std::max(x * inv, qlo), qhi));
    const double d = static_cast<double>(x) - static_cast<double>(q) * scale;
    err += c * d * d;
  }
  return err;
}

}  // namespace detail

struct mse_calibrator : detail::histogram_calibrator<mse_calibrator> {
  template <class Format, class Scheme>
  void choose_slot(const histogram_view& h, float& lo, float& hi) const {
    if constexpr (!Scheme::is_affine) {
      const detail::abs_histogram a = detail::fold_abs(h);
      const auto bins = static_cast<index_t>(a.counts.size());
      const index_t first = std::min(bins, detail::quantized_bins<Format>(h.min >= 0));
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
      float best_lo = h.min, best_hi = h.max;
      double best = detail::histogram_mse<Format, Scheme>(counts.data(), h.bins, h.min, w, best_lo, best_hi);
      for (int pass = 0; pass < 16; ++pass) {  // until a full round improves nothing
        const bool upper = pass % 2 == 0;
        const double before = best;
        const float end = upper ? h.max : h.min;
        for (int step = 1; step < 100; ++step) {
          const float moved = end * (1.0f - 0.01f * static_cast<float>(step));
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
