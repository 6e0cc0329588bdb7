// lowbit/gemm/packed_lowbit_weights.hpp: 2-, 4- and 8-bit weights with per-group fp16 scales, packed once for the sub-byte GEMM.
//
//   lowbit::quantizer<lowbit::int4, lowbit::symmetric, lowbit::per_group> q(lowbit::per_group(1, 32));
//   auto w = lowbit::pack_lowbit(W, q);                          // calibrate, round scales to fp16, quantize, pack
//   auto w = lowbit::pack_lowbit(W, q, lowbit::weight_search{});  // with any calibrator
//   lowbit::packed_lowbit_weights<lowbit::int4> w2(q.quantize(W));  // from a quantized tensor [N, K]
//
// The weights are a Linear layer's [N, K] = [out, in] matrix of codes of format F (int8, uint8,
// int4, uint4, int2, uint2 or a custom integer_format of those widths) with groups of G
// consecutive k: per_group(1, G) with G a multiple of 4 (the last group shorter when G does not
// divide K, as the quantizer makes it), or per_channel(0) /
// per_tensor (one group of K, padded to a multiple of 4). G is at most lowbit_max_group (65536),
// the depth whose int32 sums are exact. Per (output channel, group) they keep
//   a scale, stored as fp16 (llama.cpp's choice: 16 bits per group, 0.5 bit per weight at G = 32);
//   the offset: the format's symmetric zero point (nothing stored), an affine zero point (a byte),
//   or a float minimum (fp16, for llama.cpp's Q4_1: w = d * q + m).
// kernels/lowbit_gemm_contract.hpp gives the layout and the arithmetic. The layout is the same on
// every path (panels of 64 columns), so packed weights run on any path.
//
// Scales: a quantized tensor's float scales are rounded to the nearest fp16 when packed (a relative
// change of at most 2^-11); pack_lowbit rounds the calibrated scales first and quantizes with the
// rounded ones, so that its codes are exactly the nearest codes for the scales stored. A scale
// that is NaN, infinite, or beyond fp16's range (65504, or below its smallest subnormal 2^-24)
// raises lowbit::error. Scales of assembled weights (from llama.cpp blocks) may be any finite fp16,
// zero and negative included, as those formats allow.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/core/granularity.hpp"
#include "lowbit/core/half.hpp"
#include "lowbit/core/qparams.hpp"
#include "lowbit/core/shape.hpp"
#include "lowbit/detail/aligned.hpp"
#include "lowbit/gemm/packed_weights.hpp"
#include "lowbit/kernels/lowbit_gemm.hpp"
#include "lowbit/runtime/context.hpp"
#include "lowbit/tensor/quantized_tensor.hpp"

LOWBIT_NAMESPACE_BEGIN

/// Rounds each scale to the nearest fp16 value (as packed sub-byte weights store them), raising
/// lowbit::error for a scale that fp16 cannot hold (NaN, Inf, beyond 65504, or rounding to 0).
inline qparams half_scales(qparams p) {
  for (std::size_t i = 0; i < p.scale.size(); ++i) {
    const float s = p.scale[i];
    const float h = half_to_float(float_to_half(s));
    if (!std::isfinite(h) || (h == 0.0f && s != 0.0f) || std::isnan(s))
      detail::fail("half_scales: scale[", i, "] = ", s, " has no fp16 value (fp16 holds magnitudes 2^-24 .. 65504)");
    p.scale[i] = h;
  }
  return p;
}

template <class F>
class packed_lowbit_weights {
  static_assert(is_format_v<F>, "packed_lowbit_weights<F>: F must be a lowbit format");

 public:
  using format = F;
  static constexpr int bits = F::bits;

  packed_lowbit_weights() = default;

  /// Packs a quantized tensor [N, K]: per_group along axis 1 (G % 4 == 0; a last group shorter
  /// than G when G does not divide K),
  /// per_channel(0) or per_tensor; symmetric or affine. Scales are rounded to fp16.
  explicit packed_lowbit_weights(const quantized_tensor<F>& t, bias_values bias = {}, const context& ctx = {}) {
    if (t.rank() != 2) detail::fail("packed_lowbit_weights: weights must be a matrix [N, K], got rank ", t.rank());
    const index_t n = t.shape()[0], k = t.shape()[1];
    const granularity_desc& gd = t.granularity();
    index_t group = 0;
    if (gd.kind == granularity_kind::group) {
      if (gd.axis != 1)
        detail::fail("packed_lowbit_weights: groups must run along K (per_group(1, G)), not along axis ", gd.axis);
      group = gd.group_size;
    } else if (gd.kind == granularity_kind::channel && gd.axis != 0) {
      detail::fail("packed_lowbit_weights: scales must be per output channel (per_channel(0)), per group along K or per tensor");
    }
    const offset_kind kind = t.is_affine() ? offset_kind::zero_point : offset_kind::symmetric;
    *this = packed_lowbit_weights(n, k, group, kind, bias.take());
    const index_t groups = groups_;
    std::vector<half_bits> scales(static_cast<std::size_t>(n * groups));
    std::vector<std::uint8_t> zps(kind == offset_kind::zero_point ? scales.size() : 0);
    const qparams& p = t.params();
    for (index_t row = 0; row < n; ++row) {
      for (index_t g = 0; g < groups; ++g) {
        const std::size_t slot = gd.kind == granularity_kind::tensor    ? 0
                                 : gd.kind == granularity_kind::channel ? static_cast<std::size_t>(row)
                                                                        : static_cast<std::size_t>(row * groups + g);
        const std::size_t at = static_cast<std::size_t>(row * groups + g);
        scales[at] = checked_half(p.scale[slot], at);
        if (!zps.empty()) zps[at] = static_cast<std::uint8_t>(p.zero_point[slot] - F::qmin);
      }
    }
    const code_matrix<F> codes = t.int_repr();
    set_codes(codes.data(), k, ctx);
    set_scales(scales);
    if (!zps.empty()) set_zero_points(zps);
  }

  /// Assembles packed weights from their parts (file formats use this): codes of F row-major
  /// [N, K] (leading dimension ld), scales as fp16 bits per (row, group) (N * groups, any finite
  /// value), and per kind: zero_point: zero points of F per (row, group); min: fp16 bits per
  /// (row, group); symmetric: neither. `group` = 0 means one group of K (per channel).
  static packed_lowbit_weights assemble(index_t n, index_t k, index_t group, offset_kind kind,
                                        const typename F::code_type* codes, index_t ld, const std::vector<half_bits>& scales,
                                        const std::vector<std::int32_t>& zero_points = {},
                                        const std::vector<half_bits>& mins = {}, bias_values bias = {},
                                        const context& ctx = {}) {
    packed_lowbit_weights w(n, k, group, kind, bias.take());
    const auto slots = static_cast<std::size_t>(n * w.groups_);
    if (scales.size() != slots) detail::fail("packed_lowbit_weights: expected ", slots, " scales, got ", scales.size());
    for (std::size_t i = 0; i < scales.size(); ++i)
      if (!std::isfinite(half_to_float(scales[i]))) detail::fail("packed_lowbit_weights: scale[", i, "] is not finite");
    if (codes == nullptr && n * k > 0) detail::fail("packed_lowbit_weights: null codes");
    if (ld < k) detail::fail("packed_lowbit_weights: leading dimension ", ld, " < K = ", k);
    for (index_t row = 0; row < n; ++row)
      for (index_t kk = 0; kk < k; ++kk) {
        const int c = codes[row * ld + kk];
        if (c < F::qmin || c > F::qmax)
          detail::fail("packed_lowbit_weights: code ", c, " at [", row, ", ", kk, "] is outside ", F::name, "'s [", F::qmin,
                       ", ", F::qmax, "]");
      }
    w.set_codes(codes, ld, ctx);
    w.set_scales(scales);
    if (kind == offset_kind::zero_point) {
      if (zero_points.size() != slots)
        detail::fail("packed_lowbit_weights: expected ", slots, " zero points, got ", zero_points.size());
      std::vector<std::uint8_t> z(slots);
      for (std::size_t i = 0; i < slots; ++i) {
        if (zero_points[i] < F::qmin || zero_points[i] > F::qmax)
          detail::fail("packed_lowbit_weights: zero_point[", i, "] = ", zero_points[i], " is outside ", F::name, "'s range");
        z[i] = static_cast<std::uint8_t>(zero_points[i] - F::qmin);
      }
      w.set_zero_points(z);
    } else if (!zero_points.empty()) {
      detail::fail("packed_lowbit_weights: zero points given for weights without an affine zero point");
    }
    if (kind == offset_kind::min) {
      if (mins.size() != slots) detail::fail("packed_lowbit_weights: expected ", slots, " minimums, got ", mins.size());
      for (std::size_t i = 0; i < slots; ++i)
        if (!std::isfinite(half_to_float(mins[i]))) detail::fail("packed_lowbit_weights: min[", i, "] is not finite");
      w.set_mins(mins);
    } else if (!mins.empty()) {
      detail::fail("packed_lowbit_weights: minimums given for weights whose offset kind is not min");
    }
    return w;
  }

  index_t n() const noexcept { return n_; }                 ///< output channels
  index_t k() const noexcept { return k_; }                 ///< depth
  index_t group_size() const noexcept { return group_; }    ///< G (K rounded up to 4 for one group per channel)
  index_t groups() const noexcept { return groups_; }       ///< groups per output channel
  bool per_channel() const noexcept { return per_channel_; }
  offset_kind offsets() const noexcept { return kind_; }
  index_t panels() const noexcept { return panels_; }
  index_t block_bytes() const noexcept { return block_bytes_; }
  /// The depth the kernels run over: groups() * group_size().
  index_t k_padded() const noexcept { return groups_ * group_; }
  /// The symmetric offset z (u - z is the code's signed value), for kind symmetric.
  std::int32_t symmetric_offset() const noexcept { return symmetric_zero_point<F>() - F::qmin; }
  /// Block of panel p, group g (kernels/lowbit_gemm_contract.hpp).
  const std::uint8_t* block(index_t p, index_t g) const noexcept {
    return data_.data() + (p * groups_ + g) * block_bytes_;
  }
  const float* bias() const noexcept { return bias_.empty() ? nullptr : bias_.data(); }

  /// Code of weight [row][kk] in F.
  std::int32_t code(index_t row, index_t kk) const noexcept {
    LOWBIT_ASSERT(row >= 0 && row < n_ && kk >= 0 && kk < k_);
    int shift = 0;
    const std::uint8_t* b = block(row / kernels::lowbit_nr, kk / group_);
    const index_t byte = kernels::lowbit_code_byte(bits, row % kernels::lowbit_nr, kk % group_, shift);
    return static_cast<std::int32_t>((b[byte] >> shift) & F::code_mask) + F::qmin;
  }
  half_bits scale_bits(index_t row, index_t g) const noexcept {
    return read_half(block(row / kernels::lowbit_nr, g) + codes_bytes() + 2 * (row % kernels::lowbit_nr));
  }
  float scale(index_t row, index_t g) const noexcept { return half_to_float(scale_bits(row, g)); }
  /// Zero point (in F) of (row, group): the symmetric one, or the affine one stored.
  std::int32_t zero_point(index_t row, index_t g) const noexcept {
    if (kind_ != offset_kind::zero_point) return symmetric_zero_point<F>();
    return static_cast<std::int32_t>(block(row / kernels::lowbit_nr, g)[codes_bytes() + 2 * kernels::lowbit_nr +
                                                                       row % kernels::lowbit_nr]) + F::qmin;
  }
  half_bits min_bits(index_t row, index_t g) const noexcept {
    if (kind_ != offset_kind::min) return 0;
    return read_half(block(row / kernels::lowbit_nr, g) + codes_bytes() + 2 * kernels::lowbit_nr +
                     2 * (row % kernels::lowbit_nr));
  }
  float min(index_t row, index_t g) const noexcept { return half_to_float(min_bits(row, g)); }

  /// The weights as floats [N, K]: d * (q - zp), or fma(d, q - qmin, m) for the min kind.
  row_matrix dequantize() const {
    row_matrix w(n_, k_);
    for (index_t row = 0; row < n_; ++row)
      for (index_t kk = 0; kk < k_; ++kk) {
        const index_t g = kk / group_;
        const float d = scale(row, g);
        const std::int32_t c = code(row, kk);
        w(row, kk) = kind_ == offset_kind::min ? std::fma(d, static_cast<float>(c - F::qmin), min(row, g))
                                               : d * static_cast<float>(c - zero_point(row, g));
      }
    return w;
  }

  /// Memory held: the blocks (codes, scales and offsets, N padded to 64) and the bias.
  index_t bytes() const noexcept { return static_cast<index_t>(data_.size() + 4 * bias_.size()); }
  /// What the weights take without padding: N x K codes of `bits` bits, an fp16 scale per
  /// (row, group), and a byte zero point or an fp16 minimum per (row, group) if stored.
  index_t payload_bytes() const noexcept {
    const index_t offset_bytes = kind_ == offset_kind::zero_point ? 1 : kind_ == offset_kind::min ? 2 : 0;
    return (n_ * k_ * bits + 7) / 8 + n_ * groups_ * (2 + offset_bytes);
  }
  /// payload_bytes() in bits per weight (4.5 for int4 with groups of 32).
  double bits_per_weight() const noexcept {
    return n_ * k_ == 0 ? 0.0 : 8.0 * static_cast<double>(payload_bytes()) / static_cast<double>(n_ * k_);
  }

 private:
  packed_lowbit_weights(index_t n, index_t k, index_t group, offset_kind kind, std::vector<float> bias)
      : n_(n), k_(k), kind_(kind), bias_(std::move(bias)) {
    if (n < 0 || k < 0) detail::fail("packed_lowbit_weights: negative shape [", n, ", ", k, "]");
    if (kind == offset_kind::min && F::is_signed)
      detail::fail("packed_lowbit_weights: minimum offsets (w = d * q + m) need an unsigned format, not ", F::name);
    if (group == 0) {
      per_channel_ = true;
      group_ = std::max<index_t>(4, detail::ceil_div(k, 4) * 4);
      groups_ = 1;
    } else {
      if (group < 4 || group % 4 != 0)
        detail::fail("packed_lowbit_weights: group size ", group, " is not a positive multiple of 4");
      // A last group shorter than G (G not dividing K) is padded: its padding meets activations
      // that are zero, so it adds nothing to the sums.
      group_ = group;
      groups_ = detail::ceil_div(k, group);
    }
    if (group_ > lowbit_max_group)
      detail::fail("packed_lowbit_weights: a group of ", group_, " exceeds ", lowbit_max_group,
                   ", the largest depth whose int32 sums are exact; use groups (per_group(1, G))");
    if (!bias_.empty() && static_cast<index_t>(bias_.size()) != n)
      detail::fail("packed_lowbit_weights: expected ", n, " bias values (or none), got ", bias_.size());
    for (std::size_t i = 0; i < bias_.size(); ++i)
      if (!std::isfinite(bias_[i])) detail::fail("packed_lowbit_weights: bias[", i, "] = ", bias_[i], " is not finite");
    panels_ = detail::ceil_div(n, kernels::lowbit_nr);
    block_bytes_ = kernels::lowbit_block_bytes(bits, group_, kind);
    data_.assign(static_cast<std::size_t>(panels_ * groups_ * block_bytes_), 0);
  }

  static half_bits read_half(const std::uint8_t* p) noexcept {
    half_bits h;
    std::memcpy(&h, p, sizeof h);
    return h;
  }
  static half_bits checked_half(float s, std::size_t slot) {
    const half_bits h = float_to_half(s);
    const float back = half_to_float(h);
    if (!std::isfinite(back) || (back == 0.0f && s != 0.0f))
      detail::fail("packed_lowbit_weights: scale[", slot, "] = ", s,
                   " has no fp16 value (packed sub-byte weights store fp16 scales: magnitudes 2^-24 .. 65504)");
    return h;
  }
  index_t codes_bytes() const noexcept { return group_ * 8 * bits; }

  /// Writes the codes (F's code type, row-major with leading dimension ld) into the blocks, a
  /// panel per task.
  template <class T>
  void set_codes(const T* codes, index_t ld, const context& ctx) {
    if (n_ * k_ == 0) return;
    const index_t quads = group_ / 4;
    ctx.run(panels_, [&](index_t p) {
      const index_t cols = std::min(kernels::lowbit_nr, n_ - p * kernels::lowbit_nr);
      for (index_t g = 0; g < groups_; ++g) {
        std::uint8_t* b = data_.data() + (p * groups_ + g) * block_bytes_;
        for (index_t j = 0; j < cols; ++j) {
          const T* src = codes + (p * kernels::lowbit_nr + j) * ld + g * group_;
          const index_t depth = std::min(group_, k_ - g * group_);  // the last group may be padded
          int shift = 0;
          const index_t base = kernels::lowbit_code_byte(bits, j, 0, shift);
          for (index_t q = 0; q < quads; ++q) {
            std::uint8_t* dst = b + base + q * 32 * bits;
            for (index_t t = 0; t < 4; ++t) {
              const index_t kk = 4 * q + t;
              if (kk >= depth) break;
              const auto u = static_cast<std::uint8_t>(static_cast<int>(src[kk]) - F::qmin);
              dst[t] = static_cast<std::uint8_t>(dst[t] | (u << shift));
            }
          }
        }
      }
    });
  }
  template <class T>
  void set_per_group(const std::vector<T>& values, index_t offset, index_t width) {
    for (index_t row = 0; row < n_; ++row)
      for (index_t g = 0; g < groups_; ++g) {
        std::uint8_t* b = data_.data() + ((row / kernels::lowbit_nr) * groups_ + g) * block_bytes_ + offset;
        std::memcpy(b + width * (row % kernels::lowbit_nr), &values[static_cast<std::size_t>(row * groups_ + g)],
                    static_cast<std::size_t>(width));
      }
  }
  void set_scales(const std::vector<half_bits>& s) { set_per_group(s, codes_bytes(), 2); }
  void set_zero_points(const std::vector<std::uint8_t>& z) { set_per_group(z, codes_bytes() + 2 * kernels::lowbit_nr, 1); }
  void set_mins(const std::vector<half_bits>& m) { set_per_group(m, codes_bytes() + 2 * kernels::lowbit_nr, 2); }

  index_t n_ = 0, k_ = 0, group_ = 4, groups_ = 0, panels_ = 0, block_bytes_ = 0;
  bool per_channel_ = false;
  offset_kind kind_ = offset_kind::symmetric;
  detail::aligned_vector<std::uint8_t> data_;
  std::vector<float> bias_;
};

/// Quantizes float weights [N, K] for the sub-byte GEMM: qparams from the quantizer (its observer
/// range), scales rounded to fp16, then codes for those scales, packed.
template <class Quantizer, class Derived>
packed_lowbit_weights<typename Quantizer::format> pack_lowbit(const Eigen::DenseBase<Derived>& w, const Quantizer& q,
                                                                 bias_values bias = {}, const context& ctx = {}) {
  const qparams p = half_scales(q.qparams_for(q.observe(w, ctx)));
  return packed_lowbit_weights<typename Quantizer::format>(q.quantize(w, p, ctx), std::move(bias), ctx);
}

/// The same with qparams chosen by a calibrator (lowbit::calibrate(q, W, calibrator)), e.g.
/// weight_search{} or mse_calibrator{}.
template <class Quantizer, class Derived, class Calibrator,
          class = decltype(std::declval<const Calibrator&>().choose(std::declval<const Quantizer&>(),
                                                                      std::declval<typename Calibrator::template observer<typename Quantizer::granularity_type>&>()))>
packed_lowbit_weights<typename Quantizer::format> pack_lowbit(const Eigen::DenseBase<Derived>& w, const Quantizer& q,
                                                                 const Calibrator& calibrator, bias_values bias = {},
                                                                 const context& ctx = {}) {
  using observer_type = typename Calibrator::template observer<typename Quantizer::granularity_type>;
  observer_type o(q.granularity());
  o.set_context(ctx);
  o.observe(w);
  const qparams p = half_scales(q.qparams_for(calibrator.choose(q, o)));
  return packed_lowbit_weights<typename Quantizer::format>(q.quantize(w, p, ctx), std::move(bias), ctx);
}

LOWBIT_NAMESPACE_END
