// lowbit/tensor/runs.hpp: float inputs as a 3-D view around the channel axis, and their traversal in runs.
//
// Every input tensor is seen as (outer, channels, inner) = (n0, n1, n2) with element strides
// (s0, s1, s2): the dimensions before the axis, the axis, and the dimensions after it, flattened.
// The logical (output) order is C order: flat index (i0 * n1 + i1) * n2 + i2.
//
// A qparam slot is
//   per tensor   0
//   per channel  i1
//   per group    (i0 * G + i1 / B) * n2 + i2, G = ceil(n1 / B): C order over the input shape with
//                the axis dimension replaced by G (ONNX's blocked scale shape)
//
// A run is a maximal stretch of consecutive output positions read with one input stride and a
// slot that is either constant or advances by one per element; the kernels work on runs.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <utility>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/granularity.hpp"
#include "lowbit/core/shape.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace detail {

struct view3 {
  const float* data = nullptr;
  index_t n0 = 1, n1 = 0, n2 = 1;
  index_t s0 = 0, s1 = 1, s2 = 1;

  index_t size() const noexcept { return n0 * n1 * n2; }
  bool c_contiguous() const noexcept {
    return (n2 <= 1 || s2 == 1) && (n1 <= 1 || s1 == n2) && (n0 <= 1 || s0 == n1 * n2);
  }
};

/// A float tensor ready for the kernels: its logical shape, the axis the view is built around,
/// and a copy of the data when the source could not be read in place (an Eigen expression without
/// direct access, or a scalar type other than float).
struct float_input {
  std::vector<index_t> shape;
  int axis = 0;
  view3 view;
  std::vector<float> storage;
};

/// A contiguous C-order buffer of the given shape, seen around `axis`. The pointer must be aligned
/// as a float is (4 bytes; any pointer to a float object is), which is checked: a misaligned
/// buffer (bytes from a file at an odd offset, say) raises lowbit::error instead of being read
/// with misaligned loads.
inline float_input make_input(const float* data, const std::vector<index_t>& shape, int axis) {
  if (shape.empty()) fail("a tensor needs at least one dimension (use {1} for a scalar)");
  float_input in;
  in.shape = shape;
  in.axis = normalize_axis(axis, static_cast<index_t>(shape.size()), "tensor");
  const index_t total = checked_size(shape, "tensor");
  if (reinterpret_cast<std::uintptr_t>(data) % alignof(float) != 0)
    fail("tensor data pointer ", static_cast<const void*>(data), " is not aligned to ", alignof(float),
         " bytes; copy the values into a float array first");
  if (data == nullptr && total > 0) fail("tensor data pointer is null");
  index_t outer = 1, inner = 1;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (static_cast<int>(d) < in.axis) outer *= shape[d];
    if (static_cast<int>(d) > in.axis) inner *= shape[d];
  }
  const index_t channels = shape[static_cast<std::size_t>(in.axis)];
  in.view = view3{data, outer, channels, inner, channels * inner, inner, 1};
  return in;
}

/// True for contiguous containers of floats that are not Eigen objects: std::vector<float>,
/// std::array, std::span<const float> (C++20), anything with data() -> float pointer and size().
template <class C, class = void>
struct is_float_span : std::false_type {};
template <class C>
struct is_float_span<C, std::void_t<decltype(std::declval<const C&>().data()), decltype(std::declval<const C&>().size())>>
    : std::bool_constant<std::is_same_v<std::remove_cv_t<std::remove_pointer_t<decltype(std::declval<const C&>().data())>>, float> &&
                         !std::is_base_of_v<Eigen::EigenBase<C>, C>> {};
template <class C>
inline constexpr bool is_float_span_v = is_float_span<C>::value;

/// An Eigen dense object (matrix, vector, Map, Block with strides, or any expression) of shape
/// [rows, cols], seen around axis 0 (rows) or 1 (columns). Objects with direct access to float
/// storage are read in place; anything else is evaluated once into a row-major copy.
template <class Derived>
float_input make_input(const Eigen::DenseBase<Derived>& x, int axis) {
  float_input in;
  in.shape = {static_cast<index_t>(x.rows()), static_cast<index_t>(x.cols())};
  in.axis = normalize_axis(axis, 2, "matrix");
  const index_t rows = in.shape[0], cols = in.shape[1];
  const float* data = nullptr;
  index_t rs = cols, cs = 1;
  constexpr bool direct = (Derived::Flags & Eigen::DirectAccessBit) != 0 &&
                          std::is_same_v<typename Derived::Scalar, float>;
  if constexpr (direct) {
    data = x.derived().data();
    rs = static_cast<index_t>(x.derived().rowStride());
    cs = static_cast<index_t>(x.derived().colStride());
  } else {
    in.storage.resize(static_cast<std::size_t>(rows * cols));
    Eigen::Map<Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
        in.storage.data(), rows, cols) = x.derived().template cast<float>();
    data = in.storage.data();
  }
  if (in.axis == 0) {
    in.view = view3{data, 1, rows, cols, 0, rs, cs};
  } else {
    in.view = view3{data, rows, cols, 1, rs, cs, 1};
  }
  return in;
}

/// Number of qparam slots for a view and a granularity.
inline index_t slot_count(const view3& v, const granularity_desc& g) {
  switch (g.kind) {
    case granularity_kind::tensor: return 1;
    case granularity_kind::channel: return v.n1;
    case granularity_kind::group: return v.n0 * ceil_div(v.n1, g.group_size) * v.n2;
  }
  return 1;
}

/// Shape of the qparam tensor: [] per tensor, [channels] per channel, the input shape with the
/// axis dimension replaced by the group count per group.
inline std::vector<index_t> slot_shape(const std::vector<index_t>& shape, const granularity_desc& g) {
  switch (g.kind) {
    case granularity_kind::tensor: return {};
    case granularity_kind::channel: return {shape[static_cast<std::size_t>(g.axis)]};
    case granularity_kind::group: {
      std::vector<index_t> s = shape;
      auto& d = s[static_cast<std::size_t>(g.axis)];
      d = ceil_div(d, g.group_size);
      return s;
    }
  }
  return {};
}

struct run {
  index_t in_offset;   ///< element offset of the first input value
  index_t in_stride;   ///< element stride between input values
  index_t n;           ///< number of elements
  index_t out_offset;  ///< flat (C-order) index of the first element
  index_t slot;        ///< qparam slot of the first element
  bool slot_varies;    ///< slot advances by one per element (else constant)
};

/// Calls fn(run) for every run of the view under granularity g, in increasing output order.
template <class Fn>
void for_each_run(const view3& v, const granularity_desc& g, Fn&& fn) {
  if (v.size() == 0) return;
  const index_t n0 = v.n0, n1 = v.n1, n2 = v.n2;
  if (g.kind == granularity_kind::tensor && v.c_contiguous()) {
    fn(run{0, 1, v.size(), 0, 0, false});
    return;
  }
  if (n2 > 1) {  // runs along the inner dimensions
    const index_t groups = g.kind == granularity_kind::group ? ceil_div(n1, g.group_size) : 0;
    for (index_t i0 = 0; i0 < n0; ++i0) {
      for (index_t i1 = 0; i1 < n1; ++i1) {
        run r{i0 * v.s0 + i1 * v.s1, v.s2, n2, (i0 * n1 + i1) * n2, 0, false};
        if (g.kind == granularity_kind::channel) {
          r.slot = i1;
        } else if (g.kind == granularity_kind::group) {
          r.slot = (i0 * groups + i1 / g.group_size) * n2;
          r.slot_varies = true;
        }
        fn(r);
      }
    }
    return;
  }
  for (index_t i0 = 0; i0 < n0; ++i0) {  // n2 == 1: runs along the axis
    switch (g.kind) {
      case granularity_kind::tensor: fn(run{i0 * v.s0, v.s1, n1, i0 * n1, 0, false}); break;
      case granularity_kind::channel: fn(run{i0 * v.s0, v.s1, n1, i0 * n1, 0, true}); break;
      case granularity_kind::group: {
        const index_t groups = ceil_div(n1, g.group_size);
        for (index_t gi = 0; gi < groups; ++gi) {
          const index_t start = gi * g.group_size;
          fn(run{i0 * v.s0 + start * v.s1, v.s1, std::min(g.group_size, n1 - start),
                 i0 * n1 + start, i0 * groups + gi, false});
        }
        break;
      }
    }
  }
}

/// The runs of a view cut into pieces of at most `max_piece` elements, for splitting work.
inline std::vector<run> run_pieces(const view3& v, const granularity_desc& g, index_t max_piece) {
  std::vector<run> out;
  for_each_run(v, g, [&](const run& r) {
    for (index_t k = 0; k < r.n; k += max_piece) {
      run p = r;
      p.n = std::min(max_piece, r.n - k);
      p.in_offset += k * r.in_stride;
      p.out_offset += k;
      if (r.slot_varies) p.slot += k;
      out.push_back(p);
    }
  });
  return out;
}

}  // namespace detail
LOWBIT_NAMESPACE_END
