// lowbit/tensor/quantized_tensor.hpp: a packed quantized tensor that owns its codes, shape and qparams.
//
// Storage: the codes of the tensor in C (row-major) order of its logical shape, packed
// 8 / bits per byte with the first element in the lowest bits (ONNX's order for int4):
//
//   int4   byte j = code[2j] | code[2j+1] << 4              (two's complement nibbles)
//   int2   byte j = code[4j] | code[4j+1] << 2 | ... << 6
//
// The last byte's unused bits are zero. Qparams: one float scale per slot, and one int32 zero
// point per slot for affine tensors (a symmetric tensor's zero point is implied by its format and
// not counted in bytes()).
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <utility>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/core/granularity.hpp"
#include "lowbit/core/qparams.hpp"
#include "lowbit/core/shape.hpp"
#include "lowbit/runtime/context.hpp"
#include "lowbit/tensor/engine.hpp"

LOWBIT_NAMESPACE_BEGIN

/// Row-major dynamic float matrix: what a quantized tensor dequantizes to.
using row_matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Row-major matrix of unpacked codes of format F (int8_t or uint8_t elements): quantized_tensor::int_repr().
template <class F>
using code_matrix = Eigen::Matrix<typename F::code_type, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <class Format>
class quantized_tensor {
  static_assert(is_format_v<Format>, "quantized_tensor<Format>: Format must be a lowbit format type");

 public:
  using format = Format;

  quantized_tensor() = default;

  /// Assembles a tensor from its parts (e.g. codes loaded from a file). Checks the sizes of the
  /// storage and of the qparams against the shape and granularity, and the qparams' values.
  quantized_tensor(std::vector<index_t> shape, granularity_desc granularity, bool affine,
                   qparams params, std::vector<std::uint8_t> packed)
      : shape_(std::move(shape)),
        granularity_(granularity),
        affine_(affine),
        params_(std::move(params)),
        data_(std::move(packed)) {
    if (shape_.empty()) detail::fail("quantized_tensor: the shape needs at least one dimension");
    detail::checked_size(shape_, "quantized_tensor");
    if (granularity_.kind != granularity_kind::tensor) {
      granularity_.axis = detail::normalize_axis(granularity_.axis, rank(), "quantized_tensor");
    }
    if (granularity_.kind == granularity_kind::group && granularity_.group_size <= 0)
      detail::fail("quantized_tensor: group_size must be positive, got ", granularity_.group_size);
    if (static_cast<index_t>(data_.size()) != packed_bytes<Format>(size())) {
      detail::fail("quantized_tensor: ", size(), " ", Format::name, " codes need ",
                   packed_bytes<Format>(size()), " bytes, got ", data_.size());
    }
    const index_t slots = detail::slot_count(view(), granularity_);
    if (affine_) {
      detail::check_qparams<Format, lowbit::affine>(params_, slots, "quantized_tensor");
    } else {
      detail::check_qparams<Format, lowbit::symmetric>(params_, slots, "quantized_tensor");
    }
  }

  const std::vector<index_t>& shape() const noexcept { return shape_; }
  index_t rank() const noexcept { return static_cast<index_t>(shape_.size()); }
  /// Number of elements.
  index_t size() const noexcept {
    index_t n = 1;
    for (index_t d : shape_) n *= d;
    return shape_.empty() ? 0 : n;
  }
  /// The matrix view used by dequantize(): shape[0] rows and the remaining dimensions as columns
  /// (a rank-1 tensor is one row).
  index_t rows() const noexcept { return rank() == 0 ? 0 : (rank() == 1 ? 1 : shape_[0]); }
  index_t cols() const noexcept {
    return rank() == 0 ? 0 : (rank() == 1 ? shape_[0] : (rows() == 0 ? 0 : size() / rows()));
  }

  const granularity_desc& granularity() const noexcept { return granularity_; }
  bool is_affine() const noexcept { return affine_; }
  const qparams& params() const noexcept { return params_; }
  /// Shape of the qparams: [] per tensor, [channels] per channel, blocked shape per group.
  std::vector<index_t> qparams_shape() const { return detail::slot_shape(shape_, granularity_); }

  /// Packed codes (see the layout above).
  const std::vector<std::uint8_t>& data() const noexcept { return data_; }
  /// Code of element `flat` (C order), sign-extended.
  std::int32_t code(index_t flat) const noexcept {
    LOWBIT_ASSERT(flat >= 0 && flat < size());
    return kernels::scalar::load_code<Format>(data_.data(), flat);
  }
  /// All codes unpacked, as a rows() x cols() matrix (PyTorch's int_repr()).
  code_matrix<Format> int_repr() const {
    code_matrix<Format> m(rows(), cols());
    for (index_t i = 0; i < size(); ++i) m.data()[i] = static_cast<typename Format::code_type>(code(i));
    return m;
  }

  /// Memory the tensor's payload takes: packed codes + scales (+ zero points if affine).
  index_t bytes() const noexcept {
    const auto slots = static_cast<index_t>(params_.scale.size());
    return static_cast<index_t>(data_.size()) + slots * static_cast<index_t>(sizeof(float)) +
           (affine_ ? slots * static_cast<index_t>(sizeof(std::int32_t)) : 0);
  }

  /// Dequantizes into `out` (size() floats, C order): x = (q - zp) * scale.
  void dequantize_to(float* out, const context& ctx = {}) const {
    check_path(ctx.path, "dequantize");
    if (size() == 0) return;
    if (out == nullptr) detail::fail("dequantize_to: null output");
    detail::dequantize_tensor<Format>(data_.data(), shape_, granularity_, params_, ctx, out);
  }

  /// Dequantizes into a rows() x cols() row-major matrix.
  row_matrix dequantize(const context& ctx = {}) const {
    row_matrix m(rows(), cols());
    dequantize_to(m.data(), ctx);
    return m;
  }

 private:
  detail::view3 view() const {
    return detail::c_view(shape_, granularity_.kind == granularity_kind::tensor ? 0 : granularity_.axis);
  }

  std::vector<index_t> shape_;
  granularity_desc granularity_;
  bool affine_ = false;
  qparams params_;
  std::vector<std::uint8_t> data_;
};

LOWBIT_NAMESPACE_END
