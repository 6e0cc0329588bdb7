// lowbit/ptq/static_linear.hpp: a Linear layer for static post-training quantization.
//
// The input arrives quantized with qparams chosen once by calibration (one scale and zero point
// for the tensor); weights are int8 symmetric. The output is float, or requantized to int8 /
// uint8 with the next layer's calibrated qparams, so quantized layers chain without returning to
// float:
//
//   lowbit::static_linear<> fc1(W1, b1, in_qparams), fc2(W2, b2, h_qparams);
//   auto x = fc1.quantize_input(x_float);                                          // quantized_tensor<uint8>
//   auto h = fc1.forward(x, lowbit::output_float{}.relu().requantize<lowbit::uint8>(h_scale, h_zero_point));
//   lowbit::row_matrix y = fc2.forward(h);                                         // float out, with bias
//
//   template arguments                      default
//   InputQuantizer        inputs, per tensor quantizer<uint8, affine>  (or quantizer<int8, ...>)
//   WeightQuantizer       weights [out, in]  quantizer<int8, symmetric, per_channel>
//
// A layer may be used by several threads at once: forward() only reads it.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/qparams.hpp"
#include "lowbit/gemm/activations.hpp"
#include "lowbit/gemm/gemm.hpp"
#include "lowbit/gemm/output.hpp"
#include "lowbit/gemm/packed_weights.hpp"
#include "lowbit/ptq/dynamic_linear.hpp"
#include "lowbit/tensor/quantized_tensor.hpp"
#include "lowbit/tensor/quantizer.hpp"

LOWBIT_NAMESPACE_BEGIN

template <class InputQuantizer = quantizer<uint8, affine>,
          class WeightQuantizer = quantizer<int8, symmetric, per_channel>>
class static_linear {
  static_assert(std::is_same_v<typename InputQuantizer::granularity_type, per_tensor>,
                "static_linear: static activations have one (scale, zero point) for the tensor: "
                "the input quantizer is per_tensor");

 public:
  using input_format = typename InputQuantizer::format;
  using code_type = typename input_format::code_type;

  static_linear() = default;

  /// W [out, in] float weights (quantized here), bias (empty or out values, Eigen or std::vector),
  /// and the calibrated input qparams (one scale and zero point).
  template <class Derived>
  static_linear(const Eigen::DenseBase<Derived>& weight, bias_values bias, qparams input,
                WeightQuantizer wq = WeightQuantizer{}, InputQuantizer iq = InputQuantizer{}, const context& ctx = {})
      : input_q_(std::move(iq)), input_(std::move(input)) {
    detail::check_gemm_weight_quantizer(wq);
    detail::check_row_quantizer(input_q_, "static_linear");
    detail::check_qparams<input_format, typename InputQuantizer::scheme>(input_, 1, "static_linear input");
    weights_ = packed_weights(wq.quantize(weight, ctx), std::move(bias), ctx);
  }

  static_linear(packed_weights weights, qparams input, InputQuantizer iq = InputQuantizer{})
      : weights_(std::move(weights)), input_q_(std::move(iq)), input_(std::move(input)) {
    detail::check_row_quantizer(input_q_, "static_linear");
    detail::check_qparams<input_format, typename InputQuantizer::scheme>(input_, 1, "static_linear input");
  }

  index_t in_features() const noexcept { return weights_.k(); }
  index_t out_features() const noexcept { return weights_.n(); }
  const packed_weights& weights() const noexcept { return weights_; }
  const qparams& input_qparams() const noexcept { return input_; }

  /// Quantizes a float input [rows, in] with the calibrated input qparams.
  template <class Derived>
  quantized_tensor<input_format> quantize_input(const Eigen::DenseBase<Derived>& x, const context& ctx = {}) const {
    check_ready(x.cols());
    return input_q_.quantize(x, input_, ctx);
  }

  /// Float input -> quantized with the calibrated qparams -> float output (stage: bias, clamp).
  template <class Derived>
  row_matrix forward(const Eigen::DenseBase<Derived>& x, const output_float& stage = {}, const context& ctx = {}) const {
    return forward(quantize_input(x, ctx), stage, ctx);
  }

  /// Quantized input [rows, in] (its own per-tensor qparams) -> float output.
  row_matrix forward(const quantized_tensor<input_format>& x, const output_float& stage = {}, const context& ctx = {}) const {
    const activations<input_format> a = input_of(x);
    row_matrix y(a.rows(), out_features());
    gemm(a, weights_, stage, y.data(), out_features(), ctx);
    return y;
  }

  /// Quantized input -> requantized output, a quantized tensor [rows, out] with the stage's qparams
  /// (the next layer's input).
  template <class F>
  quantized_tensor<F> forward(const quantized_tensor<input_format>& x, const output_requantized<F>& stage,
                              const context& ctx = {}) const {
    const activations<input_format> a = input_of(x);
    std::vector<std::uint8_t> codes(static_cast<std::size_t>(a.rows() * out_features()));
    gemm(a, weights_, stage, reinterpret_cast<typename F::code_type*>(codes.data()), out_features(), ctx);
    return quantized_tensor<F>({a.rows(), out_features()}, per_tensor{}, true, qparams(stage.scale, stage.zero_point),
                               std::move(codes));
  }

  /// Raw form: any activations view (codes in place) through any output stage into y (leading
  /// dimension ldy).
  template <class Stage>
  void forward(const activations<input_format>& a, const Stage& stage, typename Stage::value_type* y, index_t ldy,
               const context& ctx = {}) const {
    check_ready(a.cols());
    gemm(a, weights_, stage, y, ldy, ctx);
  }

  index_t bytes() const noexcept { return weights_.bytes() + 8; }

 private:
  void check_ready(index_t features) const {
    if (input_.size() == 0)
      detail::fail("static_linear: the layer has no weights or input qparams (default-constructed)");
    if (features != in_features())
      detail::fail("static_linear: input has ", features, " features, the layer expects ", in_features());
  }

  activations<input_format> input_of(const quantized_tensor<input_format>& x) const {
    if (x.rank() != 2) detail::fail("static_linear: the input must be a matrix [rows, in], got rank ", x.rank());
    check_ready(x.shape()[1]);
    if (x.granularity().kind != granularity_kind::tensor)
      detail::fail("static_linear: the input must be quantized per tensor (static activations)");
    return activations<input_format>(x);
  }

  packed_weights weights_;
  InputQuantizer input_q_{};
  qparams input_;
};

LOWBIT_NAMESPACE_END
