// lowbit/ptq/dynamic_linear.hpp: a Linear layer with int8 weights and activations quantized on the fly.
//
// What PyTorch's quantize_dynamic gives for nn.Linear: y = x W^T + b with W [out, in] quantized once
// (int8 symmetric, per output channel by default) and each input batch quantized when it arrives;
// the product runs on the int8 GEMM and comes back as float.
//
//   lowbit::dynamic_linear layer(W, b);              // W: Eigen [out, in], b: out values (or empty)
//   lowbit::row_matrix y = layer.forward(x);         // x: [batch, in] -> y: [batch, out]
//
// Activation quantization (activation_quant):
//   per_row_affine (default)  uint8, one (scale, zero point) per row ("per token") from the row's
//                             min/max with PyTorch's formulas
//   per_tensor_affine         uint8, one (scale, zero point) for the batch (PyTorch's choice)
//   per_row_symmetric         int8, zero point 0, scale amax / 127.5 per row
// Error: with activation step sa and weight step sw, each output is within
//   sum_k (|x_k| sw / 2 + |w_k| sa / 2 + sa sw / 4)
// of the float layer (rounding to nearest on both operands); tests check this bound.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/qparams.hpp"
#include "lowbit/core/quantized_tensor.hpp"
#include "lowbit/detail/aligned.hpp"
#include "lowbit/detail/runs.hpp"
#include "lowbit/gemm/gemm.hpp"
#include "lowbit/gemm/packed_weights.hpp"
#include "lowbit/kernels/quantize.hpp"
#include "lowbit/parallel/thread_pool.hpp"

LOWBIT_NAMESPACE_BEGIN

enum class activation_quant { per_row_affine, per_tensor_affine, per_row_symmetric };

class dynamic_linear {
 public:
  dynamic_linear() = default;

  /// W is [out_features, in_features] (nn.Linear's weight); bias is empty or out_features values.
  template <class Derived>
  explicit dynamic_linear(const Eigen::DenseBase<Derived>& weight, std::vector<float> bias = {},
                          activation_quant act = activation_quant::per_row_affine,
                          weight_scales scales = weight_scales::per_channel)
      : weights_(packed_weights::quantize(weight, scales, std::move(bias))), act_(act) {}

  /// From weights already packed (e.g. quantized with another calibrator).
  explicit dynamic_linear(packed_weights weights, activation_quant act = activation_quant::per_row_affine)
      : weights_(std::move(weights)), act_(act) {}

  index_t in_features() const noexcept { return weights_.k(); }
  index_t out_features() const noexcept { return weights_.n(); }
  const packed_weights& weights() const noexcept { return weights_; }
  activation_quant activation() const noexcept { return act_; }

  /// y [rows, out] = x [rows, in] W^T + b; x is any Eigen dense float object.
  template <class Derived>
  row_matrix forward(const Eigen::DenseBase<Derived>& x, const execution& ex = execution{}) const {
    if (x.cols() != in_features())
      detail::fail("dynamic_linear: input has ", x.cols(), " features, the layer expects ", in_features());
    const detail::float_input in = detail::make_input(x, 0);
    std::vector<float> contiguous;
    const float* data = in.view.data;
    index_t ld = in.view.s1;
    if (in.view.n2 > 1 && in.view.s2 != 1) {  // column-major or strided: copy rows once
      contiguous.resize(static_cast<std::size_t>(x.rows() * x.cols()));
      Eigen::Map<row_matrix>(contiguous.data(), x.rows(), x.cols()) = x.derived().template cast<float>();
      data = contiguous.data();
      ld = x.cols();
    }
    row_matrix y(x.rows(), out_features());
    forward(data, x.rows(), ld, y.data(), out_features(), ex);
    return y;
  }

  /// Raw form: rows x in floats with leading dimension ldx -> rows x out floats with ldy.
  void forward(const float* x, index_t rows, index_t ldx, float* y, index_t ldy,
               const execution& ex = execution{}) const {
    const index_t k = in_features();
    if (rows < 0) detail::fail("dynamic_linear: negative row count ", rows);
    if (rows == 0) return;
    if (rows > 1 && ldx < k) detail::fail("dynamic_linear: input leading dimension ", ldx, " < ", k);
    if (x == nullptr || y == nullptr) detail::fail("dynamic_linear: null input or output");
    const isa path = active_isa();
    detail::aligned_vector<std::uint8_t> codes(static_cast<std::size_t>(rows * k));
    std::vector<float> scales(static_cast<std::size_t>(rows));
    std::vector<std::int32_t> zps(static_cast<std::size_t>(rows));
    quantize_rows(x, rows, ldx, codes.data(), scales.data(), zps.data(), path, ex);
    quantized_activations a;
    a.data = codes.data();
    a.is_signed = act_ == activation_quant::per_row_symmetric;
    a.rows = rows;
    a.cols = k;
    a.ld = k;
    a.row_scales = scales.data();
    a.row_zero_points = zps.data();
    gemm(a, weights_, output_float{}, y, ldy, ex, path);
  }

  /// Bytes held by the layer (packed weights, sums, scales, bias).
  index_t bytes() const noexcept { return weights_.bytes(); }

 private:
  [[noreturn]] static void fail_row(const float* row, index_t m, index_t k) {
    for (index_t j = 0; j < k; ++j) {
      if (!std::isfinite(row[j]))
        detail::fail("dynamic_linear: input element [", m, ", ", j, "] is ", row[j], "; NaN and Inf cannot be quantized");
    }
    detail::fail("dynamic_linear: non-finite input in row ", m);
  }

  void quantize_rows(const float* x, index_t rows, index_t ldx, std::uint8_t* codes, float* scales,
                     std::int32_t* zps, isa path, const execution& ex) const {
    const index_t k = in_features();
    if (act_ == activation_quant::per_tensor_affine) {
      float mn = std::numeric_limits<float>::infinity(), mx = -mn;
      for (index_t m = 0; m < rows; ++m)
        if (!kernels::minmax(path, x + m * ldx, k, mn, mx)) fail_row(x + m * ldx, m, k);
      float s = 1;
      std::int32_t z = 0;
      compute_qparam<uint8, affine>(mn, mx, s, z);
      for (index_t m = 0; m < rows; ++m) {
        scales[m] = s;
        zps[m] = z;
      }
    }
    const index_t chunk = std::max<index_t>(1, 16384 / std::max<index_t>(k, 1));
    ex.run((rows + chunk - 1) / chunk, [&](index_t t) {
      for (index_t m = t * chunk; m < std::min(rows, (t + 1) * chunk); ++m) {
        const float* row = x + m * ldx;
        if (act_ != activation_quant::per_tensor_affine) {
          float mn = std::numeric_limits<float>::infinity(), mx = -mn;
          if (!kernels::minmax(path, row, k, mn, mx)) fail_row(row, m, k);
          if (act_ == activation_quant::per_row_affine) {
            compute_qparam<uint8, affine>(mn, mx, scales[m], zps[m]);
          } else {
            compute_qparam<int8, symmetric>(mn, mx, scales[m], zps[m]);
          }
        }
        const bool ok =
            act_ == activation_quant::per_row_symmetric
                ? kernels::quantize<int8, reciprocal_multiply>(path, row, k, 1.0f / scales[m], zps[m],
                                                               inf_policy::error, codes + m * k)
                : kernels::quantize<uint8, reciprocal_multiply>(path, row, k, 1.0f / scales[m], zps[m],
                                                                inf_policy::error, codes + m * k);
        if (!ok) fail_row(row, m, k);
      }
    });
  }

  packed_weights weights_;
  activation_quant act_ = activation_quant::per_row_affine;
};

LOWBIT_NAMESPACE_END
