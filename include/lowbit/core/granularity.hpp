// lowbit/core/granularity.hpp: which elements share one (scale, zero point): tensor, channel, group.
#pragma once

#include <type_traits>

#include "lowbit/config.hpp"

LOWBIT_NAMESPACE_BEGIN

namespace detail {
struct granularity_tag {};
}  // namespace detail

enum class granularity_kind { tensor, channel, group };

/// One (scale, zero point) for the whole tensor.
struct per_tensor : detail::granularity_tag {
  static constexpr granularity_kind kind = granularity_kind::tensor;
};

/// One (scale, zero point) per index along `axis` (PyTorch's ch_axis, ONNX's per-axis).
struct per_channel : detail::granularity_tag {
  static constexpr granularity_kind kind = granularity_kind::channel;
  int axis = 0;
  per_channel() = default;
  explicit per_channel(int channel_axis) : axis(channel_axis) {}
};

/// One (scale, zero point) per block of `group_size` consecutive indices along `axis`, separately
/// for every position of the other dimensions: ONNX blocked quantization (opset 21), whose scale
/// tensor has the input's shape with dimension `axis` replaced by ceil(dim / group_size). The last
/// group along the axis may be shorter.
struct per_group : detail::granularity_tag {
  static constexpr granularity_kind kind = granularity_kind::group;
  int axis = 1;
  index_t group_size = 32;
  per_group() = default;
  per_group(int group_axis, index_t size) : axis(group_axis), group_size(size) {}
};

namespace detail {
/// The axis a granularity works along, as written (negative counts from the end); 0 for
/// per_tensor, which has none.
constexpr int axis_of(per_tensor) noexcept { return 0; }
constexpr int axis_of(const per_channel& g) noexcept { return g.axis; }
constexpr int axis_of(const per_group& g) noexcept { return g.axis; }
}  // namespace detail

template <class T>
inline constexpr bool is_granularity_v = std::is_base_of_v<detail::granularity_tag, T>;

/// Run-time description of a granularity, stored in quantized tensors.
struct granularity_desc {
  granularity_kind kind = granularity_kind::tensor;
  int axis = 0;            ///< channel / group axis (0 for per-tensor)
  index_t group_size = 0;  ///< group size (0 unless kind == group)

  granularity_desc() = default;
  granularity_desc(per_tensor) {}  // NOLINT(google-explicit-constructor): a descriptor of it
  granularity_desc(per_channel g) : kind(granularity_kind::channel), axis(g.axis) {}  // NOLINT
  granularity_desc(per_group g)  // NOLINT(google-explicit-constructor)
      : kind(granularity_kind::group), axis(g.axis), group_size(g.group_size) {}

  friend bool operator==(const granularity_desc& a, const granularity_desc& b) {
    return a.kind == b.kind && a.axis == b.axis && a.group_size == b.group_size;
  }
  friend bool operator!=(const granularity_desc& a, const granularity_desc& b) { return !(a == b); }
};

LOWBIT_NAMESPACE_END
