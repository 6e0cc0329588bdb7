// lowbit/io/ggml_blocks.hpp: llama.cpp's Q4_0, Q4_1 and Q8_0 blocks, quantized the way ggml does it and converted to and from packed_lowbit_weights bit for bit.
//
//   using namespace lowbit;
//   std::vector<ggml::block_q4_0> blocks = ggml::quantize_q4_0(W);     // W [N, K], K % 32 == 0
//   packed_lowbit_weights<int4> w = ggml::from_q4_0(blocks.data(), N, K);  // runs on lowbit_gemm
//   std::vector<ggml::block_q4_0> again = ggml::to_q4_0(w);           // the same bytes
//
// The blocks (32 weights each, a weight matrix stored row by row, K / 32 blocks per row) are
// byte-compatible with ggml's block_q4_0, block_q4_1 and block_q8_0 (little-endian fp16):
//
//   Q4_0  18 bytes  fp16 d, 16 bytes of nibbles      w = (q - 8) d     q in [0, 15]
//   Q4_1  20 bytes  fp16 d, fp16 m, 16 bytes         w = q d + m       q in [0, 15]
//   Q8_0  34 bytes  fp16 d, 32 int8                  w = q d           q in [-128, 127]
//
// with weight j of a block in the low nibble of byte j and weight j + 16 in its high nibble. In
// lowbit's terms they are group quantization with G = 32 and fp16 scales: Q4_0 is int4 symmetric
// (code q - 8), Q4_1 is uint4 with a float minimum per group (offset_kind::min), Q8_0 is int8
// symmetric; the conversions move codes and fp16 bits without arithmetic, so they are exact both
// ways for every block (any fp16 scale, negative and zero included, as ggml writes them).
//
// Quantization follows ggml's reference code (quantize_row_q*_ref), step by step in fp32:
//   Q4_0: max = the value of largest magnitude (the first one on a tie), d = max / -8,
//         id = d != 0 ? 1 / d : 0, q = min(15, trunc(x id + 8.5)), d stored as fp16
//   Q4_1: d = (max - min) / 15, id as above, q = min(15, trunc((x - min) id + 0.5))
//   Q8_0: d = max|x| / 127, id as above, q = round(x id) (half away from zero)
// Each product and sum is rounded to fp32 separately (never fused), whatever the compiler's
// contraction setting. tests/golden/generate_ggml.py implements the same steps independently
// (numpy) and tests/data/ggml_golden.txt holds its blocks.
//
// Differences from lowbit's own quantizers, by design of the format: the Q4_0 scale is negative
// when the largest-magnitude value is positive, and that value maps to code -8 exactly (scale =
// max|w| / 8 in magnitude, no clipping), where quantizer<int4, symmetric> uses max|w| / 7.5.
// Non-finite weights are an error here (ggml would write garbage blocks).
//
// No ggml 2-bit format is supported: Q2_K keeps 4-bit sub-block scales and mins under fp16
// super-block scales, a two-level layout that lowbit's fp16-per-group weights cannot hold exactly.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/core/half.hpp"
#include "lowbit/gemm/packed_lowbit_weights.hpp"
#include "lowbit/runtime/context.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace ggml {

/// Weights per block in Q4_0, Q4_1 and Q8_0 (ggml's QK4_0 = QK4_1 = QK8_0 = 32).
inline constexpr index_t block_size = 32;

struct block_q4_0 {
  half_bits d;
  std::uint8_t qs[block_size / 2];
};
struct block_q4_1 {
  half_bits d;
  half_bits m;
  std::uint8_t qs[block_size / 2];
};
struct block_q8_0 {
  half_bits d;
  std::int8_t qs[block_size];
};
static_assert(sizeof(block_q4_0) == 18 && sizeof(block_q4_1) == 20 && sizeof(block_q8_0) == 34,
              "ggml blocks are packed: 2 + 16, 4 + 16 and 2 + 32 bytes");

namespace detail {

// a * b rounded to fp32, then + c rounded to fp32: two roundings that no compiler may fuse (the
// product of two floats is exact in double, and the conversions cannot be contracted).
inline float mul_then_add(float a, float b, float c) noexcept {
  const float p = static_cast<float>(static_cast<double>(a) * static_cast<double>(b));
  return static_cast<float>(static_cast<double>(p) + static_cast<double>(c));
}

inline void check_shape(index_t n, index_t k, const char* what) {
  if (n < 0 || k < 0) lowbit::detail::fail(what, ": negative shape [", n, ", ", k, "]");
  if (k % block_size != 0)
    lowbit::detail::fail(what, ": K = ", k, " is not a multiple of the block size ", block_size);
}

template <class Derived>
void check_finite(const Eigen::DenseBase<Derived>& w, const char* what) {
  for (index_t r = 0; r < w.rows(); ++r)
    for (index_t c = 0; c < w.cols(); ++c)
      if (!std::isfinite(w(r, c)))
        lowbit::detail::fail(what, ": weight [", r, ", ", c, "] = ", w(r, c), " is not finite");
}

inline float reciprocal(float d) noexcept { return d != 0.0f ? 1.0f / d : 0.0f; }

// fp16 bits of a block's scale or minimum; ggml would store Inf for a value beyond fp16's range.
inline half_bits block_half(float v, const char* field, index_t row, index_t block, const char* what) {
  const half_bits h = float_to_half(v);
  if (!std::isfinite(half_to_float(h)))
    lowbit::detail::fail(what, ": block ", block, " of row ", row, " needs ", field, " = ", v,
                         ", beyond fp16's range (65504); scale the weights down first");
  return h;
}

template <class Block, class Derived, class F>
std::vector<Block> quantize_rows(const Eigen::DenseBase<Derived>& w, const char* what, F&& one_block) {
  const index_t n = w.rows(), k = w.cols();
  check_shape(n, k, what);
  check_finite(w, what);
  std::vector<Block> out(static_cast<std::size_t>(n * (k / block_size)));
  float x[block_size];
  for (index_t r = 0; r < n; ++r)
    for (index_t b = 0; b < k / block_size; ++b) {
      for (index_t j = 0; j < block_size; ++j) x[j] = w(r, b * block_size + j);
      one_block(x, out[static_cast<std::size_t>(r * (k / block_size) + b)], r, b);
    }
  return out;
}

template <class F>
void check_convertible(const packed_lowbit_weights<F>& w, offset_kind kind, const char* what) {
  if (w.group_size() != block_size || w.k() % block_size != 0)
    lowbit::detail::fail(what, ": the weights have groups of ", w.group_size(), " (K = ", w.k(),
                         "); ggml blocks hold groups of ", block_size);
  if (w.offsets() != kind)
    lowbit::detail::fail(what, ": the weights' offsets (", static_cast<int>(w.offsets()),
                         ") are not those of the block format (", static_cast<int>(kind), ")");
}

}  // namespace detail

// ---- quantization (ggml's reference rounding) -----------------------------------------------

/// Q4_0 blocks of W [N, K] (K a multiple of 32), row by row.
template <class Derived>
std::vector<block_q4_0> quantize_q4_0(const Eigen::DenseBase<Derived>& w) {
  return detail::quantize_rows<block_q4_0>(w, "ggml::quantize_q4_0", [](const float* x, block_q4_0& b, index_t r, index_t blk) {
    constexpr const char* what = "ggml::quantize_q4_0";
    float amax = 0.0f, max = 0.0f;
    for (index_t j = 0; j < block_size; ++j)
      if (amax < std::fabs(x[j])) amax = std::fabs(x[j]), max = x[j];
    const float d = max / -8.0f, id = detail::reciprocal(d);
    b.d = detail::block_half(d, "d", r, blk, what);
    for (index_t j = 0; j < block_size / 2; ++j) {
      const int lo = std::min(15, static_cast<int>(static_cast<std::int8_t>(detail::mul_then_add(x[j], id, 8.5f))));
      const int hi =
          std::min(15, static_cast<int>(static_cast<std::int8_t>(detail::mul_then_add(x[j + block_size / 2], id, 8.5f))));
      b.qs[j] = static_cast<std::uint8_t>(lo | (hi << 4));
    }
  });
}

/// Q4_1 blocks of W [N, K] (K a multiple of 32), row by row.
template <class Derived>
std::vector<block_q4_1> quantize_q4_1(const Eigen::DenseBase<Derived>& w) {
  return detail::quantize_rows<block_q4_1>(w, "ggml::quantize_q4_1", [](const float* x, block_q4_1& b, index_t r, index_t blk) {
    constexpr const char* what = "ggml::quantize_q4_1";
    float mn = x[0], mx = x[0];
    for (index_t j = 1; j < block_size; ++j) mn = std::min(mn, x[j]), mx = std::max(mx, x[j]);
    const float d = (mx - mn) / 15.0f, id = detail::reciprocal(d);
    b.d = detail::block_half(d, "d", r, blk, what);
    b.m = detail::block_half(mn, "m", r, blk, what);
    for (index_t j = 0; j < block_size / 2; ++j) {
      const int lo = std::min(15, static_cast<int>(static_cast<std::int8_t>(detail::mul_then_add(x[j] - mn, id, 0.5f))));
      const int hi = std::min(
          15, static_cast<int>(static_cast<std::int8_t>(detail::mul_then_add(x[j + block_size / 2] - mn, id, 0.5f))));
      b.qs[j] = static_cast<std::uint8_t>(lo | (hi << 4));
    }
  });
}

/// Q8_0 blocks of W [N, K] (K a multiple of 32), row by row.
template <class Derived>
std::vector<block_q8_0> quantize_q8_0(const Eigen::DenseBase<Derived>& w) {
  return detail::quantize_rows<block_q8_0>(w, "ggml::quantize_q8_0", [](const float* x, block_q8_0& b, index_t r, index_t blk) {
    constexpr const char* what = "ggml::quantize_q8_0";
    float amax = 0.0f;
    for (index_t j = 0; j < block_size; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f, id = detail::reciprocal(d);
    b.d = detail::block_half(d, "d", r, blk, what);
    for (index_t j = 0; j < block_size; ++j) b.qs[j] = static_cast<std::int8_t>(std::round(x[j] * id));
  });
}

// ---- dequantization (ggml's formulas, for checks) ---------------------------------------------

/// The weights of Q4_0 blocks, [N, K]: (q - 8) * d.
inline row_matrix dequantize(const block_q4_0* blocks, index_t n, index_t k) {
  detail::check_shape(n, k, "ggml::dequantize (Q4_0)");
  row_matrix w(n, k);
  for (index_t i = 0; i < n * (k / block_size); ++i) {
    const block_q4_0& b = blocks[i];
    const float d = half_to_float(b.d);
    float* y = w.data() + i * block_size;
    for (index_t j = 0; j < block_size / 2; ++j) {
      y[j] = static_cast<float>((b.qs[j] & 15) - 8) * d;
      y[j + block_size / 2] = static_cast<float>((b.qs[j] >> 4) - 8) * d;
    }
  }
  return w;
}

/// The weights of Q4_1 blocks, [N, K]: q * d + m (one rounding, as lowbit's kernels compute it).
inline row_matrix dequantize(const block_q4_1* blocks, index_t n, index_t k) {
  detail::check_shape(n, k, "ggml::dequantize (Q4_1)");
  row_matrix w(n, k);
  for (index_t i = 0; i < n * (k / block_size); ++i) {
    const block_q4_1& b = blocks[i];
    const float d = half_to_float(b.d), m = half_to_float(b.m);
    float* y = w.data() + i * block_size;
    for (index_t j = 0; j < block_size / 2; ++j) {
      y[j] = std::fma(static_cast<float>(b.qs[j] & 15), d, m);
      y[j + block_size / 2] = std::fma(static_cast<float>(b.qs[j] >> 4), d, m);
    }
  }
  return w;
}

/// The weights of Q8_0 blocks, [N, K]: q * d.
inline row_matrix dequantize(const block_q8_0* blocks, index_t n, index_t k) {
  detail::check_shape(n, k, "ggml::dequantize (Q8_0)");
  row_matrix w(n, k);
  for (index_t i = 0; i < n * (k / block_size); ++i) {
    const float d = half_to_float(blocks[i].d);
    for (index_t j = 0; j < block_size; ++j) w.data()[i * block_size + j] = static_cast<float>(blocks[i].qs[j]) * d;
  }
  return w;
}

// ---- blocks -> packed weights ---------------------------------------------------------------

/// Packed int4 weights [N, K] from N * K / 32 Q4_0 blocks (row by row): code q - 8, scale d.
inline packed_lowbit_weights<int4> from_q4_0(const block_q4_0* blocks, index_t n, index_t k, bias_values bias = {},
                                             const context& ctx = {}) {
  detail::check_shape(n, k, "ggml::from_q4_0");
  if (blocks == nullptr && n * k > 0) lowbit::detail::fail("ggml::from_q4_0: null blocks");
  const index_t count = n * (k / block_size);
  std::vector<std::int8_t> codes(static_cast<std::size_t>(n * k));
  std::vector<half_bits> scales(static_cast<std::size_t>(count));
  for (index_t i = 0; i < count; ++i) {
    scales[static_cast<std::size_t>(i)] = blocks[i].d;
    for (index_t j = 0; j < block_size / 2; ++j) {
      codes[static_cast<std::size_t>(i * block_size + j)] = static_cast<std::int8_t>((blocks[i].qs[j] & 15) - 8);
      codes[static_cast<std::size_t>(i * block_size + j + 16)] = static_cast<std::int8_t>((blocks[i].qs[j] >> 4) - 8);
    }
  }
  return packed_lowbit_weights<int4>::assemble(n, k, block_size, offset_kind::symmetric, codes.data(), k, scales, {}, {},
                                               std::move(bias), ctx);
}

/// Packed uint4 weights with a minimum per group from Q4_1 blocks: code q, scale d, min m.
inline packed_lowbit_weights<uint4> from_q4_1(const block_q4_1* blocks, index_t n, index_t k, bias_values bias = {},
                                              const context& ctx = {}) {
  detail::check_shape(n, k, "ggml::from_q4_1");
  if (blocks == nullptr && n * k > 0) lowbit::detail::fail("ggml::from_q4_1: null blocks");
  const index_t count = n * (k / block_size);
  std::vector<std::uint8_t> codes(static_cast<std::size_t>(n * k));
  std::vector<half_bits> scales(static_cast<std::size_t>(count)), mins(static_cast<std::size_t>(count));
  for (index_t i = 0; i < count; ++i) {
    scales[static_cast<std::size_t>(i)] = blocks[i].d;
    mins[static_cast<std::size_t>(i)] = blocks[i].m;
    for (index_t j = 0; j < block_size / 2; ++j) {
      codes[static_cast<std::size_t>(i * block_size + j)] = static_cast<std::uint8_t>(blocks[i].qs[j] & 15);
      codes[static_cast<std::size_t>(i * block_size + j + 16)] = static_cast<std::uint8_t>(blocks[i].qs[j] >> 4);
    }
  }
  return packed_lowbit_weights<uint4>::assemble(n, k, block_size, offset_kind::min, codes.data(), k, scales, {}, mins,
                                                std::move(bias), ctx);
}

/// Packed int8 weights from Q8_0 blocks: code q, scale d.
inline packed_lowbit_weights<int8> from_q8_0(const block_q8_0* blocks, index_t n, index_t k, bias_values bias = {},
                                             const context& ctx = {}) {
  detail::check_shape(n, k, "ggml::from_q8_0");
  if (blocks == nullptr && n * k > 0) lowbit::detail::fail("ggml::from_q8_0: null blocks");
  const index_t count = n * (k / block_size);
  std::vector<std::int8_t> codes(static_cast<std::size_t>(n * k));
  std::vector<half_bits> scales(static_cast<std::size_t>(count));
  for (index_t i = 0; i < count; ++i) {
    scales[static_cast<std::size_t>(i)] = blocks[i].d;
    std::memcpy(codes.data() + i * block_size, blocks[i].qs, block_size);
  }
  return packed_lowbit_weights<int8>::assemble(n, k, block_size, offset_kind::symmetric, codes.data(), k, scales, {}, {},
                                               std::move(bias), ctx);
}

// ---- packed weights -> blocks ---------------------------------------------------------------

/// Q4_0 blocks of packed int4 symmetric weights with groups of 32.
inline std::vector<block_q4_0> to_q4_0(const packed_lowbit_weights<int4>& w) {
  detail::check_convertible(w, offset_kind::symmetric, "ggml::to_q4_0");
  const index_t per_row = w.k() / block_size;
  std::vector<block_q4_0> out(static_cast<std::size_t>(w.n() * per_row));
  for (index_t r = 0; r < w.n(); ++r)
    for (index_t g = 0; g < per_row; ++g) {
      block_q4_0& b = out[static_cast<std::size_t>(r * per_row + g)];
      b.d = w.scale_bits(r, g);
      for (index_t j = 0; j < block_size / 2; ++j)
        b.qs[j] = static_cast<std::uint8_t>((w.code(r, g * block_size + j) + 8) |
                                            ((w.code(r, g * block_size + j + 16) + 8) << 4));
    }
  return out;
}

/// Q4_1 blocks of packed uint4 weights with a minimum per group of 32.
inline std::vector<block_q4_1> to_q4_1(const packed_lowbit_weights<uint4>& w) {
  detail::check_convertible(w, offset_kind::min, "ggml::to_q4_1");
  const index_t per_row = w.k() / block_size;
  std::vector<block_q4_1> out(static_cast<std::size_t>(w.n() * per_row));
  for (index_t r = 0; r < w.n(); ++r)
    for (index_t g = 0; g < per_row; ++g) {
      block_q4_1& b = out[static_cast<std::size_t>(r * per_row + g)];
      b.d = w.scale_bits(r, g);
      b.m = w.min_bits(r, g);
      for (index_t j = 0; j < block_size / 2; ++j)
        b.qs[j] = static_cast<std::uint8_t>(w.code(r, g * block_size + j) | (w.code(r, g * block_size + j + 16) << 4));
    }
  return out;
}

/// Q8_0 blocks of packed int8 symmetric weights with groups of 32.
inline std::vector<block_q8_0> to_q8_0(const packed_lowbit_weights<int8>& w) {
  detail::check_convertible(w, offset_kind::symmetric, "ggml::to_q8_0");
  const index_t per_row = w.k() / block_size;
  std::vector<block_q8_0> out(static_cast<std::size_t>(w.n() * per_row));
  for (index_t r = 0; r < w.n(); ++r)
    for (index_t g = 0; g < per_row; ++g) {
      block_q8_0& b = out[static_cast<std::size_t>(r * per_row + g)];
      b.d = w.scale_bits(r, g);
      for (index_t j = 0; j < block_size; ++j) b.qs[j] = static_cast<std::int8_t>(w.code(r, g * block_size + j));
    }
  return out;
}

}  // namespace ggml
LOWBIT_NAMESPACE_END
