// lowbit/observers/observer.hpp: what an observer is (the policy contract) and the bookkeeping they share.
//
// An observer collects statistics of the tensors it is shown, batch after batch. lowbit's
// observers (minmax_observer, moving_average_minmax_observer, histogram_observer) are templated on
// a granularity, per_tensor or per_channel(axis), and all follow this contract, which is all a
// user-written observer needs:
//
//   void observe(const Eigen::DenseBase<D>& x);                 // one batch (any Eigen dense object)
//   void observe(const float* data, const std::vector<index_t>& shape);
//   void reset();                                                // forget everything
//   void merge(const Observer& other);                           // combine two observers of one kind
//   range observed_range() const;                                // per-slot min / max seen so far
//                                                                // (its size() is the slot count)
//   index_t batches() const;                                     // batches observed
//
// (C++20: the concept lowbit::observer; C++17: the trait lowbit::is_observer_v.) Histogram
// observers also provide histogram(slot), which the histogram-based calibrators read.
//
// Bad input, for every lowbit observer:
//   NaN         lowbit::error naming the batch and the element; the observer is left unchanged
//   +-Inf       left out of min / max and of histograms, counted in infinities() (PyTorch drops
//               infinities from its HistogramObserver the same way)
//   a batch whose channel count differs from earlier batches: lowbit::error
//   no data yet: observed_range() holds min = +Inf, max = -Inf per slot, which qparams turn into
//               PyTorch's defaults (scale 1, zero point 0)
#pragma once

#include <Eigen/Core>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/granularity.hpp"
#include "lowbit/core/qparams.hpp"
#include "lowbit/core/shape.hpp"
#include "lowbit/runtime/context.hpp"
#include "lowbit/tensor/engine.hpp"
#include "lowbit/tensor/runs.hpp"

LOWBIT_NAMESPACE_BEGIN

namespace detail {

template <class T, class = void>
struct is_observer_impl : std::false_type {};
template <class T>
struct is_observer_impl<
    T, std::void_t<decltype(std::declval<T&>().observe(std::declval<const Eigen::MatrixXf&>())),
                   decltype(std::declval<T&>().observe(static_cast<const float*>(nullptr),
                                                       std::declval<const std::vector<index_t>&>())),
                   decltype(std::declval<T&>().reset()),
                   decltype(std::declval<T&>().merge(std::declval<const T&>())),
                   decltype(range(std::declval<const T&>().observed_range())),
                   decltype(index_t(std::declval<const T&>().batches()))>> : std::true_type {};

/// What every granularity-templated lowbit observer shares: the two observe() entry points, the
/// view of a batch around its axis, the slot count fixed by the first batch, the batch's min / max,
/// batch and infinity counters, error messages. Derived::observe_input(in) does the rest.
template <class Derived, class Granularity>
class observer_state {
  static_assert(is_granularity_v<Granularity>, "observers are per_tensor, per_channel(axis) or per_group(axis, size)");

 public:
  observer_state() = default;
  explicit observer_state(Granularity g) : granularity_(g) {}

  /// Observes one batch: any Eigen dense object, or a contiguous C-order buffer with its shape.
  template <class D>
  void observe(const Eigen::DenseBase<D>& x) {
    static_cast<Derived*>(this)->observe_input(make_input(x, axis()));
  }
  void observe(const float* data, const std::vector<index_t>& shape) {
    static_cast<Derived*>(this)->observe_input(make_input(data, shape, axis()));
  }

  const Granularity& granularity() const noexcept { return granularity_; }
  index_t batches() const noexcept { return batches_; }
  index_t infinities() const noexcept { return infinities_; }
  /// Slots (1 per tensor, or the channel count); 0 before the first batch.
  index_t slots() const noexcept { return slots_ < 0 ? 0 : slots_; }

  /// Threads and kernel path used to observe batches (default: context{}, taken when the observer
  /// was made).
  void set_context(context ctx) { ctx_ = std::move(ctx); }
  const context& get_context() const noexcept { return ctx_; }

 protected:
  int axis() const noexcept { return axis_of(granularity_); }

  granularity_desc desc(const float_input& in) const {
    granularity_desc g(granularity_);
    g.axis = std::is_same_v<Granularity, per_tensor> ? 0 : in.axis;
    if (g.kind == granularity_kind::group && g.group_size <= 0)
      fail("observe: per_group group_size must be positive, got ", g.group_size);
    return g;
  }

  /// Checks a new batch's slot count against earlier ones (the first batch fixes it).
  void check_slots(index_t slots, const float_input& in) const {
    if (slots_ >= 0 && slots != slots_) {
      fail("observe: batch ", batches_, " has ", slots, " channels along axis ", in.axis,
           " (shape ", shape_string(in.shape), "), earlier batches had ", slots_);
    }
  }

  std::string batch_label() const { return concat("observe (batch ", batches_, ")"); }

  /// What one batch contributes: its granularity, slot count, per-slot min / max (+Inf / -Inf for
  /// a slot with no finite value) and the infinities left out of them.
  struct batch_stats {
    granularity_desc g;
    index_t slots = 0;
    range r;
    index_t infinities = 0;
  };

  /// A batch's statistics, after checking its slot count against earlier batches; nothing for an
  /// empty batch (ignored, as PyTorch ignores it). The observer itself does not change.
  std::optional<batch_stats> batch_range(const float_input& in) const {
    if (in.view.size() == 0) return std::nullopt;
    batch_stats b;
    b.g = desc(in);
    b.slots = slot_count(in.view, b.g);
    check_slots(b.slots, in);
    const std::string label = batch_label();
    b.r = observe_ranges(in, b.g, ctx_, nonfinite_mode::skip_inf, &b.infinities, label.c_str());
    return b;
  }

  /// Records a batch the observer has taken in: the first batch fixes the slot count.
  void count_batch(const batch_stats& b) noexcept {
    if (slots_ < 0) slots_ = b.slots;
    infinities_ += b.infinities;
    ++batches_;
  }

  void merge_counts(const observer_state& other, index_t other_slots) {
    if (slots_ >= 0 && other.slots_ >= 0 && other_slots != slots_)
      fail("merge: observers have ", slots_, " and ", other_slots, " slots");
    if (slots_ < 0) slots_ = other.slots_;
    batches_ += other.batches_;
    infinities_ += other.infinities_;
  }

  void reset_counts() noexcept {
    slots_ = -1;
    batches_ = 0;
    infinities_ = 0;
  }

  Granularity granularity_{};
  context ctx_{};
  index_t slots_ = -1;
  index_t batches_ = 0;
  index_t infinities_ = 0;
};

/// The context an observer computes with (observer_state's), or the default one for a user
/// observer that has none.
template <class T, class = void>
struct has_context : std::false_type {};
template <class T>
struct has_context<T, std::void_t<decltype(std::declval<const T&>().get_context())>> : std::true_type {};

template <class Observer>
context context_of(const Observer& o) {
  if constexpr (has_context<Observer>::value) {
    return o.get_context();
  } else {
    (void)o;
    return context{};
  }
}

}  // namespace detail

/// True for types that satisfy the observer contract above.
template <class T>
inline constexpr bool is_observer_v = detail::is_observer_impl<T>::value;

#if defined(__cpp_concepts) && __cpp_concepts >= 201907L
template <class T>
concept observer = is_observer_v<T>;
#endif

LOWBIT_NAMESPACE_END
