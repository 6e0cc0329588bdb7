// lowbit/gemm/activations.hpp: the GEMM's left operand: an M x K matrix of int8 or uint8 codes with their qparams, typed by format.
//
//   lowbit::activations<lowbit::uint8> a(q.quantize(x));           // from a quantized tensor [M, K]
//   lowbit::activations<lowbit::uint8> b(codes, m, k, ld, {0.02f, 128});  // codes in place, per tensor
//
// The codes are viewed in place (the activations do not own them: keep them alive while a GEMM
// reads them); the qparams are copied. Granularity is per tensor, or per_channel(0), one (scale,
// zero point) per row ("per token"), the layout dynamic quantization produces. Scales matter only
// for float and requantized outputs.
#pragma once

#include <cstdint>
#include <limits>
#include <utility>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/core/granularity.hpp"
#include "lowbit/core/qparams.hpp"
#include "lowbit/tensor/quantized_tensor.hpp"

LOWBIT_NAMESPACE_BEGIN

template <class F>
class activations {
  static_assert(is_format_v<F> && F::bits == 8,
                "activations<F>: the GEMM reads 8-bit codes (int8, uint8 or an 8-bit integer_format)");

 public:
  using format = F;
  using code_type = typename F::code_type;

  activations() = default;

  /// Codes [rows, cols] with leading dimension `leading`, and qparams for the tensor (one slot) or
  /// for each row (rows slots).
  activations(const code_type* codes, index_t rows, index_t cols, index_t leading, qparams p)
      : data_(codes), rows_(rows), cols_(cols), ld_(leading), params_(std::move(p)) {
    if (rows < 0 || cols < 0) detail::fail("activations: negative shape [", rows, ", ", cols, "]");
    if (rows > 1 && leading < cols) detail::fail("activations: leading dimension ", leading, " < K = ", cols);
    if (codes == nullptr && rows * cols > 0) detail::fail("activations: null codes");
    per_row_ = params_.size() != 1;
    if (per_row_ && params_.size() != rows) {
      detail::fail("activations: expected 1 (per tensor) or ", rows, " (per row) scales and zero points, got ",
                   params_.size());
    }
    detail::check_qparams<F, affine>(params_, params_.size(), "activations");
    check_codes();
  }

  /// A quantized tensor [rows, cols], per tensor or per row (per_channel along axis 0).
  explicit activations(const quantized_tensor<F>& t) {
    if (t.rank() != 2) detail::fail("activations: a quantized tensor of rank ", t.rank(), " is not a matrix [M, K]");
    const granularity_desc& g = t.granularity();
    if (g.kind == granularity_kind::group || (g.kind == granularity_kind::channel && g.axis != 0)) {
      detail::fail("activations: qparams must be per tensor or per row (per_channel(0)) for the GEMM");
    }
    *this = activations(reinterpret_cast<const code_type*>(t.data().data()), t.shape()[0], t.shape()[1],
                        t.shape()[1], t.params());
  }

  index_t rows() const noexcept { return rows_; }
  index_t cols() const noexcept { return cols_; }
  index_t ld() const noexcept { return ld_; }
  const code_type* data() const noexcept { return data_; }
  const code_type* row(index_t m) const noexcept { return data_ + m * ld_; }
  bool per_row() const noexcept { return per_row_; }
  const qparams& params() const noexcept { return params_; }
  granularity_desc granularity() const { return per_row_ ? granularity_desc(per_channel(0)) : granularity_desc(per_tensor{}); }

  std::int32_t zero_point(index_t m) const noexcept { return params_.zero_point[static_cast<std::size_t>(per_row_ ? m : 0)]; }
  float scale(index_t m) const noexcept { return params_.scale[static_cast<std::size_t>(per_row_ ? m : 0)]; }
  std::int32_t code(index_t m, index_t k) const noexcept { return static_cast<std::int32_t>(data_[m * ld_ + k]); }

 private:
  /// For formats narrower than their byte (uint7, int8_narrow): every code within [qmin, qmax],
  /// which kernels may rely on (the 7-bit kernel's exactness does).
  void check_codes() const {
    constexpr int lo = std::numeric_limits<code_type>::min(), hi = std::numeric_limits<code_type>::max();
    if constexpr (F::qmin > lo || F::qmax < hi) {
      for (index_t m = 0; m < rows_; ++m) {
        for (index_t k = 0; k < cols_; ++k) {
          const int v = code(m, k);
          if (v < F::qmin || v > F::qmax)
            detail::fail("activations: code ", v, " at [", m, ", ", k, "] is outside ", F::name, "'s [", F::qmin, ", ",
                         F::qmax, "]");
        }
      }
    }
  }

  const code_type* data_ = nullptr;
  index_t rows_ = 0, cols_ = 0, ld_ = 0;
  qparams params_{1.0f, 0};
  bool per_row_ = false;
};

LOWBIT_NAMESPACE_END
