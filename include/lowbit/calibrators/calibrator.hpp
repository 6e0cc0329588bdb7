// lowbit/calibrators/calibrator.hpp: what a calibrator is, and how quantizer + observer + calibrator compose.
//
// A calibrator chooses the clipping range to quantize with from an observer's statistics. One
// contract for all of them:
//
//   template <class Quantizer, class Observer>
//   range choose(const Quantizer& q, const Observer& observer) const;    // one [min, max] per slot
//
// The quantizer is passed so a calibrator judges candidate ranges with the arithmetic the
// quantizer will use (its format, scheme, qparams formulas and rounding). minmax_calibrator needs
// only observed_range(); the histogram calibrators (percentile, entropy, mse, l2_search) read
// observer.histogram(slot); weight_search reads the values a tensor_observer kept. The quantizer
// then turns the range into qparams (quantizer::qparams_for). The composition is visible in the
// types:
//
//   lowbit::calibration<lowbit::quantizer<lowbit::uint8, lowbit::affine>,
//                       lowbit::histogram_observer<>, lowbit::entropy_calibrator> cal;
//   for (const auto& batch : batches) cal.observe(batch);
//   lowbit::qparams p = cal.qparams();
//
// or, with an observer that has already seen the data, one call:
//   lowbit::qparams p = lowbit::calibrate(quantizer, observer, lowbit::l2_search_calibrator{});
//
// A histogram from elsewhere (counts and their [min, max]) is calibrated through a histogram_view:
//   auto [lo, hi] = lowbit::entropy_calibrator{}.choose_range(q, lowbit::histogram_view{mn, mx, counts, bins});
//
// A slot that saw no data keeps min = +Inf, max = -Inf, which the quantizer turns into PyTorch's
// default qparams (scale 1, zero point 0). Every calibrator returns min <= max for a slot that saw
// data, including one-sided (all positive, all negative) and constant data.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <limits>
#include <type_traits>
#include <tuple>
#include <utility>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/granularity.hpp"
#include "lowbit/core/qparams.hpp"
#include "lowbit/observers/histogram.hpp"
#include "lowbit/observers/minmax.hpp"
#include "lowbit/observers/observer.hpp"
#include "lowbit/tensor/quantizer.hpp"

LOWBIT_NAMESPACE_BEGIN

namespace detail {

/// Levels that cover [0, amax] for the |x| histogram calibrators: a symmetric range spends half its
/// codes on each side (2^(bits - 1), 128 for int8) whatever the data; an affine range spends all
/// 2^bits on [0, amax] when nothing negative was observed (pytorch-quantization's `unsigned`).
template <class F, class S>
index_t quantized_bins(bool nonnegative) noexcept {
  return index_t{1} << (F::bits - (S::is_affine && nonnegative ? 0 : 1));
}

/// The range a histogram calibrator returns for an empty or zero-width histogram: what was seen.
inline bool trivial_histogram(const histogram_view& h, float& lo, float& hi) noexcept {
  if (h.empty()) {
    lo = std::numeric_limits<float>::infinity();
    hi = -lo;
    return true;
  }
  if (!(h.max > h.min) || h.total() <= 0) {
    lo = h.min;
    hi = h.max;
    return true;
  }
  return false;
}

/// Base of the histogram calibrators: for every slot of the observer, Derived::choose_slot(q, h,
/// lo, hi) on its histogram, unless the histogram is empty or has zero width.
template <class Derived>
struct histogram_calibrator {
  /// The observer calibrate(q, tensor, calibrator) uses.
  template <class G>
  using observer = histogram_observer<G>;

  /// The range for one histogram (what `choose` does for each slot).
  template <class Quantizer>
  std::pair<float, float> choose_range(const Quantizer& q, const histogram_view& h) const {
    float lo = 0, hi = 0;
    if (!trivial_histogram(h, lo, hi)) static_cast<const Derived&>(*this).choose_slot(q, h, lo, hi);
    return {lo, hi};
  }

  template <class Quantizer, class Observer>
  range choose(const Quantizer& q, const Observer& observer) const {
    const index_t slots = std::max<index_t>(observer.observed_range().size(), 1);
    range out(slots);
    for (index_t s = 0; s < slots; ++s) {
      const auto [lo, hi] = choose_range(q, observer.histogram(s));
      out.min[static_cast<std::size_t>(s)] = lo;
      out.max[static_cast<std::size_t>(s)] = hi;
    }
    return out;
  }
};

}  // namespace detail

/// qparams in the quantizer's format and scheme for what `observer` has seen, with the range the
/// calibrator chooses: q.qparams_for(calibrator.choose(q, observer)). The quantizer's and the
/// observer's granularities must be the same kind.
template <class Quantizer, class Observer, class Calibrator,
          class = std::enable_if_t<!std::is_base_of_v<Eigen::EigenBase<Observer>, Observer>>>
qparams calibrate(const Quantizer& q, const Observer& observer, const Calibrator& calibrator) {
  static_assert(is_observer_v<Observer>, "calibrate: the observer does not follow the observer contract");
  static_assert(std::is_same_v<typename Quantizer::granularity_type, std::decay_t<decltype(observer.granularity())>>,
                "calibrate: the quantizer and the observer must have the same granularity type "
                "(per_tensor, per_channel or per_group)");
  return q.qparams_for(calibrator.choose(q, observer));
}

/// qparams for one tensor x (weights, usually) in one call: x is shown to the calibrator's own kind
/// of observer (Calibrator::observer<G>, G the quantizer's granularity), which the calibrator then
/// reads. `lowbit::calibrate(q, W, lowbit::weight_search{})`.
template <class Quantizer, class Derived, class Calibrator>
qparams calibrate(const Quantizer& q, const Eigen::DenseBase<Derived>& x, const Calibrator& calibrator,
                  const context& ctx = {}) {
  using observer_type = typename Calibrator::template observer<typename Quantizer::granularity_type>;
  observer_type o(q.granularity());
  o.set_context(ctx);
  o.observe(x);
  return calibrate(q, o, calibrator);
}

/// A quantizer, an observer and a calibrator composed: observe batches, then ask for qparams.
template <class Quantizer, class Observer, class Calibrator>
class calibration {
  static_assert(is_observer_v<Observer>, "calibration: the observer does not follow the observer contract");

 public:
  using format = typename Quantizer::format;
  using scheme = typename Quantizer::scheme;

  calibration() = default;
  calibration(Quantizer q, Observer o, Calibrator c = Calibrator{})
      : quantizer_(std::move(q)), observer_(std::move(o)), calibrator_(std::move(c)) {}

  template <class Derived>
  void observe(const Eigen::DenseBase<Derived>& x) {
    observer_.observe(x);
  }
  void observe(const float* data, const std::vector<index_t>& shape) { observer_.observe(data, shape); }

  /// The range the calibrator chooses from what was observed.
  range calibrated_range() const { return calibrator_.choose(quantizer_, observer_); }
  /// qparams from that range, with the quantizer's formulas.
  lowbit::qparams qparams() const { return calibrate(quantizer_, observer_, calibrator_); }
  /// Quantizes x with the calibrated qparams.
  template <class Derived>
  quantized_tensor<format> quantize(const Eigen::DenseBase<Derived>& x, const context& ctx = {}) const {
    return quantizer_.quantize(x, qparams(), ctx);
  }

  const Quantizer& quantizer() const noexcept { return quantizer_; }
  Observer& observer() noexcept { return observer_; }
  const Observer& observer() const noexcept { return observer_; }
  const Calibrator& calibrator() const noexcept { return calibrator_; }

 private:
  Quantizer quantizer_{};
  Observer observer_{};
  Calibrator calibrator_{};
};

/// The observed range as it is (PyTorch's MinMax / MovingAverage observers' choice).
struct minmax_calibrator {
  template <class G>
  using observer = minmax_observer<G>;

  template <class Quantizer, class Observer>
  range choose(const Quantizer&, const Observer& observer) const {
    return observer.observed_range();
  }
};

LOWBIT_NAMESPACE_END
