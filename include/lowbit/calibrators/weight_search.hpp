// lowbit/calibrators/weight_search.hpp: the clipping search on the weights themselves (GPTQ's reference), as a calibrator.
//
// For each slot (per channel, per group or the tensor), as GPTQ's Quantizer.find_params with
// mse=True does: start from the slot's range with zero forced in, [min(w, 0), max(w, 0)] (for a
// symmetric scheme [-m, m], m = max |w|); try the shrunk ranges p * range for p = 1 - i / grid,
// i = 0 .. grid * max_shrink - 1; keep the p whose fake-quantized values have the least
// sum |q(w) - w|^norm. The defaults are GPTQ's: grid 100, max_shrink 0.8, norm 2.4. Candidates are
// turned into qparams and fake-quantized by the quantizer it is given (its formulas and its
// rounding), so the chosen range is exactly what the quantizer then uses. Slots are searched in
// parallel on the observer's context, on its kernel path (kernels/power_error.hpp: a fast
// polynomial power, relative error about 1e-7, bit-identical on every path). Where two candidates'
// errors differ by less than that, the choice can differ from a search with double std::pow; the
// chosen candidate's error is then within 1e-5 of the best (tested).
//
// Per group: a per_group quantizer's observer keeps each group (a short last group included) as
// its own slot, so the search is per group with no reshaping. The per-slot cost is at most
// grid * max_shrink passes over the slot's values (80 by default): a candidate's pass stops once
// its partial error shows it cannot win (kernels::least_power_error; the choice is the same).
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
#include "lowbit/kernels/power_error.hpp"
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
    using Format = typename Quantizer::format;
    using Rounding = typename Quantizer::rounding;
    if (grid < 1) detail::fail("weight_search: grid must be positive, got ", grid);
    if (!(max_shrink >= 0.0f && max_shrink < 1.0f)) detail::fail("weight_search: max_shrink ", max_shrink, " is not in [0, 1)");
    if (!(norm > 0.0f && norm <= 32.0f)) detail::fail("weight_search: norm ", norm, " is not in (0, 32]");
    const index_t slots = std::max<index_t>(observer.observed_range().size(), 1);
    range out(slots);
    const index_t steps = std::max<index_t>(1, static_cast<index_t>(static_cast<float>(grid) * max_shrink));
    const context ctx = detail::context_of(observer);
    check_path(ctx.path, "weight_search");
    ctx.run(slots, [&](index_t s) {
      const float* x = observer.values(s);
      const index_t n = observer.count(s);
      if (n == 0) return;
      float xmin = std::min(0.0f, *std::min_element(x, x + n));
      float xmax = std::max(0.0f, *std::max_element(x, x + n));
      if constexpr (!Scheme::is_affine) {
        xmax = std::max(-xmin, xmax);
        xmin = -xmax;
      }
      out.min[static_cast<std::size_t>(s)] = xmin;
      out.max[static_cast<std::size_t>(s)] = xmax;
      // Zero or subnormal values: every candidate gets the smallest scale and the same codes.
      const float amax = std::max(-xmin, xmax);
      if (!(amax >= std::numeric_limits<float>::min())) return;
      // Errors are at most amax < 2^e (clipped values lose at most their own magnitude, others
      // half a step): scaled by 2^(2 - e) they lie in [0, 4), the kernel's contract.
      int e = 0;
      (void)std::frexp(amax, &e);
      const float ref = std::ldexp(1.0f, 2 - e);
      std::vector<kernels::power_candidate> candidates(static_cast<std::size_t>(steps));
      std::vector<float> shrink(static_cast<std::size_t>(steps));
      for (index_t i = 0; i < steps; ++i) {
        const float p = 1.0f - static_cast<float>(i) / static_cast<float>(grid);
        const auto [scale, zp] = q.qparams_for(p * xmin, p * xmax);
        shrink[static_cast<std::size_t>(i)] = p;
        candidates[static_cast<std::size_t>(i)] = {Rounding::factor(scale), scale, static_cast<float>(Format::qmin - zp),
                                                   static_cast<float>(Format::qmax - zp)};
      }
      // The first of the least errors, as a loop over the candidates in order keeps it.
      const auto best = static_cast<std::size_t>(
          kernels::least_power_error<Rounding>(ctx.path, x, n, candidates.data(), steps, ref, norm));
      out.min[static_cast<std::size_t>(s)] = shrink[best] * xmin;
      out.max[static_cast<std::size_t>(s)] = shrink[best] * xmax;
    });
    return out;
  }
};

LOWBIT_NAMESPACE_END
