// lowbit/core/quantizer.hpp: quantizer<Format, Scheme, Granularity, Rounding>: qparams, quantize, dequantize.
//
//   lowbit::quantizer<lowbit::int4, lowbit::affine, lowbit::per_group> q(lowbit::per_group(1, 32));
//   auto t = q.quantize(W);                 // qparams from W's own min/max, then packed int4 codes
//   Eigen::MatrixXf back = t.dequantize();
//
// The types say what is quantized how; run-time values (axis, group size, scales) stay run-time.
// Inputs are Eigen dense objects (any storage order, Maps, strided blocks, expressions) or
// contiguous C-order float buffers with a shape; a tensor of any rank is handled as the channel
// axis with the dimensions before and after it flattened.
#pragma once

#include <Eigen/Core>
#include <type_traits>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/core/granularity.hpp"
#include "lowbit/core/qparams.hpp"
#include "lowbit/core/quantized_tensor.hpp"
#include "lowbit/core/scheme.hpp"
#include "lowbit/detail/elementwise.hpp"
#include "lowbit/detail/runs.hpp"
#include "lowbit/kernels/isa.hpp"

LOWBIT_NAMESPACE_BEGIN

template <class Format, class Scheme = symmetric, class Granularity = per_tensor,
          class Rounding = reciprocal_multiply>
class quantizer {
  static_assert(is_format_v<Format>,
                "quantizer<Format, Scheme, Granularity, Rounding>: Format must be a lowbit format: "
                "int8, uint8, int8_narrow, int4, uint4, int2 or uint2");
  static_assert(is_scheme_v<Scheme>,
                "quantizer<Format, Scheme, Granularity, Rounding>: Scheme must be lowbit::symmetric "
                "or lowbit::affine (the order is format, scheme, granularity, rounding)");
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
  /// compute_qparam). A slot that saw no data gets scale 1 and the scheme's zero point.
  qparams qparams_from(const range& r) const { return qparams_from_range<Format, Scheme>(r); }

  /// Min and max of x per slot. NaN and +-Inf raise lowbit::error naming the first one.
  template <class Derived>
  range observe(const Eigen::DenseBase<Derived>& x) const {
    return observe_input(detail::make_input(x, axis()));
  }
  range observe(const float* data, const std::vector<index_t>& shape) const {
    return observe_input(detail::make_input(data, shape, axis()));
  }

  /// qparams from x's own min/max.
  template <class Derived>
  qparams compute_qparams(const Eigen::DenseBase<Derived>& x) const {
    return qparams_from(observe(x));
  }
  qparams compute_qparams(const float* data, const std::vector<index_t>& shape) const {
    return qparams_from(observe(data, shape));
  }

  /// Quantizes x with qparams computed from x itself.
  template <class Derived>
  quantized_tensor<Format> quantize(const Eigen::DenseBase<Derived>& x) const {
    const detail::float_input in = detail::make_input(x, axis());
    return quantize_input(in, qparams_from(observe_input(in)));
  }
  quantized_tensor<Format> quantize(const float* data, const std::vector<index_t>& shape) const {
    const detail::float_input in = detail::make_input(data, shape, axis());
    return quantize_input(in, qparams_from(observe_input(in)));
  }

  /// Quantizes x with given qparams (validated: length, positive normal scales, zero points).
  template <class Derived>
  quantized_tensor<Format> quantize(const Eigen::DenseBase<Derived>& x, const qparams& p) const {
    return quantize_input(detail::make_input(x, axis()), p);
  }
  quantized_tensor<Format> quantize(const float* data, const std::vector<index_t>& shape,
                                    const qparams& p) const {
    return quantize_input(detail::make_input(data, shape, axis()), p);
  }

 private:
  int axis() const noexcept { return detail::axis_of(granularity_); }

  granularity_desc desc(const detail::float_input& in) const {
    granularity_desc g(granularity_);
    g.axis = in.axis;  // normalized (negative axes count from the end)
    if (g.kind == granularity_kind::tensor) g.axis = 0;
    if (g.kind == granularity_kind::group && g.group_size <= 0)
      detail::fail("per_group: group_size must be positive, got ", g.group_size);
    return g;
  }

  range observe_input(const detail::float_input& in) const {
    return detail::observe_ranges(in, desc(in), active_isa());
  }

  quantized_tensor<Format> quantize_input(const detail::float_input& in, const qparams& p) const {
    const granularity_desc g = desc(in);
    validate_qparams<Format, Scheme>(p, detail::slot_count(in.view, g), "quantize");
    std::vector<std::uint8_t> codes =
        detail::quantize_tensor<Format, Rounding>(in, g, p, inf_, active_isa());
    return quantized_tensor<Format>(in.shape, g, Scheme::is_affine, p, std::move(codes));
  }

  Granularity granularity_{};
  inf_policy inf_ = inf_policy::error;
};

LOWBIT_NAMESPACE_END
