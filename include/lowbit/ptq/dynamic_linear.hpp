// lowbit/ptq/dynamic_linear.hpp: a Linear layer with int8 weights and activations quantized on the fly.
//
// What PyTorch's quantize_dynamic gives for nn.Linear: y = x W^T + b with W [out, in] quantized once
// and each input batch quantized when it arrives; the product runs on the int8 GEMM and comes back
// as float. Both quantizations are quantizer types:
//
//   lowbit::dynamic_linear<> layer(W, b);              // W: Eigen [out, in]; b: Eigen vector, std::vector or {}
//   lowbit::row_matrix y = layer.forward(x);           // x: [batch, in] -> y: [batch, out]
//   y = layer.forward(x, lowbit::output_float{}.relu());  // with a fused ReLU (or any clamp)
//
//   template arguments                      default
//   WeightQuantizer       weights [out, in]  quantizer<int8, symmetric, per_channel>  (per output channel)
//                                            quantizer<int8, symmetric> for one scale per tensor
//   ActivationQuantizer   inputs [batch, in] quantizer<uint8, affine, per_channel>  (per row, "per token",
//                                            from the row's min/max with PyTorch's formulas)
//                                            quantizer<uint8, affine>: one (scale, zero point) per batch
//                                            (PyTorch's choice); quantizer<int8, symmetric, per_channel>:
//                                            int8 rows, zero point 0
//
// Error: with activation step sa and weight step sw, each output is within
//   sum_k (|x_k| sw / 2 + |w_k| sa / 2 + sa sw / 4)
// of the float layer (rounding to nearest on both operands); tests check this bound.
//
// A layer may be used by several threads at once: forward() only reads it.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/gemm/activations.hpp"
#include "lowbit/gemm/gemm.hpp"
#include "lowbit/gemm/output.hpp"
#include "lowbit/gemm/packed_weights.hpp"
#include "lowbit/runtime/context.hpp"
#include "lowbit/tensor/quantized_tensor.hpp"
#include "lowbit/tensor/quantizer.hpp"

LOWBIT_NAMESPACE_BEGIN

namespace detail {
template <class WeightQuantizer>
void check_gemm_weight_quantizer(const WeightQuantizer& q) {
  using F = typename WeightQuantizer::format;
  using G = typename WeightQuantizer::granularity_type;
  static_assert(F::bits == 8 && F::is_signed && !WeightQuantizer::scheme::is_affine,
                "GEMM weights are int8 (or int8_narrow) symmetric: quantizer<int8, symmetric, ...>");
  static_assert(std::is_same_v<G, per_tensor> || std::is_same_v<G, per_channel>,
                "GEMM weights are quantized per tensor or per output channel (per_channel(0))");
  if constexpr (std::is_same_v<G, per_channel>) {
    if (q.granularity().axis != 0 && q.granularity().axis != -2)
      fail("linear layer: weights are quantized per output channel, per_channel(0), not along axis ", q.granularity().axis);
  }
}

template <class ActivationQuantizer>
void check_row_quantizer(const ActivationQuantizer& q, const char* what) {
  using F = typename ActivationQuantizer::format;
  using G = typename ActivationQuantizer::granularity_type;
  static_assert(F::bits == 8, "linear layer activations are 8-bit (uint8 or int8)");
  static_assert(std::is_same_v<G, per_tensor> || std::is_same_v<G, per_channel>,
                "linear layer activations are quantized per tensor or per row (per_channel(0))");
  if constexpr (std::is_same_v<G, per_channel>) {
    if (q.granularity().axis != 0 && q.granularity().axis != -2)
      fail(what, ": activations are quantized per row, per_channel(0), not along axis ", q.granularity().axis);
  }
}
}  // namespace detail

template <class WeightQuantizer = quantizer<int8, symmetric, per_channel>,
          class ActivationQuantizer = quantizer<uint8, affine, per_channel>>
class dynamic_linear {
 public:
  using weight_quantizer = WeightQuantizer;
  using activation_quantizer = ActivationQuantizer;
  using activation_format = typename ActivationQuantizer::format;

  dynamic_linear() = default;

  /// W is [out_features, in_features] (nn.Linear's weight); the bias is empty or out_features values.
  template <class Derived>
  explicit dynamic_linear(const Eigen::DenseBase<Derived>& weight, bias_values bias = {},
                          WeightQuantizer wq = WeightQuantizer{}, ActivationQuantizer aq = ActivationQuantizer{},
                          const context& ctx = {})
      : act_(std::move(aq)) {
    detail::check_gemm_weight_quantizer(wq);
    detail::check_row_quantizer(act_, "dynamic_linear");
    weights_ = packed_weights(wq.quantize(weight, ctx), std::move(bias), ctx);
  }

  /// From weights already packed (e.g. quantized with another calibrator).
  explicit dynamic_linear(packed_weights weights, ActivationQuantizer aq = ActivationQuantizer{})
      : weights_(std::move(weights)), act_(std::move(aq)) {
    detail::check_row_quantizer(act_, "dynamic_linear");
  }

  index_t in_features() const noexcept { return weights_.k(); }
  index_t out_features() const noexcept { return weights_.n(); }
  const packed_weights& weights() const noexcept { return weights_; }
  const ActivationQuantizer& activations_quantizer() const noexcept { return act_; }

  /// y [rows, out] = stage(x [rows, in] W^T + b); x is any Eigen dense float object.
  template <class Derived>
  row_matrix forward(const Eigen::DenseBase<Derived>& x, const output_float& stage = {}, const context& ctx = {}) const {
    check_ready(x.cols());
    row_matrix y(x.rows(), out_features());
    run(act_.quantize(x, ctx), stage, y.data(), out_features(), ctx);
    return y;
  }

  /// Raw form: rows x in floats with leading dimension ldx -> rows x out floats with ldy.
  void forward(const float* x, index_t rows, index_t ldx, float* y, index_t ldy, const output_float& stage = {},
               const context& ctx = {}) const {
    check_ready(in_features());
    if (rows < 0) detail::fail("dynamic_linear: negative row count ", rows);
    if (rows == 0) return;
    if (rows > 1 && ldx < in_features()) detail::fail("dynamic_linear: input leading dimension ", ldx, " < ", in_features());
    if (x == nullptr && in_features() > 0) detail::fail("dynamic_linear: null input");
    if (y == nullptr && out_features() > 0) detail::fail("dynamic_linear: null output");
    const Eigen::Map<const row_matrix, 0, Eigen::OuterStride<>> in(x, rows, in_features(),
                                                                   Eigen::OuterStride<>(std::max(ldx, in_features())));
    run(act_.quantize(in, ctx), stage, y, ldy, ctx);
  }

  /// Bytes held by the layer (packed weights, sums, scales, bias).
  index_t bytes() const noexcept { return weights_.bytes(); }

 private:
  void check_ready(index_t features) const {
    if (weights_.n() == 0 && weights_.k() == 0)
      detail::fail("dynamic_linear: the layer has no weights (default-constructed or built from empty weights)");
    if (features != in_features())
      detail::fail("dynamic_linear: input has ", features, " features, the layer expects ", in_features());
  }

  void run(const quantized_tensor<activation_format>& codes, const output_float& stage, float* y, index_t ldy,
           const context& ctx) const {
    gemm(activations<activation_format>(codes), weights_, stage, y, ldy, ctx);
  }

  packed_weights weights_;
  ActivationQuantizer act_{};
};

LOWBIT_NAMESPACE_END
