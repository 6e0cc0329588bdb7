// lowbit/ptq/static_linear.hpp: a Linear layer for static post-training quantization.
//
// The input arrives already quantized with qparams chosen once by calibration (one scale and zero
// point for the tensor); weights are int8 symmetric. The output is float, or requantized to int8 /
// uint8 with the next layer's calibrated qparams, so quantized layers can be chained without
// returning to float:
//
//   lowbit::static_linear<lowbit::uint8> fc1(W1, b1, in_scale, in_zero_point);
//   fc1.forward(x_codes, rows, ld, h_codes, out_ld, lowbit::output_float{}.relu()
//                                               .requantize<lowbit::uint8>(h_scale, h_zero_point));
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/qparams.hpp"
#include "lowbit/core/quantizer.hpp"
#include "lowbit/gemm/gemm.hpp"
#include "lowbit/gemm/output.hpp"
#include "lowbit/gemm/packed_weights.hpp"

LOWBIT_NAMESPACE_BEGIN

template <class InFormat = uint8>
class static_linear {
  static_assert(std::is_same_v<InFormat, uint8> || std::is_same_v<InFormat, int8>,
                "static_linear<InFormat>: activations are uint8 or int8");

 public:
  using code_type = typename InFormat::code_type;

  static_linear() = default;

  /// W [out, in] float weights (quantized here), bias (empty or out values), and the calibrated
  /// input qparams.
  template <class Derived>
  static_linear(const Eigen::DenseBase<Derived>& weight, std::vector<float> bias, float input_scale,
                std::int32_t input_zero_point, weight_scales scales = weight_scales::per_channel)
      : static_linear(packed_weights::quantize(weight, scales, std::move(bias)), input_scale,
                      input_zero_point) {}

  static_linear(packed_weights weights, float input_scale, std::int32_t input_zero_point)
      : weights_(std::move(weights)), input_({input_scale}, {input_zero_point}) {
    validate_qparams<InFormat, affine>(input_, 1, "static_linear input");
  }

  index_t in_features() const noexcept { return weights_.k(); }
  index_t out_features() const noexcept { return weights_.n(); }
  const packed_weights& weights() const noexcept { return weights_; }
  const qparams& input_qparams() const noexcept { return input_; }

  /// Quantizes a float input [rows, in] with the calibrated input qparams.
  template <class Derived>
  quantized_tensor<InFormat> quantize_input(const Eigen::DenseBase<Derived>& x) const {
    return quantizer<InFormat, affine>().quantize(x, input_);
  }

  /// Quantized input [rows, in] (leading dimension ldx) through the output stage `stage`
  /// (output_float{} adds the bias; .requantize<F>(s, z) gives codes for the next layer).
  template <class Stage>
  void forward(const code_type* x, index_t rows, index_t ldx, typename Stage::value_type* y,
               index_t ldy, const Stage& stage, const execution& ex = execution{}) const {
    if (input_.size() == 0) detail::fail("static_linear: the layer was default-constructed (no weights, no input qparams)");
    quantized_activations a(x, rows, in_features(), ldx, input_.zero_point[0], input_.scale[0]);
    gemm(a, weights_, stage, y, ldy, ex);
  }

  /// Float input -> quantize with the calibrated qparams -> float output (with bias).
  template <class Derived>
  row_matrix forward(const Eigen::DenseBase<Derived>& x, const execution& ex = execution{}) const {
    if (x.cols() != in_features())
      detail::fail("static_linear: input has ", x.cols(), " features, the layer expects ", in_features());
    const quantized_tensor<InFormat> q = quantize_input(x);
    row_matrix y(x.rows(), out_features());
    forward(reinterpret_cast<const code_type*>(q.data().data()), x.rows(), in_features(), y.data(),
            out_features(), output_float{}, ex);
    return y;
  }

  index_t bytes() const noexcept { return weights_.bytes() + 8; }

 private:
  packed_weights weights_;
  qparams input_;
};

LOWBIT_NAMESPACE_END
