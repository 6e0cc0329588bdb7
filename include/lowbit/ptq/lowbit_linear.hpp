// lowbit/ptq/lowbit_linear.hpp: a Linear layer with 2-, 4- or 8-bit group-quantized weights and int8 activations quantized on the fly.
//
// The weight-only low-bit layer of LLM inference on CPUs: W [out, in] is quantized once into
// packed_lowbit_weights (codes of 2, 4 or 8 bits, a fp16 scale per group of G inputs and, for
// affine formats, a zero point or minimum per group); each input batch is quantized per row to
// int8 (symmetric, zero point 0) when it arrives, and the product runs on lowbit_gemm:
//
//   using namespace lowbit;
//   lowbit_linear layer(W, quantizer<int4, symmetric, per_group>(per_group(1, 32)), b);  // W: Eigen [out, in]
//   row_matrix y = layer.forward(x);                           // x: [batch, in] -> y: [batch, out]
//   y = layer.forward(x, output_float{}.relu());               // fused ReLU (or any clamp)
//   auto q = layer.forward(x, output_float{}.requantize<uint8>(s, z));  // quantized_tensor<uint8>
//   layer.footprint();                                         // bytes held vs the fp32 layer
//
//   template arguments                      default
//   WF                    weight format      deduced from the weight quantizer: int4, uint4, int2,
//                                            uint2, int8, uint8 (or an integer_format of those widths)
//   ActivationQuantizer   inputs [batch, in] quantizer<int8, symmetric, per_channel> (per row, "per
//                                            token"); quantizer<int8, symmetric> for one scale per
//                                            batch; int8_narrow for codes in [-127, 127]
//
// Weight granularity: per_group(1, G) (G a multiple of 4; 32, 64 and 128 are the usual choices;
// when G does not divide in_features the last group is shorter), per_channel(0) (one group of K
// per output channel) or per_tensor.
// Any calibrator or weight search chooses the ranges (the three-argument constructor); scales are
// rounded to fp16 before the codes are chosen, so the codes are the nearest for the scales kept.
//
// Error: with ŵ the weights as stored (packed.dequantize()) and sa the step of the row's int8
// codes, each output is within sum_k (|x_k| |w_k - ŵ_k| + |ŵ_k| sa / 2) of the float layer, plus
// float rounding; tests check this bound.
//
// A layer may be used by several threads at once: forward() only reads it.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/gemm/activations.hpp"
#include "lowbit/gemm/lowbit_gemm.hpp"
#include "lowbit/gemm/output.hpp"
#include "lowbit/gemm/packed_lowbit_weights.hpp"
#include "lowbit/runtime/context.hpp"
#include "lowbit/tensor/quantized_tensor.hpp"
#include "lowbit/tensor/quantizer.hpp"

LOWBIT_NAMESPACE_BEGIN

/// What a layer holds, against the fp32 layer it replaces.
struct layer_footprint {
  index_t bytes = 0;          ///< bytes held: packed codes, scales, offsets, padding, bias
  index_t float_bytes = 0;    ///< the fp32 layer: out x in weights and the bias, 4 bytes each
  double bits_per_weight = 0; ///< bits per weight of codes, scales and offsets (padding excluded)
  double compression() const noexcept { return bytes > 0 ? static_cast<double>(float_bytes) / bytes : 0.0; }
};

template <class WF, class ActivationQuantizer = quantizer<int8, symmetric, per_channel>>
class lowbit_linear {
  using AF = typename ActivationQuantizer::format;
  static_assert(AF::bits == 8 && AF::is_signed && !ActivationQuantizer::scheme::is_affine,
                "lowbit_linear: activations are int8 symmetric (quantizer<int8, symmetric, ...>), zero point 0");

 public:
  using weight_format = WF;
  using activation_quantizer = ActivationQuantizer;
  using activation_format = AF;

  lowbit_linear() = default;

  /// W is [out_features, in_features] (nn.Linear's weight), quantized with `wq` (its format is WF);
  /// the bias is empty or out_features values.
  template <class Derived, class WeightQuantizer>
  lowbit_linear(const Eigen::DenseBase<Derived>& weight, const WeightQuantizer& wq, bias_values bias = {},
                ActivationQuantizer aq = ActivationQuantizer{}, const context& ctx = {})
      : weights_(pack_lowbit(weight, wq, std::move(bias), ctx)), act_(std::move(aq)) {
    static_assert(std::is_same_v<typename WeightQuantizer::format, WF>, "lowbit_linear: the weight quantizer's format is not WF");
    check_activation_quantizer();
  }

  /// The same with a calibrator or weight search choosing each group's range.
  template <class Derived, class WeightQuantizer, class Calibrator,
            class = decltype(std::declval<const Calibrator&>().choose(
                std::declval<const WeightQuantizer&>(),
                std::declval<typename Calibrator::template observer<typename WeightQuantizer::granularity_type>&>()))>
  lowbit_linear(const Eigen::DenseBase<Derived>& weight, const WeightQuantizer& wq, const Calibrator& calibrator,
                bias_values bias = {}, ActivationQuantizer aq = ActivationQuantizer{}, const context& ctx = {})
      : weights_(pack_lowbit(weight, wq, calibrator, std::move(bias), ctx)), act_(std::move(aq)) {
    static_assert(std::is_same_v<typename WeightQuantizer::format, WF>, "lowbit_linear: the weight quantizer's format is not WF");
    check_activation_quantizer();
  }

  /// From weights already packed (from a quantized tensor, or assembled from llama.cpp blocks).
  explicit lowbit_linear(packed_lowbit_weights<WF> weights, ActivationQuantizer aq = ActivationQuantizer{})
      : weights_(std::move(weights)), act_(std::move(aq)) {
    check_activation_quantizer();
  }

  index_t in_features() const noexcept { return weights_.k(); }
  index_t out_features() const noexcept { return weights_.n(); }
  const packed_lowbit_weights<WF>& weights() const noexcept { return weights_; }
  const ActivationQuantizer& activations_quantizer() const noexcept { return act_; }

  /// y [rows, out] = stage(x [rows, in] W^T + b); x is any Eigen dense float object.
  template <class Derived>
  row_matrix forward(const Eigen::DenseBase<Derived>& x, const output_float& stage = {}, const context& ctx = {}) const {
    check_ready(x.cols());
    row_matrix y(x.rows(), out_features());
    if (x.rows() > 0) run(act_.quantize(x, ctx), stage, y.data(), out_features(), ctx);
    return y;
  }

  /// Requantized output: a quantized tensor [rows, out] with the stage's scale and zero point.
  template <class F, class Derived>
  quantized_tensor<F> forward(const Eigen::DenseBase<Derived>& x, const output_requantized<F>& stage,
                              const context& ctx = {}) const {
    check_ready(x.cols());
    detail::check_output(stage);
    std::vector<std::uint8_t> codes(static_cast<std::size_t>(x.rows() * out_features()));
    if (x.rows() > 0)
      run(act_.quantize(x, ctx), stage, reinterpret_cast<typename F::code_type*>(codes.data()), out_features(), ctx);
    return quantized_tensor<F>({static_cast<index_t>(x.rows()), out_features()}, per_tensor{}, true,
                               qparams(stage.scale, stage.zero_point), std::move(codes));
  }

  /// Raw form: rows x in floats with leading dimension ldx -> rows x out floats with ldy.
  void forward(const float* x, index_t rows, index_t ldx, float* y, index_t ldy, const output_float& stage = {},
               const context& ctx = {}) const {
    check_ready(in_features());
    if (rows < 0) detail::fail("lowbit_linear: negative row count ", rows);
    if (rows == 0) return;
    if (rows > 1 && ldx < in_features()) detail::fail("lowbit_linear: input leading dimension ", ldx, " < ", in_features());
    if (rows > 1 && ldy < out_features()) detail::fail("lowbit_linear: output leading dimension ", ldy, " < ", out_features());
    if (x == nullptr) detail::fail("lowbit_linear: null input");
    if (y == nullptr) detail::fail("lowbit_linear: null output");
    const Eigen::Map<const row_matrix, 0, Eigen::OuterStride<>> in(x, rows, in_features(),
                                                                   Eigen::OuterStride<>(std::max(ldx, in_features())));
    run(act_.quantize(in, ctx), stage, y, ldy, ctx);
  }

  /// Bytes held by the layer (packed codes, scales, offsets, padding to 64 outputs, bias).
  index_t bytes() const noexcept { return weights_.bytes(); }

  /// The layer against the fp32 layer it replaces.
  layer_footprint footprint() const noexcept {
    layer_footprint f;
    f.bytes = bytes();
    f.float_bytes = 4 * (out_features() * in_features() + (weights_.bias() != nullptr ? out_features() : 0));
    f.bits_per_weight = weights_.bits_per_weight();
    return f;
  }

 private:
  void check_activation_quantizer() const {
    using G = typename ActivationQuantizer::granularity_type;
    static_assert(std::is_same_v<G, per_tensor> || std::is_same_v<G, per_channel>,
                  "lowbit_linear: activations are quantized per tensor or per row (per_channel(0))");
    if constexpr (std::is_same_v<G, per_channel>) {
      if (act_.granularity().axis != 0 && act_.granularity().axis != -2)
        detail::fail("lowbit_linear: activations are quantized per row, per_channel(0), not along axis ",
                     act_.granularity().axis);
    }
  }

  void check_ready(index_t features) const {
    if (weights_.n() == 0 || weights_.k() == 0)
      detail::fail("lowbit_linear: the layer has no weights (default-constructed or built from empty weights)");
    if (features != in_features())
      detail::fail("lowbit_linear: input has ", features, " features, the layer expects ", in_features());
  }

  template <class Stage>
  void run(const quantized_tensor<AF>& codes, const Stage& stage, typename Stage::value_type* y, index_t ldy,
           const context& ctx) const {
    lowbit_gemm(activations<AF>(codes), weights_, stage, y, ldy, ctx);
  }

  packed_lowbit_weights<WF> weights_;
  ActivationQuantizer act_{};
};

template <class Derived, class WeightQuantizer>
lowbit_linear(const Eigen::DenseBase<Derived>&, const WeightQuantizer&) -> lowbit_linear<typename WeightQuantizer::format>;
template <class Derived, class WeightQuantizer, class B>
lowbit_linear(const Eigen::DenseBase<Derived>&, const WeightQuantizer&, B) -> lowbit_linear<typename WeightQuantizer::format>;
template <class Derived, class WeightQuantizer, class C, class B>
lowbit_linear(const Eigen::DenseBase<Derived>&, const WeightQuantizer&, const C&, B)
    -> lowbit_linear<typename WeightQuantizer::format>;
template <class F>
lowbit_linear(packed_lowbit_weights<F>) -> lowbit_linear<F>;

LOWBIT_NAMESPACE_END
