// lowbit/core/shape.hpp: shapes, axes and positions: the checks and the messages every entry point shares.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace detail {

/// "[2, 3, 4]".
inline std::string shape_string(const std::vector<index_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

/// An axis in [-rank, rank) as a position in [0, rank); lowbit::error naming `what` otherwise.
inline int normalize_axis(int axis, index_t rank, const char* what) {
  if (axis < -rank || axis >= rank) {
    fail(what, ": axis ", axis, " is out of range for a tensor of rank ", rank, " (valid: ", -rank, " to ",
         rank - 1, ")");
  }
  return axis < 0 ? static_cast<int>(axis + rank) : axis;
}

/// ceil(a / b) for a >= 0, b > 0, without overflowing for large b.
inline index_t ceil_div(index_t a, index_t b) noexcept { return a == 0 ? 0 : 1 + (a - 1) / b; }

/// The element count of a shape; lowbit::error for negative dimensions or a product that
/// overflows index_t.
inline index_t checked_size(const std::vector<index_t>& shape, const char* what) {
  index_t n = 1;
  for (index_t d : shape) {
    if (d < 0) fail(what, ": negative dimension in shape ", shape_string(shape));
    if (d != 0 && n > std::numeric_limits<index_t>::max() / d)
      fail(what, ": shape ", shape_string(shape), " has more elements than index_t holds");
    n *= d;
  }
  return n;
}

/// "[i, j, k]" multi-index of a flat C-order position.
inline std::string multi_index(const std::vector<index_t>& shape, index_t flat) {
  std::vector<index_t> idx(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    const index_t extent = shape[d] > 0 ? shape[d] : 1;
    idx[d] = flat % extent;
    flat /= extent;
  }
  return shape_string(idx);
}

}  // namespace detail
LOWBIT_NAMESPACE_END
