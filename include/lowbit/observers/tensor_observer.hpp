// lowbit/observers/tensor_observer.hpp: an observer that keeps the values it saw, slot by slot, for calibrators that search on the data itself.
//
// The weight search (calibrators/weight_search.hpp) and other data-driven calibrators need the
// values, not a summary. tensor_observer keeps a copy of every finite value observed, grouped by
// qparam slot (per tensor, per channel or per group), in one flat array. Meant for weights (one
// batch, the tensor itself): memory grows with everything observed.
//
//   lowbit::quantizer<lowbit::int4, lowbit::symmetric, lowbit::per_group> q(lowbit::per_group(1, 32));
//   lowbit::tensor_observer<lowbit::per_group> o(q.granularity());
//   o.observe(W);
//   lowbit::qparams p = lowbit::calibrate(q, o, lowbit::weight_search{});
//
// Follows observers/observer.hpp (NaN is an error naming the element, +-Inf is left out and
// counted).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/granularity.hpp"
#include "lowbit/core/qparams.hpp"
#include "lowbit/observers/observer.hpp"
#include "lowbit/tensor/engine.hpp"
#include "lowbit/tensor/runs.hpp"

LOWBIT_NAMESPACE_BEGIN

template <class Granularity = per_tensor>
class tensor_observer : public detail::observer_state<tensor_observer<Granularity>, Granularity> {
  using base = detail::observer_state<tensor_observer<Granularity>, Granularity>;
  friend base;

 public:
  tensor_observer() = default;
  explicit tensor_observer(Granularity g) : base(g) {}

  void reset() {
    this->reset_counts();
    range_ = range();
    values_.clear();
    begin_.clear();
  }

  /// Appends the other observer's values slot by slot.
  void merge(const tensor_observer& other) {
    this->merge_counts(other, other.range_.size());
    if (other.range_.size() == 0) return;
    if (range_.size() == 0) {
      range_ = other.range_;
      values_ = other.values_;
      begin_ = other.begin_;
      return;
    }
    append([&](index_t s) { return other.count(s); },
           [&](index_t s, float* dst) { std::copy(other.values(s), other.values(s) + other.count(s), dst); });
    for (index_t s = 0; s < range_.size(); ++s) {
      range_.min[s] = std::min(range_.min[s], other.range_.min[s]);
      range_.max[s] = std::max(range_.max[s], other.range_.max[s]);
    }
  }

  range observed_range() const { return range_.size() ? range_ : range(std::max<index_t>(this->slots(), 1)); }

  /// The finite values slot s saw (count(s) of them), in the order they were observed.
  const float* values(index_t slot) const noexcept {
    return values_.data() + (begin_.empty() ? 0 : begin_[static_cast<std::size_t>(slot)]);
  }
  index_t count(index_t slot) const noexcept {
    if (slot < 0 || slot + 1 >= static_cast<index_t>(begin_.size())) return 0;
    return begin_[static_cast<std::size_t>(slot + 1)] - begin_[static_cast<std::size_t>(slot)];
  }

 private:
  // Rebuilds the flat array with `extra(s)` more values per slot, written by fill(s, destination).
  template <class Extra, class Fill>
  void append(Extra&& extra, Fill&& fill) {
    const index_t slots = range_.size();
    std::vector<index_t> begin(static_cast<std::size_t>(slots + 1), 0);
    for (index_t s = 0; s < slots; ++s) begin[static_cast<std::size_t>(s + 1)] = begin[static_cast<std::size_t>(s)] + count(s) + extra(s);
    std::vector<float> values(static_cast<std::size_t>(begin.back()));
    for (index_t s = 0; s < slots; ++s) {
      float* dst = values.data() + begin[static_cast<std::size_t>(s)];
      std::copy(this->values(s), this->values(s) + count(s), dst);
      fill(s, dst + count(s));
    }
    values_ = std::move(values);
    begin_ = std::move(begin);
  }

  void observe_input(const detail::float_input& in) {
    const auto b = this->batch_range(in);
    if (!b) return;
    const index_t slots = b->slots;
    if (range_.size() == 0) {
      range_ = range(slots);
      begin_.assign(static_cast<std::size_t>(slots + 1), 0);
    }
    // Finite values per slot of this batch, then gathered slot by slot.
    std::vector<index_t> found(static_cast<std::size_t>(slots), 0);
    std::vector<float> buffer;
    detail::for_each_run(in.view, b->g, [&](const detail::run& r) {
      const float* src = detail::run_source(in.view, r, buffer);
      for (index_t k = 0; k < r.n; ++k)
        if (std::isfinite(src[k])) ++found[static_cast<std::size_t>(r.slot + (r.slot_varies ? k : 0))];
    });
    std::vector<index_t> at(static_cast<std::size_t>(slots), 0);
    std::vector<float*> dst(static_cast<std::size_t>(slots), nullptr);
    append([&](index_t s) { return found[static_cast<std::size_t>(s)]; },
           [&](index_t s, float* d) { dst[static_cast<std::size_t>(s)] = d; });
    detail::for_each_run(in.view, b->g, [&](const detail::run& r) {
      const float* src = detail::run_source(in.view, r, buffer);
      for (index_t k = 0; k < r.n; ++k) {
        if (!std::isfinite(src[k])) continue;
        const auto s = static_cast<std::size_t>(r.slot + (r.slot_varies ? k : 0));
        dst[s][at[s]++] = src[k];
      }
    });
    for (index_t s = 0; s < slots; ++s) {
      range_.min[s] = std::min(range_.min[s], b->r.min[s]);
      range_.max[s] = std::max(range_.max[s], b->r.max[s]);
    }
    this->count_batch(*b);
  }

  range range_;
  std::vector<float> values_;
  std::vector<index_t> begin_;  // slots + 1 offsets into values_
};

LOWBIT_NAMESPACE_END
