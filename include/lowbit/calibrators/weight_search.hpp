// lowbit/calibrators/weight_search.hpp: per-channel clipping search on a weight tensor (GPTQ's reference).
//
// For each output channel, as GPTQ's Quantizer.find_params with mse=True does: start from the
// channel's range with zero forced in, [min(w, 0), max(w, 0)] (for a symmetric scheme
// [-m, m], m = max |w|); try the shrunk ranges p * range for p = 1 - i / grid,
// i = 0 .. grid * max_shrink - 1; keep the p whose fake-quantized channel has the least sum |q(w) - w|^norm. The
// defaults are GPTQ's: grid 100, max_shrink 0.8, norm 2.4. Channels are searched in parallel; the
// cost is about grid * max_shrink fake-quantizations of the tensor. Fake quantization uses lowbit's qparams
// for the candidate range in the target format and scheme, so the result is exactly what the
// quantizer will then use.
//
//   lowbit::weight_search search;
//   lowbit::range r = search.choose<lowbit::int4, lowbit::symmetric>(W);          // axis 0
//   lowbit::qparams p = lowbit::quantizer<lowbit::int4, lowbit::symmetric,
//                                         lowbit::per_channel>().qparams_from(r);
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
#include "lowbit/detail/elementwise.hpp"
#include "lowbit/detail/runs.hpp"
#include "lowbit/kernels/quantize_scalar.hpp"
#include "lowbit/parallel/thread_pool.hpp"

LOWBIT_NAMESPACE_BEGIN

struct weight_search {
  index_t grid = 100;
  float max_shrink = 0.8f;
  float norm = 2.4f;

  /// Per-channel ranges along `axis` of an Eigen weight matrix (default: rows, i.e. Linear's
  /// output channels).
  template <class Format, class Scheme, class Derived>
  range choose(const Eigen::DenseBase<Derived>& w, per_channel g = per_channel(0),
               const execution& ex = execution{}) const {
    return choose_input<Format, Scheme>(detail::make_input(w, g.axis), ex);
  }
  /// The same for a contiguous C-order buffer of any rank.
  template <class Format, class Scheme>
  range choose(const float* data, const std::vector<index_t>& shape, per_channel g = per_channel(0),
               const execution& ex = execution{}) const {
    return choose_input<Format, Scheme>(detail::make_input(data, shape, g.axis), ex);
  }

 private:
  template <class Format, class Scheme>
  range choose_input(const detail::float_input& in, const execution& ex) const {
    if (grid < 1) detail::fail("weight_search: grid must be positive, got ", grid);
    if (!(max_shrink >= 0.0f && max_shrink < 1.0f)) detail::fail("weight_search: max_shrink ", max_shrink, " is not in [0, 1)");
    if (!(norm > 0.0f)) detail::fail("weight_search: norm ", norm, " is not positive");
    granularity_desc g(per_channel(in.axis));
    const index_t slots = detail::slot_count(in.view, g);
    // The values of each channel, gathered (weights are small next to what they cost to search).
    std::vector<std::vector<float>> values(static_cast<std::size_t>(slots));
    std::vector<float> buffer;
    detail::for_each_run(in.view, g, [&](const detail::run& r) {
      const float* src = detail::run_source(in.view, r, buffer);
      for (index_t k = 0; k < r.n; ++k) {
        const float v = src[k];
        if (!std::isfinite(v)) {
          detail::fail("weight_search: element ", r.out_offset + k, " (index ",
                       detail::multi_index(in.shape, r.out_offset + k), ") is ", v);
        }
        values[static_cast<std::size_t>(r.slot + (r.slot_varies ? k : 0))].push_back(v);
      }
    });
    range out(slots);
    ex.run(slots, [&](index_t s) {
      const std::vector<float>& x = values[static_cast<std::size_t>(s)];
      if (x.empty()) return;
      float xmin = std::min(0.0f, *std::min_element(x.begin(), x.end()));
      float xmax = std::max(0.0f, *std::max_element(x.begin(), x.end()));
      if constexpr (!Scheme::is_affine) {
        xmax = std::max(-xmin, xmax);
        xmin = -xmax;
      }
      double best = std::numeric_limits<double>::infinity();
      float best_lo = xmin, best_hi = xmax;
      const index_t steps = std::max<index_t>(1, static_cast<index_t>(static_cast<float>(grid) * max_shrink));
      for (index_t i = 0; i < steps; ++i) {
        const float p = 1.0f - static_cast<float>(i) / static_cast<float>(grid);
        const float lo = p * xmin, hi = p * xmax;
        float scale = 1;
        std::int32_t zp = 0;
        compute_qparam<Format, Scheme>(lo, hi, scale, zp);
        const float inv = reciprocal_multiply::factor(scale);
        double err = 0;
        for (float v : x) {
          const std::int32_t q = kernels::scalar::quantize_value<Format, reciprocal_multiply>(v, inv, zp);
          err += std::pow(std::fabs(static_cast<double>(static_cast<float>(q - zp) * scale) - v), norm);
        }
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
