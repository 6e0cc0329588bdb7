// lowbit/tensor/quantizer.hpp: quantizer<Format, Scheme, Granularity, Rounding>: the one route from data or ranges to qparams and codes.
//
//   lowbit::quantizer<lowbit::int4, lowbit::affine, lowbit::per_group> q(lowbit::per_group(1, 32));
//   auto t = q.quantize(W);                 // qparams from W's own min/max, then packed int4 codes
//   Eigen::MatrixXf back = t.dequantize();
//
// The types say what is quantized how; run-time values (axis, group size, scales) stay run-time.
// Inputs are Eigen dense objects (any storage order, Maps, strided blocks, expressions), contiguous
// C-order float buffers with a shape, or contiguous containers of floats (std::vector, std::array,
// std::span) with a shape; a tensor of any rank is handled as the channel axis with the dimensions
// before and after it flattened.
//
// Everything that turns a range into qparams, or a float into a code, goes through a quantizer:
// qparams_for() applies PyTorch's formulas (core/qparams.hpp), code() the quantizer's rounding.
// Calibrators receive the quantizer, so a range they choose is judged with the same arithmetic the
// quantizer will use.
#pragma once

#include <Eigen/Core>
#include <type_traits>
#include <utility>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/core/granularity.hpp"
#include "lowbit/core/qparams.hpp"
#include "lowbit/core/scheme.hpp"
#include "lowbit/kernels/elementwise_scalar.hpp"
#include "lowbit/runtime/context.hpp"
#include "lowbit/tensor/engine.hpp"
#include "lowbit/tensor/quantized_tensor.hpp"
#include "lowbit/tensor/runs.hpp"

LOWBIT_NAMESPACE_BEGIN

template <class Format, class Scheme = default_scheme_t<Format>, class Granularity = per_tensor,
          class Rounding = reciprocal_multiply>
class quantizer {
  static_assert(is_format_v<Format>,
                "quantizer<Format, Scheme, Granularity, Rounding>: Format must be a lowbit format: "
                "int8, uint8, int8_narrow, int4, uint4, int2, uint2 or an integer_format");
  static_assert(is_scheme_v<Scheme>,
                "quantizer<Format, Scheme, Granularity, Rounding>: Scheme must be lowbit::symmetric, "
                "lowbit::symmetric_absmax or lowbit::affine (the order is format, scheme, granularity, rounding)");
  static_assert(is_granularity_v<Granularity>,
                "quantizer<Format, Scheme, Granularity, Rounding>: Granularity must be "
                "lowbit::per_tensor, lowbit::per_channel or lowbit::per_group");
  static_assert(is_rounding_v<Rounding>,
                "quantizer<Format, Scheme, Granularity, Rounding>: Rounding must be "
                "lowbit::reciprocal_multiply (PyTorch) or lowbit::true_divide (ONNX)");
  static_assert(!(std::is_same_v<Format, int8_narrow> && Scheme::is_affine),
                "int8_narrow is the symmetric [-127, 127] weight format; an affine int8 quantizer "
                "should use lowbit::int8 (or lowbit::uint8)");

 public:
  using format = Format;
  using scheme = Scheme;
  using granularity_type = Granularity;
  using rounding = Rounding;

  quantizer() = default;
  explicit quantizer(Granularity g, inf_policy inf = inf_policy::error) : granularity_(g), inf_(inf) {}

  const Granularity& granularity() const noexcept { return granularity_; }
  inf_policy infinities() const noexcept { return inf_; }

  /// qparams for observed ranges, one range slot per qparam slot (PyTorch's formulas, see
  /// detail::qparam_from_range). A slot that saw no data gets scale 1 and the scheme's zero point.
  qparams qparams_for(const range& r) const {
    if (r.min.size() != r.max.size())
      detail::fail("qparams_for: range has ", r.min.size(), " minima but ", r.max.size(), " maxima");
    qparams out;
    out.scale.resize(r.min.size());
    out.zero_point.resize(r.min.size());
    for (std::size_t i = 0; i < r.min.size(); ++i)
      detail::qparam_from_range<Format, Scheme>(r.min[i], r.max[i], out.scale[i], out.zero_point[i], "qparams_for",
                                                static_cast<index_t>(i));
    return out;
  }

  /// (scale, zero point) for one slot's [min, max]: what qparams_for(range) gives each slot.
  std::pair<float, std::int32_t> qparams_for(float min, float max) const {
    float scale = 1.0f;
    std::int32_t zero_point = 0;
    detail::qparam_from_range<Format, Scheme>(min, max, scale, zero_point);
    return {scale, zero_point};
  }

  /// Min and max of x per slot. NaN raises lowbit::error naming the first one; so does +-Inf,
  /// unless the quantizer saturates infinities (then they are left out of the range).
  template <class Derived>
  range observe(const Eigen::DenseBase<Derived>& x, const context& ctx = {}) const {
    return observe_input(detail::make_input(x, axis()), ctx);
  }
  range observe(const float* data, const std::vector<index_t>& shape, const context& ctx = {}) const {
    return observe_input(detail::make_input(data, shape, axis()), ctx);
  }
  template <class C, class = std::enable_if_t<detail::is_float_span_v<C>>>
  range observe(const C& values, const std::vector<index_t>& shape, const context& ctx = {}) const {
    return observe(span_data(values, shape), shape, ctx);
  }

  /// Quantizes x with qparams computed from x itself (qparams_for(observe(x))).
  template <class Derived>
  quantized_tensor<Format> quantize(const Eigen::DenseBase<Derived>& x, const context& ctx = {}) const {
    return quantize_own(detail::make_input(x, axis()), ctx);
  }
  quantized_tensor<Format> quantize(const float* data, const std::vector<index_t>& shape,
                                    const context& ctx = {}) const {
    return quantize_own(detail::make_input(data, shape, axis()), ctx);
  }
  template <class C, class = std::enable_if_t<detail::is_float_span_v<C>>>
  quantized_tensor<Format> quantize(const C& values, const std::vector<index_t>& shape, const context& ctx = {}) const {
    return quantize(span_data(values, shape), shape, ctx);
  }

  /// Quantizes x with given qparams (checked: one per slot, positive normal scales, zero points in
  /// range and, for a symmetric scheme, equal to its zero point).
  template <class Derived>
  quantized_tensor<Format> quantize(const Eigen::DenseBase<Derived>& x, const qparams& p, const context& ctx = {}) const {
    return quantize_input(detail::make_input(x, axis()), p, ctx);
  }
  quantized_tensor<Format> quantize(const float* data, const std::vector<index_t>& shape, const qparams& p,
                                    const context& ctx = {}) const {
    return quantize_input(detail::make_input(data, shape, axis()), p, ctx);
  }
  template <class C, class = std::enable_if_t<detail::is_float_span_v<C>>>
  quantized_tensor<Format> quantize(const C& values, const std::vector<index_t>& shape, const qparams& p,
                                    const context& ctx = {}) const {
    return quantize(span_data(values, shape), shape, p, ctx);
  }

  /// The code of one value x under (scale, zero_point), with this quantizer's rounding and
  /// saturation: clamp(nearbyint(x * (1 / scale)) + zero_point, qmin, qmax) for
  /// reciprocal_multiply, x / scale for true_divide. x must not be NaN.
  std::int32_t code(float x, float scale, std::int32_t zero_point) const noexcept {
    return kernels::scalar::quantize_value<Format, Rounding>(x, Rounding::factor(scale), zero_point);
  }
  /// What x comes back as after quantizing and dequantizing: (code(x) - zero_point) * scale.
  float fake_quantize(float x, float scale, std::int32_t zero_point) const noexcept {
    return static_cast<float>(code(x, scale, zero_point) - zero_point) * scale;
  }

 private:
  int axis() const noexcept { return detail::axis_of(granularity_); }

  template <class C>
  static const float* span_data(const C& values, const std::vector<index_t>& shape) {
    const index_t n = detail::checked_size(shape, "quantizer");
    if (static_cast<index_t>(values.size()) != n) {
      detail::fail("quantizer: a container of ", values.size(), " values cannot have shape ", detail::shape_string(shape),
                   " (", n, " elements)");
    }
    return values.data();
  }

  granularity_desc desc(const detail::float_input& in) const {
    granularity_desc g(granularity_);
    g.axis = in.axis;  // normalized (negative axes count from the end)
    if (g.kind == granularity_kind::tensor) g.axis = 0;
    if (g.kind == granularity_kind::group && g.group_size <= 0)
      detail::fail("per_group: group_size must be positive, got ", g.group_size);
    return g;
  }

  range observe_input(const detail::float_input& in, const context& ctx) const {
    const auto mode = inf_ == inf_policy::saturate ? detail::nonfinite_mode::skip_inf : detail::nonfinite_mode::error;
    return detail::observe_ranges(in, desc(in), ctx, mode, nullptr, "quantize");
  }

  quantized_tensor<Format> quantize_own(const detail::float_input& in, const context& ctx) const {
    return quantize_input(in, qparams_for(observe_input(in, ctx)), ctx);
  }

  quantized_tensor<Format> quantize_input(const detail::float_input& in, const qparams& p, const context& ctx) const {
    const granularity_desc g = desc(in);
    detail::check_qparams<Format, Scheme>(p, detail::slot_count(in.view, g), "quantize");
    std::vector<std::uint8_t> codes = detail::quantize_tensor<Format, Rounding>(in, g, p, inf_, ctx);
    return quantized_tensor<Format>(in.shape, g, Scheme::is_affine, p, std::move(codes));
  }

  Granularity granularity_{};
  inf_policy inf_ = inf_policy::error;
};

LOWBIT_NAMESPACE_END
