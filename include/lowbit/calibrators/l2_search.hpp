// lowbit/calibrators/l2_search.hpp: PyTorch's HistogramObserver range search (L2 error), reproduced.
//
// torch.ao.quantization.HistogramObserver._non_linear_param_search (1.13), from caffe2's
// NormMinimization: starting from the whole histogram, repeatedly drop the tail (left or right,
// whichever a step of 1e-5 in cumulative density removes more bins from), estimate the L2 error of
// quantizing bins [start, end] onto 2^bits levels, and stop as soon as the error grows. The range
// is [min + w * start, min + w * (end + 1)], w the bin width.
//
// The arithmetic follows PyTorch's: float32 where it operates on float32 tensors (bin edges, the
// floor division torch.div(..., rounding_mode='floor') performs, the per-bin norms), double where
// it uses Python floats (the step, the totals compared against). One deliberate difference: the
// per-bin errors are summed in double, PyTorch sums them in float32 in its own order. On the golden
// data both pick the same range. A histogram wider than FLT_MAX is returned whole (its float32
// bin edges would overflow).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "lowbit/calibrators/calibrator.hpp"
#include "lowbit/config.hpp"
#include "lowbit/detail/float_ops.hpp"
#include "lowbit/observers/histogram.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace detail {

/// c10::div_floor_floating: Python's floor division of two floats.
inline float div_floor(float a, float b) noexcept {
  if (b == 0.0f) return a / b;
  const float mod = std::fmod(a, b);
  float div = (a - mod) / b;
  if (mod != 0.0f && (b < 0.0f) != (mod < 0.0f)) div -= 1.0f;
  if (div == 0.0f) return std::copysign(0.0f, a / b);
  float floordiv = std::floor(div);
  if (div - floordiv > 0.5f) floordiv += 1.0f;
  return floordiv;
}

/// HistogramObserver._compute_quantization_error(start, end) for `levels` destination bins.
inline double l2_quantization_error(const histogram_view& h, index_t start, index_t end, index_t levels) {
  const index_t bins = h.bins;
  const double bin_width = (static_cast<double>(h.max) - static_cast<double>(h.min)) / static_cast<double>(bins);
  const double dst_bin_width = bin_width * static_cast<double>(end - start + 1) / static_cast<double>(levels);
  if (dst_bin_width == 0.0) return 0.0;
  const float bw = static_cast<float>(bin_width), dbw = static_cast<float>(dst_bin_width);
  const float half = static_cast<float>(dst_bin_width / 2), neg_half = static_cast<float>(-dst_bin_width / 2);
  const float top = static_cast<float>(levels - 1);
  const float half_cubed = mul(mul(half, half), half), neg_half_cubed = mul(mul(neg_half, neg_half), neg_half);
  const float inner = (half_cubed - neg_half_cubed) / 3.0f;  // norm of a whole destination bin
  double sum = 0;
  for (index_t b = 0; b < bins; ++b) {
    const float begin = mul(static_cast<float>(b - start), bw);
    const float end_v = begin + bw;
    const float db = std::min(std::max(div_floor(begin, dbw), 0.0f), top);
    const float de = std::min(std::max(div_floor(end_v, dbw), 0.0f), top);
    const float density = h.counts[b] / bw;
    float norm = 0.0f;
    const float d_begin = begin - mul(db + 0.5f, dbw);
    norm = norm + mul(density, (half_cubed - mul(mul(d_begin, d_begin), d_begin)) / 3.0f);
    norm = norm + mul(de - db - 1.0f, mul(density, inner));
    const float d_end = end_v - (mul(de, dbw) + half);
    norm = norm + mul(density, (mul(mul(d_end, d_end), d_end) - neg_half_cubed) / 3.0f);
    sum += static_cast<double>(norm);
  }
  return sum;
}

}  // namespace detail

/// PyTorch's HistogramObserver calibration: the L2-error search over the histogram.
struct l2_search_calibrator : detail::histogram_calibrator<l2_search_calibrator> {
  template <class Quantizer>
  void choose_slot(const Quantizer&, const histogram_view& h, float& lo, float& hi) const {
    using Format = typename Quantizer::format;
    if (!std::isfinite(h.max - h.min)) {  // PyTorch's float32 bin edges would overflow: no search
      lo = h.min;
      hi = h.max;
      return;
    }
    const index_t bins = h.bins, levels = index_t{1} << Format::bits;
    double total_d = 0;
    std::vector<float> csum(static_cast<std::size_t>(bins));
    for (index_t b = 0; b < bins; ++b) {  // torch.cumsum accumulates in double, stores float32
      total_d += h.counts[b];
      csum[static_cast<std::size_t>(b)] = static_cast<float>(total_d);
    }
    const double total = static_cast<double>(static_cast<float>(total_d));  // torch.sum(...).item()
    const double stepsize = 1e-5;
    double alpha = 0.0, beta = 1.0, norm_min = std::numeric_limits<double>::infinity();
    index_t start_bin = 0, end_bin = bins - 1;
    while (alpha < beta) {
      const double next_alpha = alpha + stepsize, next_beta = beta - stepsize;
      const float lower = static_cast<float>(next_alpha * total), upper = static_cast<float>(next_beta * total);
      index_t l = start_bin, r = end_bin;
      while (l < end_bin && csum[static_cast<std::size_t>(l)] < lower) ++l;
      while (r > start_bin && csum[static_cast<std::size_t>(r)] > upper) --r;
      index_t next_start = start_bin, next_end = end_bin;
      if ((l - start_bin) > (end_bin - r)) {
        next_start = l;
        alpha = next_alpha;
      } else {
        next_end = r;
        beta = next_beta;
      }
      if (next_start == start_bin && next_end == end_bin) continue;
      const double norm = detail::l2_quantization_error(h, next_start, next_end, levels);
      if (norm > norm_min) break;
      norm_min = norm;
      start_bin = next_start;
      end_bin = next_end;
    }
    const float width = (h.max - h.min) / static_cast<float>(bins);
    lo = h.min + detail::mul(width, static_cast<float>(start_bin));
    hi = h.min + detail::mul(width, static_cast<float>(end_bin + 1));
  }
};

LOWBIT_NAMESPACE_END
