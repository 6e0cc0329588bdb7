// lowbit/observers/minmax.hpp: running min/max observers (PyTorch's MinMax and MovingAverageMinMax).
//
//   minmax_observer<per_tensor>                running min and max of everything observed
//   minmax_observer<per_channel>               the same per channel (PyTorch's PerChannelMinMax)
//   moving_average_minmax_observer<G>          min += c * (batch_min - min), max likewise; the first
//                                              batch initializes; c = 0.01 by default (PyTorch's
//                                              MovingAverage[PerChannel]MinMaxObserver)
//
// Both follow observers/observer.hpp. The moving average is computed in float32 with separately
// rounded multiply and add, as PyTorch's tensor arithmetic does (never fused), so the golden tests
// match bit for bit.
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
#include "lowbit/observers/observer.hpp"

LOWBIT_NAMESPACE_BEGIN

template <class Granularity = per_tensor>
class minmax_observer : public detail::observer_state<minmax_observer<Granularity>, Granularity> {
  using base = detail::observer_state<minmax_observer<Granularity>, Granularity>;
  friend base;

 public:
  minmax_observer() = default;
  explicit minmax_observer(Granularity g) : base(g) {}

  void reset() {
    this->reset_counts();
    range_ = range();
  }

  void merge(const minmax_observer& other) {
    this->merge_counts(other, other.range_.size());
    if (range_.size() == 0) {
      range_ = other.range_;
      return;
    }
    for (index_t s = 0; s < other.range_.size(); ++s) {
      range_.min[s] = std::min(range_.min[s], other.range_.min[s]);
      range_.max[s] = std::max(range_.max[s], other.range_.max[s]);
    }
  }

  /// Per-slot running min / max (+Inf / -Inf where nothing was seen).
  range observed_range() const { return range_.size() ? range_ : range(std::max<index_t>(this->slots(), 1)); }

 private:
  void observe_input(const detail::float_input& in) {
    const auto b = this->batch_range(in);
    if (!b) return;
    const index_t slots = b->slots;
    const range& r = b->r;
    if (range_.size() == 0) range_ = range(slots);
    for (index_t s = 0; s < slots; ++s) {
      range_.min[s] = std::min(range_.min[s], r.min[s]);
      range_.max[s] = std::max(range_.max[s], r.max[s]);
    }
    this->count_batch(*b);
  }

  range range_;
};

template <class Granularity = per_tensor>
class moving_average_minmax_observer
    : public detail::observer_state<moving_average_minmax_observer<Granularity>, Granularity> {
  using base = detail::observer_state<moving_average_minmax_observer<Granularity>, Granularity>;
  friend base;

 public:
  explicit moving_average_minmax_observer(Granularity g = {}, float averaging_constant = 0.01f)
      : base(g), c_(averaging_constant) {
    if (!(averaging_constant > 0.0f && averaging_constant <= 1.0f))
      detail::fail("moving_average_minmax_observer: averaging constant ", averaging_constant,
                   " is not in (0, 1]");
  }

  float averaging_constant() const noexcept { return c_; }

  void reset() {
    this->reset_counts();
    range_ = range();
  }

  /// Combines two moving averages by weighting each by its batch count. An exponential moving
  /// average depends on the order of batches, so this is the natural combination, not the value a
  /// single observer would have reached on the concatenated stream.
  void merge(const moving_average_minmax_observer& other) {
    const index_t mine = this->batches_, theirs = other.batches_;
    this->merge_counts(other, other.range_.size());
    if (theirs == 0) return;
    if (mine == 0 || range_.size() == 0) {
      range_ = other.range_;
      return;
    }
    const double w = static_cast<double>(theirs) / static_cast<double>(mine + theirs);
    for (index_t s = 0; s < range_.size(); ++s) {
      range_.min[s] = blend(range_.min[s], other.range_.min[s], w);
      range_.max[s] = blend(range_.max[s], other.range_.max[s], w);
    }
  }

  range observed_range() const { return range_.size() ? range_ : range(std::max<index_t>(this->slots(), 1)); }

 private:
  static float blend(float a, float b, double w) {
    if (std::isinf(a)) return b;
    if (std::isinf(b)) return a;
    return static_cast<float>(a + w * (static_cast<double>(b) - a));
  }

  // PyTorch: value + c * (current - value) in float32, each operation rounded separately.
  // A difference beyond FLT_MAX (a new extreme of the other sign near the float limit) is taken
  // in double: the average of two finite values stays finite.
  float update(float value, float current) const {
    const float diff = current - value;
    if (!std::isfinite(diff))
      return static_cast<float>(static_cast<double>(value) + c_ * (static_cast<double>(current) - value));
    volatile float step = c_ * diff;  // volatile: the add must not be fused with the multiply
    return value + step;
  }

  void observe_input(const detail::float_input& in) {
    const auto b = this->batch_range(in);
    if (!b) return;
    const index_t slots = b->slots;
    const range& r = b->r;
    if (range_.size() == 0) range_ = range(slots);
    constexpr float inf = std::numeric_limits<float>::infinity();
    for (index_t s = 0; s < slots; ++s) {
      if (r.min[s] == inf) continue;  // the slot had no finite value in this batch
      if (range_.min[s] == inf) {     // first values of this slot initialize it
        range_.min[s] = r.min[s];
        range_.max[s] = r.max[s];
      } else {
        range_.min[s] = update(range_.min[s], r.min[s]);
        range_.max[s] = update(range_.max[s], r.max[s]);
      }
    }
    this->count_batch(*b);
  }

  float c_ = 0.01f;
  range range_;
};

LOWBIT_NAMESPACE_END
