// lowbit/gemm/packed_weights.hpp: int8 weights packed once into the layout a path's GEMM kernel reads.
//
// Weights are a Linear layer's [N, K] = [out, in] matrix of int8 symmetric codes (zero point 0)
// with one scale per output channel or one for the tensor. They are packed in panels of NR output
// columns and depth groups of KR = 4 (kernels/gemm_contract.hpp defines the words):
//
//   panel p   = output columns n in [NR p, NR p + NR)          (N padded with zero rows)
//   quad q    = depth k in [4q, 4q + 4)                         (K padded with zeros)
//   panel p, quad q is NR x 4 bytes: for j = 0 .. NR - 1, the 4 bytes W[NR p + j][4q .. 4q + 3]
//
//        quad 0                        quad 1
//   | n0:k0..3 | n1:k0..3 | ... | nNR-1:k0..3 | n0:k4..7 | ...      (panel after panel)
//
// NR is the kernel's (weight_layout); a packed_weights knows which layout it holds and which path
// it was packed for, and a GEMM on a path whose kernel reads another layout raises lowbit::error
// (repack() gives the weights for another path). Beside the codes the packed weights keep what the
// output stage needs: per-column sums of the codes (to compensate activation zero points and sign
// shifts), scales and an optional float bias.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/core/granularity.hpp"
#include "lowbit/core/qparams.hpp"
#include "lowbit/core/scheme.hpp"
#include "lowbit/detail/aligned.hpp"
#include "lowbit/kernels/gemm.hpp"
#include "lowbit/runtime/context.hpp"
#include "lowbit/tensor/quantized_tensor.hpp"

LOWBIT_NAMESPACE_BEGIN

/// Largest depth K the int32 accumulators hold exactly. With activation codes minus their zero
/// point in [-255, 255] and weight codes in [-128, 127], |sum| <= K * 255 * 128, and
/// 65536 * 255 * 128 = 2,139,095,040 < 2^31 - 1. Larger K is rejected with lowbit::error.
inline constexpr index_t gemm_max_k = 65536;

/// A bias of N floats for a layer: a std::vector<float>, any Eigen vector (row or column), or none
/// ({} or omitted).
class bias_values {
 public:
  bias_values() = default;
  bias_values(std::vector<float> values) : values_(std::move(values)) {}  // NOLINT: a bias is its values
  template <class Derived>
  bias_values(const Eigen::DenseBase<Derived>& v) {  // NOLINT
    if (v.rows() != 1 && v.cols() != 1) detail::fail("bias: expected a vector, got a ", v.rows(), " x ", v.cols(), " matrix");
    values_.resize(static_cast<std::size_t>(v.size()));
    for (index_t i = 0; i < v.size(); ++i) values_[static_cast<std::size_t>(i)] = static_cast<float>(v.derived().coeff(i));
  }
  const std::vector<float>& values() const noexcept { return values_; }
  std::vector<float>&& take() noexcept { return std::move(values_); }

 private:
  std::vector<float> values_;
};

class packed_weights {
 public:
  packed_weights() = default;

  /// Packs weights quantized by a lowbit quantizer (int8 or int8_narrow, symmetric, shape [N, K],
  /// per tensor or per output channel, per_channel(0)) for the context's path.
  template <class F>
  explicit packed_weights(const quantized_tensor<F>& t, bias_values bias = {}, const context& ctx = {}) {
    static_assert(F::bits == 8 && F::is_signed,
                  "GEMM weights are int8 or int8_narrow; quantize them with a symmetric int8 quantizer");
    if (t.rank() != 2) detail::fail("packed_weights: weights must be a matrix [N, K], got rank ", t.rank());
    if (t.is_affine()) detail::fail("packed_weights: weights must be symmetric (zero point 0)");
    const granularity_desc& g = t.granularity();
    if (g.kind == granularity_kind::group || (g.kind == granularity_kind::channel && g.axis != 0))
      detail::fail("packed_weights: weight scales must be per tensor or per output channel (per_channel(0))");
    const index_t n = t.shape()[0], k = t.shape()[1];
    *this = pack(reinterpret_cast<const std::int8_t*>(t.data().data()), n, k, k, t.params().scale, bias.take(), ctx);
  }

  /// Packs int8 codes given row-major as [N, K] with leading dimension ld, with N scales (or one
  /// scale for all, per tensor) and an optional bias of N values, for the context's path.
  static packed_weights pack(const std::int8_t* codes, index_t n, index_t k, index_t ld, std::vector<float> scales,
                             bias_values bias = {}, const context& ctx = {}) {
    check_path(ctx.path, "packed_weights");
    if (n < 0 || k < 0) detail::fail("packed_weights: negative shape [", n, ", ", k, "]");
    if (k > gemm_max_k) {
      detail::fail("packed_weights: K = ", k, " exceeds ", gemm_max_k, ", the largest depth whose int32 sums are exact");
    }
    if (ld < k) detail::fail("packed_weights: leading dimension ", ld, " < K = ", k);
    if (codes == nullptr && n * k > 0) detail::fail("packed_weights: null weight codes");
    bool per_tensor = false;
    if (scales.size() == 1 && n != 1) {
      scales.assign(static_cast<std::size_t>(n), scales[0]);
      per_tensor = true;
    }
    if (static_cast<index_t>(scales.size()) != n)
      detail::fail("packed_weights: expected ", n, " scales (or one), got ", scales.size());
    for (std::size_t i = 0; i < scales.size(); ++i) detail::check_scale(scales[i], "packed_weights", static_cast<index_t>(i));
    std::vector<float> b = bias.take();
    if (!b.empty() && static_cast<index_t>(b.size()) != n)
      detail::fail("packed_weights: expected ", n, " bias values (or none), got ", b.size());
    for (std::size_t i = 0; i < b.size(); ++i)
      if (!std::isfinite(b[i])) detail::fail("packed_weights: bias[", i, "] = ", b[i], " is not finite");

    packed_weights p;
    p.path_ = ctx.path;
    p.layout_ = kernels::gemm_layout(ctx.path);
    const index_t nr = p.layout_.nr, kr = p.layout_.kr;
    p.n_ = n;
    p.k_ = k;
    p.kp_ = detail::ceil_div(k, kr) * kr;
    p.panels_ = detail::ceil_div(n, nr);
    p.per_tensor_ = per_tensor;
    const index_t np = p.panels_ * nr;
    p.data_.assign(static_cast<std::size_t>(np * p.kp_), 0);
    p.column_sums_.assign(static_cast<std::size_t>(np), 0);
    p.scales_.assign(static_cast<std::size_t>(np), 1.0f);
    p.bias_ = std::move(b);
    for (index_t row = 0; row < n && k > 0; ++row) {  // K = 0: nothing to copy (and no pointer arithmetic on empty storage)
      const std::int8_t* src = codes + row * ld;
      std::int8_t* dst = p.data_.data() + (row / nr) * nr * p.kp_ + (row % nr) * kr;
      std::int32_t sum = 0;
      for (index_t kk = 0; kk < k; ++kk) {
        dst[(kk / kr) * nr * kr + kk % kr] = src[kk];
        sum += src[kk];
      }
      p.column_sums_[static_cast<std::size_t>(row)] = sum;
    }
    std::copy(scales.begin(), scales.end(), p.scales_.begin());
    return p;
  }

  /// The same weights packed for another path (a copy if that path reads the same layout).
  packed_weights repack(kernel_path p) const {
    std::vector<std::int8_t> codes(static_cast<std::size_t>(n_ * k_));
    for (index_t row = 0; row < n_; ++row)
      for (index_t kk = 0; kk < k_; ++kk) codes[static_cast<std::size_t>(row * k_ + kk)] = code(row, kk);
    std::vector<float> scales(scales_.begin(), scales_.begin() + n_);
    packed_weights out = pack(codes.data(), n_, k_, k_, std::move(scales), bias_, context{}.with_path(p));
    out.per_tensor_ = per_tensor_;
    return out;
  }

  index_t n() const noexcept { return n_; }                ///< output channels
  index_t k() const noexcept { return k_; }                ///< depth
  index_t k_padded() const noexcept { return kp_; }        ///< depth rounded up to KR
  index_t panels() const noexcept { return panels_; }      ///< ceil(N / NR)
  weight_layout layout() const noexcept { return layout_; }
  /// The path the weights were packed for (any path whose kernel reads layout() can use them).
  kernel_path packed_for() const noexcept { return path_; }
  bool per_tensor_scale() const noexcept { return per_tensor_; }
  /// Codes of panel p: kp / KR quads of NR x KR bytes.
  const std::int8_t* panel(index_t p) const noexcept { return data_.data() + p * layout_.nr * kp_; }
  /// Sum over k of the codes of output channel n (0 for padding), N padded to a multiple of NR.
  const std::int32_t* column_sums() const noexcept { return column_sums_.data(); }
  /// Scale of output channel n (per-tensor scales repeated), N padded with 1.
  const float* scales() const noexcept { return scales_.data(); }
  /// Bias of output channel n, or nullptr.
  const float* bias() const noexcept { return bias_.empty() ? nullptr : bias_.data(); }
  /// Code of weight [n][k] (read back from the packed layout).
  std::int8_t code(index_t row, index_t kk) const noexcept {
    LOWBIT_ASSERT(row >= 0 && row < n_ && kk >= 0 && kk < k_);
    const index_t nr = layout_.nr, kr = layout_.kr;
    return panel(row / nr)[(kk / kr) * nr * kr + (row % nr) * kr + kk % kr];
  }
  /// Memory held: codes (with padding), column sums, scales, bias.
  index_t bytes() const noexcept {
    return static_cast<index_t>(data_.size() + 4 * column_sums_.size() + 4 * scales_.size() + 4 * bias_.size());
  }
  /// What the weights take as a quantized tensor would: N x K codes and the scales (one, or N),
  /// without the layout's padding and the GEMM's column sums (the demo's "weight bytes").
  index_t payload_bytes() const noexcept { return n_ * k_ + 4 * (per_tensor_ ? 1 : n_); }

 private:
  index_t n_ = 0, k_ = 0, kp_ = 0, panels_ = 0;
  kernel_path path_ = kernel_path::scalar;
  weight_layout layout_{};
  bool per_tensor_ = false;
  detail::aligned_vector<std::int8_t> data_;
  std::vector<std::int32_t> column_sums_;
  std::vector<float> scales_;
  std::vector<float> bias_;
};

LOWBIT_NAMESPACE_END
