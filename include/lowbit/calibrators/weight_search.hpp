// lowbit/calibrators/weight_search.hpp: the clipping search on the weights themselves (GPTQ's reference), as a calibrator.
//
// For each slot (per channel, per group or the tensor), as GPTQ's Quantizer.find_params with
// mse=True does: start from the slot's range with zero forced in, [min(w, 0), max(w, 0)] (for a
// symmetric scheme [-m, m], m = max |w|); try the shrunk ranges p * range for p = 1 - i / grid,
// i = 0 .. grid * max_shrink - 1; keep the p whose fake-quantized values have the least
// sum |q(w) - w|^norm. The defaults are GPTQ's: grid 100, max_shrink 0.8, norm 2.4. Candidates are
// turned into qparams and fake-quantized by the quantizer it is given (its formulas and its
// rounding), so the chosen range is exactly what the quantizer then uses. Slots are searched in
// parallel on the observer's context.
//
// It reads the values a tensor_observer kept; for one weight tensor, calibrate() makes the observer:
//
//   lowbit::quantizer<lowbit::int4, lowbit::symmetric, lowbit::per_channel> q(lowbit::per_channel(0));
//   lowbit::qparams p = lowbit::calibrate(q, W, lowbit::weight_search{});
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/granularity.hpp"
#include "lowbit/core/qparams.hpp"
#include "lowbit/core/scheme.hpp"
#include "lowbit/observers/observer.hpp"
#include "lowbit/observers/tensor_observer.hpp"
#include "lowbit/runtime/context.hpp"

LOWBIT_NAMESPACE_BEGIN

struct weight_search {
  /// The observer calibrate(q, tensor, weight_search{}) uses: one that keeps the values.
  template <class G>
  using observer = tensor_observer<G>;

  index_t grid = 100;
  float max_shrink = 0.8f;
  float norm = 2.4f;

  /// Per-slot ranges for the values `observer` kept (a tensor_observer, or any observer with
  /// values(slot) and count(slot)).
  template <class Quantizer, class Observer>
  range choose(const Quantizer& q, const Observer& observer) const {
    using Scheme = typename Quantizer::scheme;
    if (grid < 1) detail::fail("weight_search: grid must be positive, got ", grid);
    if (!(max_shrink >= 0.0f && max_shrink < 1.0f)) detail::fail("weight_search: max_shrink ", max_shrink, " is not in [0, 1)");
    if (!(norm > 0.0f)) detail::fail("weight_search: norm ", norm, " is not positive");
    const index_t slots = std::max<index_t>(observer.observed_range().size(), 1);
    range out(slots);
    const index_t steps = std::max<index_t>(1, static_cast<index_t>(static_cast<float>(grid) * max_shrink));
    detail::context_of(observer).run(slots, [&](index_t s) {
      const float* x = observer.values(s);
      const index_t n = observer.count(s);
      if (n == 0) return;
      float xmin = std::min(0.0f, *std::min_element(x, x + n));
      float xmax = std::max(0.0f, *std::max_element(x, x + n));
      if constexpr (!Scheme::is_affine) {
        xmax = std::max(-xmin, xmax);
        xmin = -xmax;
      }
      double best = std::numeric_limits<double>::infinity();
      float best_lo = xmin, best_hi = xmax;
      for (index_t i = 0; i < steps; ++i) {
        const float p = 1.0f - static_cast<float>(i) / static_cast<float>(grid);
        const float lo = p * xmin, hi = p * xmax;
        const auto [scale, zp] = q.qparams_for(lo, hi);
        double err = 0;
        for (index_t k = 0; k < n; ++k)
          err += std::pow(std::fabs(static_cast<double>(q.fake_quantize(x[k], scale, zp)) - x[k]), norm);
        if (err < best) {
          best = err;
          best_lo = lo;
          best_hi = hi;
        }
      }
      out.min[static_cast<std::size_t>(s)] = best_lo;
      out.max[static_cast<std::size_t>(s)] = best_hi;
    });
    return out;
  }
};

LOWBIT_NAMESPACE_END
