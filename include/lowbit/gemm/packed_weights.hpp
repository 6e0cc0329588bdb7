// lowbit/gemm/packed_weights.hpp: int8 weights packed once into the layout every GEMM kernel reads.
//
// Weights are a Linear layer's [N, K] = [out, in] matrix, quantized to int8 symmetric (zero point
// 0) with one scale per output channel or one for the tensor. The packed layout is the same for
// every kernel path:
//
//   panel p   = output columns n in [16p, 16p + 16)            (NR = 16; N padded with zero rows)
//   quad q    = depth k in [4q, 4q + 4)                        (KR = 4;  K padded with zeros)
//   panel p, quad q is 64 bytes: for j = 0..15, the 4 bytes W[16p + j][4q .. 4q + 3]
//
//        quad 0                quad 1
//   | n0:k0..3 | n1:k0..3 | ... | n15:k0..3 | n0:k4..7 | ...      (panel after panel)
//
// One 64-byte quad is exactly what vpdpbusd (16 int32 lanes x 4 bytes) and four NEON sdot
// registers consume; AVX2 widens each 16-byte quarter (4 columns x 4 depths) to int16 for vpmaddwd.
// Beside the codes the packed weights keep what the output stage needs: per-column sums of the
// codes (to compensate activation zero points and sign shifts), scales and optional float bias.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/core/granularity.hpp"
#include "lowbit/core/quantizer.hpp"
#include "lowbit/core/scheme.hpp"
#include "lowbit/detail/aligned.hpp"

LOWBIT_NAMESPACE_BEGIN

/// Output columns per panel (NR) and depth per quad (KR) of the packed layout.
inline constexpr index_t gemm_nr = 16;
inline constexpr index_t gemm_kr = 4;

/// Largest depth K the int32 accumulators hold exactly. With activation codes minus their zero
/// point in [-255, 255] and weight codes in [-128, 127], |sum| <= K * 255 * 128, and
/// 65536 * 255 * 128 = 2,139,095,040 < 2^31 - 1. Larger K is rejected with lowbit::error.
inline constexpr index_t gemm_max_k = 65536;

enum class weight_scales { per_channel, per_tensor };

class packed_weights {
 public:
  packed_weights() = default;

  /// Quantizes float weights [N, K] to int8 symmetric (PyTorch's MinMax formulas, per output
  /// channel or per tensor) and packs them. `bias` is empty or has N values.
  template <class Derived>
  static packed_weights quantize(const Eigen::DenseBase<Derived>& w,
                                 weight_scales scales = weight_scales::per_channel,
                                 std::vector<float> bias = {}) {
    if (scales == weight_scales::per_channel) {
      quantizer<int8, symmetric, per_channel> q(per_channel(0));
      return from_tensor(q.quantize(w), std::move(bias));
    }
    quantizer<int8, symmetric, per_tensor> q;
    return from_tensor(q.quantize(w), std::move(bias));
  }

  /// Packs weights quantized by a lowbit quantizer: int8 or int8_narrow, symmetric, shape [N, K],
  /// per tensor or per channel along axis 0.
  template <class F>
  static packed_weights from_tensor(const quantized_tensor<F>& t, std::vector<float> bias = {}) {
    static_assert(F::bits == 8 && F::is_signed,
                  "GEMM weights are int8 or int8_narrow; quantize them with a symmetric int8 quantizer");
    if (t.rank() != 2) detail::fail("packed_weights: weights must be a matrix [N, K], got rank ", t.rank());
    if (t.is_affine()) detail::fail("packed_weights: weights must be symmetric (zero point 0)");
    const granularity_desc& g = t.granularity();
    if (g.kind == granularity_kind::group || (g.kind == granularity_kind::channel && g.axis != 0)) {
      detail::fail("packed_weights: weight scales must be per tensor or per output channel (axis 0)");
    }
    const index_t n = t.shape()[0], k = t.shape()[1];
    std::vector<float> scales = t.params().scale;
    if (g.kind == granularity_kind::tensor) scales.assign(static_cast<std::size_t>(n), t.params().scale[0]);
    return pack(reinterpret_cast<const std::int8_t*>(t.data().data()), n, k, k, std::move(scales),
                std::move(bias), g.kind == granularity_kind::tensor);
  }

  /// Packs int8 codes given row-major as [N, K] with leading dimension ld, with N scales (or one
  /// scale for all) and an optional bias of N values.
  static packed_weights pack(const std::int8_t* codes, index_t n, index_t k, index_t ld,
                             std::vector<float> scales, std::vector<float> bias = {},
                             bool per_tensor_scale = false) {
    if (n < 0 || k < 0) detail::fail("packed_weights: negative shape [", n, ", ", k, "]");
    if (k > gemm_max_k) {
      detail::fail("packed_weights: K = ", k, " exceeds ", gemm_max_k,
                   ", the largest depth whose int32 sums are exact");
    }
    if (ld < k) detail::fail("packed_weights: leading dimension ", ld, " < K = ", k);
    if (codes == nullptr && n * k > 0) detail::fail("packed_weights: null weight codes");
    if (scales.size() == 1 && n != 1) {
      scales.assign(static_cast<std::size_t>(n), scales[0]);
      per_tensor_scale = true;
    }
    if (static_cast<index_t>(scales.size()) != n)
      detail::fail("packed_weights: expected ", n, " scales (or one), got ", scales.size());
    for (std::size_t i = 0; i < scales.size(); ++i) {
      if (!(std::isfinite(scales[i]) && scales[i] >= std::numeric_limits<float>::min()))
        detail::fail("packed_weights: scale[", i, "] = ", scales[i], " is not a positive normal float");
    }
    if (!bias.empty() && static_cast<index_t>(bias.size()) != n)
      detail::fail("packed_weights: expected ", n, " bias values (or none), got ", bias.size());
    for (std::size_t i = 0; i < bias.size(); ++i)
      if (!std::isfinite(bias[i])) detail::fail("packed_weights: bias[", i, "] = ", bias[i], " is not finite");

    packed_weights p;
    p.n_ = n;
    p.k_ = k;
    p.kp_ = (k + gemm_kr - 1) / gemm_kr * gemm_kr;
    p.panels_ = (n + gemm_nr - 1) / gemm_nr;
    p.per_tensor_ = per_tensor_scale;
    const index_t np = p.panels_ * gemm_nr;
    p.data_.assign(static_cast<std::size_t>(np * p.kp_), 0);
    p.column_sums_.assign(static_cast<std::size_t>(np), 0);
    p.scales_.assign(static_cast<std::size_t>(np), 1.0f);
    p.bias_ = std::move(bias);
    for (index_t row = 0; row < n; ++row) {
      const std::int8_t* src = codes + row * ld;
      std::int8_t* dst = p.data_.data() + (row / gemm_nr) * gemm_nr * p.kp_ + (row % gemm_nr) * gemm_kr;
      std::int32_t sum = 0;
      for (index_t kk = 0; kk < k; ++kk) {
        dst[(kk / gemm_kr) * gemm_nr * gemm_kr + kk % gemm_kr] = src[kk];
        sum += src[kk];
      }
      p.column_sums_[static_cast<std::size_t>(row)] = sum;
      p.scales_[static_cast<std::size_t>(row)] = scales[static_cast<std::size_t>(row)];
    }
    return p;
  }

  index_t n() const noexcept { return n_; }                ///< output channels
  index_t k() const noexcept { return k_; }                ///< depth
  index_t k_padded() const noexcept { return kp_; }        ///< depth rounded up to KR
  index_t panels() const noexcept { return panels_; }      ///< ceil(N / NR)
  bool per_tensor_scale() const noexcept { return per_tensor_; }
  /// Codes of panel p: kp / KR quads of NR x KR bytes.
  const std::int8_t* panel(index_t p) const noexcept { return data_.data() + p * gemm_nr * kp_; }
  /// Sum over k of the codes of output channel n (0 for padding), N padded to a multiple of NR.
  const std::int32_t* column_sums() const noexcept { return column_sums_.data(); }
  /// Scale of output channel n (per-tensor scales repeated), N padded with 1.
  const float* scales() const noexcept { return scales_.data(); }
  /// Bias of output channel n, or nullptr.
  const float* bias() const noexcept { return bias_.empty() ? nullptr : bias_.data(); }
  /// Code of weight [n][k] (read back from the packed layout).
  std::int8_t code(index_t row, index_t kk) const noexcept {
    LOWBIT_ASSERT(row >= 0 && row < n_ && kk >= 0 && kk < k_);
    return panel(row / gemm_nr)[(kk / gemm_kr) * gemm_nr * gemm_kr + (row % gemm_nr) * gemm_kr + kk % gemm_kr];
  }
  /// Memory held: codes (with padding), column sums, scales, bias.
  index_t bytes() const noexcept {
    return static_cast<index_t>(data_.size() + 4 * column_sums_.size() + 4 * scales_.size() + 4 * bias_.size());
  }

 private:
  index_t n_ = 0, k_ = 0, kp_ = 0, panels_ = 0;
  bool per_tensor_ = false;
  detail::aligned_vector<std::int8_t> data_;
  std::vector<std::int32_t> column_sums_;
  std::vector<float> scales_;
  std::vector<float> bias_;
};

LOWBIT_NAMESPACE_END
