// lowbit/ptq/float4_linear.hpp: a Linear layer whose weights are stored as NF4 or FP4 (4 bits + block absmax) and computed in float.
//
// QLoRA's storage format for inference: W [out, in] held as a float4_tensor (4 bits per weight
// plus a float absmax per block of 64, or 8 bits per block with double quantization: 4.5 or about
// 4.13 bits per weight), activations in float. NF4 values are not integers, so the product runs in
// float. Batches of up to 64 rows on the AVX2 / AVX-512 paths are multiplied straight from the
// codes (kernels::float4_gemv: table lookup and FMA in registers, when in_features is a multiple
// of the block and the block of 16); otherwise forward() dequantizes a panel of output rows at a
// time into a buffer that stays in cache and multiplies it with Eigen, panel by panel across the
// context's threads. The weights are never expanded whole.
//
//   lowbit::float4_linear layer(W, lowbit::float4_kind::nf4, {}, b);   // W: Eigen [out, in]
//   row_matrix y = layer.forward(x);                                     // x: [batch, in]
//   y = layer.forward(x, lowbit::output_float{}.relu());
//   layer.footprint();
//
// Output: y = x W_q^T + b, with W_q the dequantized weights, then the stage's clamp (the layer is
// float in, float out: no requantizing stage). Bad input (a shape that does not match, NaN or Inf
// in the inputs or the weights, a NaN clamp bound) raises lowbit::error naming it. forward() only
// reads the layer: threads may share it.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/output_stages.hpp"
#include "lowbit/detail/aligned.hpp"
#include "lowbit/gemm/packed_weights.hpp"
#include "lowbit/ptq/lowbit_linear.hpp"
#include "lowbit/runtime/context.hpp"
#include "lowbit/tensor/float4_tensor.hpp"

LOWBIT_NAMESPACE_BEGIN

class float4_linear {
 public:
  float4_linear() = default;

  /// Quantizes W [out, in] to `kind` with options o (block 64, optional double quantization).
  template <class Derived>
  float4_linear(const Eigen::DenseBase<Derived>& w, float4_kind kind, const float4_options& o = {}, bias_values bias = {})
      : float4_linear(float4_tensor::quantize(w, kind, o), std::move(bias)) {}

  /// Takes weights already in NF4 / FP4 (e.g. loaded from a file), shape [out, in].
  explicit float4_linear(float4_tensor w, bias_values bias = {}) : w_(std::move(w)), bias_(bias.take()) {
    if (w_.shape().size() != 2) detail::fail("float4_linear: weights must be [out, in], got rank ", w_.shape().size());
    if (w_.rows() == 0 || w_.cols() == 0)
      detail::fail("float4_linear: weights must have at least one output and one input, got ", w_.rows(), " x ", w_.cols());
    if (!bias_.empty() && static_cast<index_t>(bias_.size()) != w_.rows())
      detail::fail("float4_linear: ", w_.rows(), " outputs but ", bias_.size(), " bias values");
    // Panels start on a block boundary: a multiple of block / gcd(block, in) rows.
    const index_t unit = w_.block() / std::gcd(w_.block(), w_.cols());
    const index_t target = std::max<index_t>(1, (index_t{128} << 10) / w_.cols());  // about 512 KiB of floats
    panel_ = std::max<index_t>(unit, target / unit * unit);
  }

  index_t in_features() const noexcept { return w_.cols(); }
  index_t out_features() const noexcept { return w_.rows(); }
  const float4_tensor& weights() const noexcept { return w_; }
  const std::vector<float>& bias() const noexcept { return bias_; }

  /// Bytes held (codes, block scales, bias) against the fp32 layer.
  layer_footprint footprint() const noexcept {
    layer_footprint f;
    f.bytes = w_.bytes() + 4 * static_cast<index_t>(bias_.size());
    f.float_bytes = 4 * (w_.size() + static_cast<index_t>(bias_.size()));
    f.bits_per_weight = w_.bits_per_weight();
    return f;
  }

  /// y = x W_q^T (+ bias), then the stage's clamp; x: [batch, in].
  template <class Derived>
  row_matrix forward(const Eigen::DenseBase<Derived>& x, const output_float& stage = {}, const context& ctx = {}) const {
    if (std::isnan(stage.lo) || std::isnan(stage.hi)) detail::fail("float4_linear::forward: the output clamp has a NaN bound");
    if (x.cols() != in_features())
      detail::fail("float4_linear::forward: input has ", x.cols(), " features, the layer ", in_features());
    check_path(ctx.path, "float4_linear::forward");
    const row_matrix xin = x.template cast<float>();
    for (index_t i = 0; i < xin.size(); ++i) {
      if (!std::isfinite(xin.data()[i]))
        detail::fail("float4_linear::forward: input[", i / xin.cols(), ", ", i % xin.cols(), "] = ", xin.data()[i], " is not finite");
    }
    row_matrix y(xin.rows(), out_features());
    if (xin.rows() == 0) return y;
    const index_t n = out_features(), k = in_features();
    const context one = ctx.with_threads(1);
    if (xin.rows() <= fused_rows && k % w_.block() == 0 && w_.block() % 16 == 0 && kernels::has_float4_gemv(ctx.path)) {
      // Few rows: the product straight from the codes (kernels::float4_gemv), output rows split
      // across the threads.
      const index_t chunk = 256, chunks = (n + chunk - 1) / chunk;
      ctx.run(chunks, [&](index_t c) {
        const index_t r0 = c * chunk, rows = std::min(chunk, n - r0);
        kernels::float4_gemv(one.path, w_.packed().data() + r0 * k / 2, w_.absmax().data() + r0 * k / w_.block(), rows, k,
                             w_.block(), float4_table(w_.kind()), xin.data(), xin.rows(), k, y.data() + r0, n);
      });
    } else {
    const index_t panels = (n + panel_ - 1) / panel_;
    ctx.run(panels, [&](index_t p) {
      const index_t r0 = p * panel_, rows = std::min(panel_, n - r0);
      // The panel on a cache-line boundary (and not zeroed first): with blocks of a multiple of 16
      // the lookup kernels' stores then never split a line.
      detail::aligned_buffer<float> panel(static_cast<std::size_t>(rows * k));
      Eigen::Map<row_matrix, Eigen::Aligned16> wp(panel.data(), rows, k);
      const index_t lo = r0 * k;  // a block boundary (see the constructor)
      kernels::dequantize_float4(one.path, w_.packed().data() + lo / 2, rows * k, float4_table(w_.kind()),
                                 w_.absmax().data() + lo / w_.block(), w_.block(), panel.data());
      y.middleCols(r0, rows).noalias() = xin * wp.transpose();
    });
    }
    const bool bias = stage.use_bias && !bias_.empty();
    for (index_t i = 0; i < y.rows(); ++i) {
      for (index_t j = 0; j < n; ++j) {
        float v = y(i, j) + (bias ? bias_[static_cast<std::size_t>(j)] : 0.0f);
        y(i, j) = std::min(std::max(v, stage.lo), stage.hi);
      }
    }
    return y;
  }

 private:
  static constexpr index_t fused_rows = 64;  // batches up to this size skip the expansion

  float4_tensor w_;
  std::vector<float> bias_;
  index_t panel_ = 1;
};

LOWBIT_NAMESPACE_END
