// lowbit/observers/histogram.hpp: running histograms whose range grows with the data (PyTorch's HistogramObserver).
//
// Each slot (the tensor, or each channel) keeps [min, max] and `bins` float counts over it. A batch
// is binned as torch.histc bins it, bin = (int)((x - lo) * bins / (hi - lo)) in float32 with the
// right edge inclusive, over the range widened to include the batch. When the range grows, the old
// counts move to the new bins the way PyTorch 1.13 moves them:
//
//   hist_bin_width = (max - min) / (bins * upsample)          upsample = 128
//   downsample     = ceil((new_max - new_min) / (bins * hist_bin_width))
//   new_max       += downsample * bins * hist_bin_width - (new_max - new_min)
//   start          = round((min - new_min) / hist_bin_width)
//   each old bin is spread evenly over `upsample` fine bins placed from `start`, and every
//   `downsample` consecutive fine bins are summed into one new bin
//
// (float32 where PyTorch computes on float32 tensors, double where it sums in double), so on the
// same batches the histograms agree with PyTorch's. Two documented differences:
//   - torch 1.13 bins each batch over int(min) .. int(max) (a truncation bug fixed in later
//     versions) while keeping the float min / max; lowbit bins over the float range. The two agree
//     whenever the observed extremes are whole numbers, which the golden tests use.
//   - after a batch whose values were all equal (zero-width range), PyTorch 1.13 discards the
//     histogram and restarts from the next batch; lowbit keeps those values in the combined range.
//   - a range that grows more than 512x in one batch (or whose old bins are too narrow for float)
//     is regridded by spreading each old bin over the new bins it overlaps, where PyTorch would
//     allocate bins x downsample floats.
// Infinities are left out and counted, NaN is an error (observers/observer.hpp).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/granularity.hpp"
#include "lowbit/core/qparams.hpp"
#include "lowbit/detail/float_ops.hpp"
#include "lowbit/kernels/histogram.hpp"
#include "lowbit/tensor/engine.hpp"
#include "lowbit/tensor/runs.hpp"
#include "lowbit/observers/observer.hpp"

LOWBIT_NAMESPACE_BEGIN

/// One slot's histogram: `bins` counts over [min, max] (bin width (max - min) / bins).
struct histogram_view {
  float min = std::numeric_limits<float>::infinity();
  float max = -std::numeric_limits<float>::infinity();
  const float* counts = nullptr;
  index_t bins = 0;

  bool empty() const noexcept { return counts == nullptr || min > max; }
  double total() const noexcept {
    double t = 0;
    for (index_t b = 0; b < bins; ++b) t += counts[b];
    return t;
  }
};

namespace detail {

/// Largest downsample rate PyTorch's regridding is used for: a range that grows more than
/// max_downsample / upsample times (512x) in one batch is regridded by rebin() instead (PyTorch
/// would allocate bins * downsample floats).
inline constexpr index_t max_downsample = index_t{1} << 16;

/// PyTorch's _adjust_min_max (float32): widens [cmin, cmax] so that old bins map onto whole
/// groups of fine bins. Sets the downsample rate and the start index and updates cmax; returns
/// false (changing nothing) when the growth is beyond max_downsample or the old bins are too
/// narrow for float32.
inline bool adjust_min_max(float min, float max, index_t bins, index_t upsample, float cmin,
                           float& cmax, index_t& downsample, index_t& start) {
  const float hist_bin_width = (max - min) / static_cast<float>(bins * upsample);
  const float span = mul(static_cast<float>(bins), hist_bin_width);
  const float ratio = (cmax - cmin) / span;
  if (!(hist_bin_width > 0.0f) || !std::isfinite(hist_bin_width) || !(ratio <= static_cast<float>(max_downsample))) return false;
  downsample = static_cast<index_t>(std::ceil(ratio));
  const float grown = mul(static_cast<float>(downsample), span);
  const float e = grown - (cmax - cmin);
  const float new_max = cmax + e;
  const float first = std::nearbyint((min - cmin) / hist_bin_width);
  // A grown maximum beyond FLT_MAX (ranges near the float limit) would make the range infinite:
  // such growth is rebinned instead.
  if (!(new_max >= cmax) || !std::isfinite(new_max) || !std::isfinite(e) ||
      !(first >= 0.0f && first + static_cast<float>(bins * upsample) <= static_cast<float>(bins * downsample)))
    return false;
  cmax = new_max;
  start = static_cast<index_t>(first);
  return true;
}

/// PyTorch's _combine_histograms: adds the old counts, spread over the fine grid and regrouped,
/// to `out` (the new batch's counts over the combined range).
inline void combine_histograms(const float* old_counts, index_t bins, index_t upsample,
                               index_t downsample, index_t start, float* out) {
  // The fine grid holds old bin b repeated `upsample` times from fine index start + b * upsample;
  // integral[j] is its sum up to fine index (j + 1) * downsample - 1, accumulated in double (the
  // terms are float32 values, whose sums double holds exactly), and PyTorch keeps the shifted
  // integral it subtracts in float32.
  const index_t fine_begin = start, fine_end = start + bins * upsample;
  auto range_sum = [&](index_t f0, index_t f1) {  // sum over fine indices [f0, f1)
    f0 = std::max(f0, fine_begin);
    f1 = std::min(f1, fine_end);
    double sum = 0;
    if (f1 <= f0) return sum;
    for (index_t b = (f0 - start) / upsample; b <= (f1 - 1 - start) / upsample; ++b) {
      const index_t overlap = std::min(f1, start + (b + 1) * upsample) - std::max(f0, start + b * upsample);
      sum += static_cast<double>(old_counts[b]) * static_cast<double>(overlap);
    }
    return sum;
  };
  double integral = 0, previous = 0;
  for (index_t j = 0; j < bins; ++j) {
    integral += range_sum(j * downsample, (j + 1) * downsample);
    const double interpolated = (integral - previous) / static_cast<double>(upsample);
    out[j] = out[j] + static_cast<float>(interpolated);
    previous = static_cast<double>(static_cast<float>(integral));
  }
}

/// Adds counts over [lo, hi] (`bins` bins) to `out`, `bins` bins over [dlo, dhi] containing it,
/// in proportion to the overlap of each source bin with the destination bins. Positions are taken
/// in destination-bin units, so a source bin far narrower than the destination's resolution lands
/// whole in one bin instead of vanishing; a zero-width source puts all its mass in the
/// destination bin of its value.
inline void rebin(float lo, float hi, const float* counts, index_t bins, float dlo, float dhi, float* out) {
  const double dwidth = (static_cast<double>(dhi) - dlo) / static_cast<double>(bins);
  const double swidth = (static_cast<double>(hi) - lo) / static_cast<double>(bins);
  const auto nb = static_cast<double>(bins);
  for (index_t b = 0; b < bins; ++b) {
    const double c = counts[b];
    if (c == 0) continue;
    const double a = static_cast<double>(lo) + static_cast<double>(b) * swidth;
    double ia = dwidth > 0 ? (a - dlo) / dwidth : 0.0;
    double ie = dwidth > 0 ? (a + swidth - dlo) / dwidth : 0.0;
    ia = std::min(std::max(ia, 0.0), nb);
    ie = std::min(std::max(ie, 0.0), nb);
    if (!(ie > ia)) {
      out[std::min<index_t>(bins - 1, static_cast<index_t>(ia))] += static_cast<float>(c);
      continue;
    }
    for (auto d = static_cast<index_t>(ia); d < bins; ++d) {
      const double overlap = std::min(ie, static_cast<double>(d + 1)) - std::max(ia, static_cast<double>(d));
      if (overlap > 0) out[d] += static_cast<float>(c * overlap / (ie - ia));
      if (static_cast<double>(d + 1) >= ie) break;
    }
  }
}

}  // namespace detail

template <class Granularity = per_tensor>
class histogram_observer : public detail::observer_state<histogram_observer<Granularity>, Granularity> {
  using base = detail::observer_state<histogram_observer<Granularity>, Granularity>;
  friend base;

 public:
  explicit histogram_observer(Granularity g = {}, index_t bins = 2048, index_t upsample_rate = 128)
      : base(g), bins_(bins), upsample_(upsample_rate) {
    if (bins < 1) detail::fail("histogram_observer: bins must be positive, got ", bins);
    if (upsample_rate < 1) detail::fail("histogram_observer: upsample rate must be positive, got ", upsample_rate);
  }

  index_t bins() const noexcept { return bins_; }

  void reset() {
    this->reset_counts();
    min_.clear();
    max_.clear();
    counts_.clear();
  }

  /// Merges another observer's histograms: the combined range is chosen and our counts moved
  /// onto it as for a new batch; theirs are spread onto it in proportion to how their bins overlap
  /// the new ones (uniform density within a bin).
  void merge(const histogram_observer& other) {
    if (other.bins_ != bins_) detail::fail("merge: histograms have ", bins_, " and ", other.bins_, " bins");
    this->merge_counts(other, static_cast<index_t>(other.min_.size()));
    if (other.min_.empty()) return;
    if (min_.empty()) {
      min_ = other.min_;
      max_ = other.max_;
      counts_ = other.counts_;
      return;
    }
    std::vector<float> incoming(static_cast<std::size_t>(bins_));
    for (index_t s = 0; s < static_cast<index_t>(min_.size()); ++s) {
      const float omn = other.min_[static_cast<std::size_t>(s)], omx = other.max_[static_cast<std::size_t>(s)];
      if (omn > omx) continue;
      const float* theirs = other.counts_.data() + s * bins_;
      float& mn = min_[static_cast<std::size_t>(s)];
      float& mx = max_[static_cast<std::size_t>(s)];
      float* mine = slot_counts(s);
      if (mn > mx) {
        mn = omn;
        mx = omx;
        std::copy(theirs, theirs + bins_, mine);
        continue;
      }
      float lo = std::min(mn, omn), hi = std::max(mx, omx);
      index_t down = 1, start = 0;
      const bool moves = mn < mx && !(lo == mn && hi == mx) &&
                         detail::adjust_min_max(mn, mx, bins_, upsample_, lo, hi, down, start);
      std::fill(incoming.begin(), incoming.end(), 0.0f);
      detail::rebin(omn, omx, theirs, bins_, lo, hi, incoming.data());
      if (moves) {
        detail::combine_histograms(mine, bins_, upsample_, down, start, incoming.data());
      } else {
        detail::rebin(mn, mx, mine, bins_, lo, hi, incoming.data());
      }
      std::copy(incoming.begin(), incoming.end(), mine);
      mn = lo;
      mx = hi;
    }
  }

  /// Per-slot min / max of the finite values observed.
  range observed_range() const {
    if (min_.empty()) return range(std::max<index_t>(this->slots(), 1));
    return range(min_, max_);
  }

  /// The histogram of a slot (empty view if the slot saw no finite value).
  histogram_view histogram(index_t slot = 0) const {
    histogram_view h;
    if (slot < 0 || slot >= static_cast<index_t>(min_.size())) return h;
    h.min = min_[static_cast<std::size_t>(slot)];
    h.max = max_[static_cast<std::size_t>(slot)];
    h.counts = counts_.data() + slot * bins_;
    h.bins = bins_;
    return h;
  }

 private:
  float* slot_counts(index_t s) { return counts_.data() + s * bins_; }

  // Counts of the batch per slot over [lo[s], hi[s]] (torch.histc; a zero-width range is widened
  // to [lo - 1, hi + 1] as histc widens it). Large batches are split among the threads, each
  // counting into its own arrays.
  std::vector<std::uint32_t> bin_batch(const detail::float_input& in, const granularity_desc& g,
                                       index_t slots, const std::vector<float>& lo,
                                       const std::vector<float>& hi) const {
    const kernel_path path = this->ctx_.path;
    const std::vector<detail::run> pieces = detail::run_pieces(in.view, g, index_t{1} << 16);
    index_t tasks = std::min<index_t>(this->ctx_.threads, static_cast<index_t>(pieces.size()));
    if (in.view.size() < (index_t{1} << 18) || slots * bins_ * tasks > (index_t{1} << 24)) tasks = 1;
    std::vector<std::vector<std::uint32_t>> counts(static_cast<std::size_t>(tasks));
    this->ctx_.run(tasks, [&](index_t t) {
      std::vector<std::uint32_t>& c = counts[static_cast<std::size_t>(t)];
      c.assign(static_cast<std::size_t>(slots * bins_), 0u);
      std::vector<float> buffer;
      const auto begin = pieces.size() * static_cast<std::size_t>(t) / static_cast<std::size_t>(tasks);
      const auto end = pieces.size() * static_cast<std::size_t>(t + 1) / static_cast<std::size_t>(tasks);
      for (std::size_t i = begin; i < end; ++i) {
        const detail::run& p = pieces[i];
        const float* src = detail::run_source(in.view, p, buffer);
        for (index_t k = 0; k < (p.slot_varies ? p.n : 1); ++k) {
          const index_t s = p.slot + k;
          float l = lo[static_cast<std::size_t>(s)], h = hi[static_cast<std::size_t>(s)];
          if (l == h) {  // histc widens a zero-width range by 1 each way (at least one ulp here)
            l = std::min(l - 1.0f, std::nextafter(l, -std::numeric_limits<float>::infinity()));
            h = std::max(h + 1.0f, std::nextafter(h, std::numeric_limits<float>::infinity()));
          }
          if (!(l < h)) continue;  // the slot has no finite value yet
          kernels::histc(path, src + k, p.slot_varies ? 1 : p.n, l, h, bins_, c.data() + s * bins_);
        }
      }
    });
    for (index_t t = 1; t < tasks; ++t) {
      const std::vector<std::uint32_t>& c = counts[static_cast<std::size_t>(t)];
      for (std::size_t i = 0; i < c.size(); ++i) counts[0][i] += c[i];
    }
    return std::move(counts[0]);
  }

  // How a slot's old counts reach the batch's range.
  enum class regrid { first, same, pytorch, rebin };

  void observe_input(const detail::float_input& in) {
    const auto b = this->batch_range(in);
    if (!b) return;
    const index_t slots = b->slots;
    const range& r = b->r;
    const bool fresh = min_.empty();
    const auto old_min = [&](index_t s) { return fresh ? std::numeric_limits<float>::infinity() : min_[static_cast<std::size_t>(s)]; };
    const auto old_max = [&](index_t s) { return fresh ? -std::numeric_limits<float>::infinity() : max_[static_cast<std::size_t>(s)]; };
    // The range each slot's batch is binned over: the combined range, widened as PyTorch widens.
    std::vector<float> lo(static_cast<std::size_t>(slots)), hi(static_cast<std::size_t>(slots));
    std::vector<index_t> down(static_cast<std::size_t>(slots), 1), start(static_cast<std::size_t>(slots), 0);
    std::vector<regrid> how(static_cast<std::size_t>(slots), regrid::same);
    for (index_t s = 0; s < slots; ++s) {
      const float mn = old_min(s), mx = old_max(s), bmn = r.min[s], bmx = r.max[s];
      if (bmn > bmx) {  // no finite value of this slot in the batch
        lo[s] = mn;
        hi[s] = mx;
      } else if (mn > mx) {  // first values
        lo[s] = bmn;
        hi[s] = bmx;
        how[s] = regrid::first;
      } else {
        lo[s] = std::min(mn, bmn);
        hi[s] = std::max(mx, bmx);
        if (lo[s] == mn && hi[s] == mx) {
          how[s] = regrid::same;
        } else if (mn < mx && detail::adjust_min_max(mn, mx, bins_, upsample_, lo[s], hi[s], down[s], start[s])) {
          how[s] = regrid::pytorch;
        } else {  // the old values were all equal, or the range grew beyond PyTorch's regridding
          how[s] = regrid::rebin;
        }
      }
    }
    std::vector<std::uint32_t> batch = bin_batch(in, b->g, slots, lo, hi);
    // Nothing below can fail: commit.
    if (fresh) {
      min_.assign(static_cast<std::size_t>(slots), std::numeric_limits<float>::infinity());
      max_.assign(static_cast<std::size_t>(slots), -std::numeric_limits<float>::infinity());
      counts_.assign(static_cast<std::size_t>(slots * bins_), 0.0f);
    }
    std::vector<float> incoming(static_cast<std::size_t>(bins_));
    for (index_t s = 0; s < slots; ++s) {
      if (r.min[s] > r.max[s]) continue;
      const std::uint32_t* binned = batch.data() + s * bins_;
      for (index_t k = 0; k < bins_; ++k) incoming[static_cast<std::size_t>(k)] = static_cast<float>(binned[k]);
      float& mn = min_[static_cast<std::size_t>(s)];
      float& mx = max_[static_cast<std::size_t>(s)];
      float* mine = slot_counts(s);
      switch (how[static_cast<std::size_t>(s)]) {
        case regrid::first:  // PyTorch keeps the batch's own min / max
          break;
        case regrid::same:
          for (index_t k = 0; k < bins_; ++k) incoming[static_cast<std::size_t>(k)] += mine[k];
          break;
        case regrid::pytorch:
          detail::combine_histograms(mine, bins_, upsample_, down[static_cast<std::size_t>(s)],
                                     start[static_cast<std::size_t>(s)], incoming.data());
          break;
        case regrid::rebin:
          detail::rebin(mn, mx, mine, bins_, lo[static_cast<std::size_t>(s)], hi[static_cast<std::size_t>(s)], incoming.data());
          break;
      }
      std::copy(incoming.begin(), incoming.end(), mine);
      mn = lo[static_cast<std::size_t>(s)];
      mx = hi[static_cast<std::size_t>(s)];
    }
    this->count_batch(*b);
  }

  index_t bins_ = 2048;
  index_t upsample_ = 128;
  std::vector<float> min_, max_;
  std::vector<float> counts_;  // slots x bins
};

LOWBIT_NAMESPACE_END
