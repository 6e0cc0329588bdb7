// lowbit/tensor/float4_tensor.hpp: NF4 and FP4 (Dettmers et al., 2023): 4-bit codes into a table of floats, block-wise absmax scales, double quantization; bitsandbytes' layout.
//
// A weight w in a block of `block` consecutive elements (of the flattened tensor, default 64) is
// stored as the 4-bit index of the table entry nearest to w / absmax(block), as bitsandbytes'
// CUDA kernels (kQuantizeBlockwise with dQuantizeNF4 / dQuantizeFP4) choose it:
//
//   r = 1.0f / absmax (float);  v = w * r (float)
//   NF4: code = the number of the 15 pivots (float32 midpoints of neighbouring table entries)
//        strictly below v: a value exactly on a midpoint takes the lower code
//   FP4: code = (v < 0 ? 8 : 0) + the magnitude code of |v| by bitsandbytes' seven pivots
//        (0.00260417, 0.0859375, 0.20833333, 0.29166667, 0.4166667, 0.583333, 0.8333333; strict >)
//   value = table[code] * absmax (float)
//
// Codes are packed two per byte, element 2j in the high nibble, 2j + 1 in the low nibble
// (bitsandbytes' order; the opposite of ONNX's int4 and of quantized_tensor). A short last block
// holds the remaining elements; for an odd count the last low nibble is the code of 0.0 * r (as
// bitsandbytes pads). An all-zero block has absmax 0: bitsandbytes' 1 / 0 * 0 is NaN, which both
// pivot trees send to code 0 (NF4's -1, FP4's +0), and lowbit does the same, so the bytes match;
// its values dequantize to (signed) zero. A block whose absmax is subnormal has an infinite
// reciprocal too: its zeros get code 0 and dequantize to -absmax (NF4), as in bitsandbytes.
//
// Double quantization (bitsandbytes' compress_statistics): offset = mean(absmax) (summed in
// double, rounded to float), then absmax - offset is quantized to 8 bits block-wise (blocks of 256)
// with bitsandbytes' signed dynamic map (create_dynamic_map(signed=True), 256 values; dQuantize's
// binary search and midpoint rule, ties to the even index) and one float scale per block of 256;
// absmax comes back as map[code] * scale + offset (float multiply, then float add). About 0.127
// bits per weight of scales instead of 0.5 at block 64.
//
// Byte-compatibility caveats (see tests/golden/generate_nf4.py): bitsandbytes' CUDA build uses
// --use_fast_math, so its 1 / absmax may differ from the IEEE reciprocal in the last bit for
// some blocks; its dynamic map is built by torch.linspace on the CPU and differs by one ulp in 28
// of 256 entries between AVX2 and AVX-512 builds of torch (lowbit uses the AVX2 build's map).
//
//   auto t = lowbit::float4_tensor::quantize(W, lowbit::float4_kind::nf4);   // block 64
//   lowbit::float4_options o;  o.double_quant = true;
//   auto d = lowbit::float4_tensor::quantize(W, lowbit::float4_kind::nf4, o);
//   row_matrix back = t.dequantize();                     // table lookup on every kernel path
//
// Bad input: NaN or infinite values (an error naming the element), an odd or non-positive block,
// parts of the wrong size when assembling raise lowbit::error.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/shape.hpp"
#include "lowbit/detail/float_ops.hpp"
#include "lowbit/kernels/float4.hpp"
#include "lowbit/runtime/context.hpp"
#include "lowbit/tensor/quantized_tensor.hpp"

LOWBIT_NAMESPACE_BEGIN

enum class float4_kind { nf4, fp4 };

inline const char* float4_name(float4_kind k) noexcept { return k == float4_kind::nf4 ? "nf4" : "fp4"; }

namespace detail {

// bitsandbytes' NF4 table (functional.get_4bit_type("nf4")), index = code.
alignas(64) inline constexpr float nf4_values[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f, -0.28444138169288635f,
    -0.18477343022823334f, -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f,
    0.24611230194568634f, 0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,
    0.7229568362236023f, 1.0f};
// dQuantizeNF4's pivots: the midpoints of neighbouring entries (of the double literals), as floats.
inline constexpr float nf4_pivots[15] = {
    -0x1.b239b00000000p-1f, -0x1.38a4e00000000p-1f, -0x1.d709000000000p-2f, -0x1.5bd4ec0000000p-2f, -0x1.e079d80000000p-3f, -0x1.1a71780000000p-3f, -0x1.74f0e20000000p-5f, 0x1.45f5fe0000000p-5f, 0x1.ec90c40000000p-4f, 0x1.a0cfc00000000p-3f, 0x1.2b05a80000000p-2f, 0x1.8ea7f20000000p-2f, 0x1.00da080000000p-1f, 0x1.491b5e0000000p-1f, 0x1.b913b40000000p-1f};
// FP4 (sign, 2 exponent bits with bias 3, 1 mantissa bit, subnormal 0.0625), divided by 12:
// magnitude by 3-bit code {0, 0.0625, 8, 12, 4, 6, 2, 3} / 12; bit 3 is the sign (code 8 is -0).
alignas(64) inline constexpr float fp4_values[16] = {
    0.0f, 0.0625f / 12, 8.0f / 12, 12.0f / 12, 4.0f / 12, 6.0f / 12, 2.0f / 12, 3.0f / 12,
    -0.0f, -0.0625f / 12, -8.0f / 12, -12.0f / 12, -4.0f / 12, -6.0f / 12, -2.0f / 12, -3.0f / 12};
// dQuantizeFP4's pivots on |v| (its literals) and the magnitude codes in increasing value.
inline constexpr float fp4_pivots[7] = {0.00260417f, 0.0859375f, 0.20833333f, 0.29166667f,
                                        0.4166667f, 0.583333f, 0.8333333f};
inline constexpr std::uint8_t fp4_by_rank[8] = {0, 1, 6, 7, 4, 5, 2, 3};

// bitsandbytes' signed 8-bit dynamic map (create_dynamic_map(signed=True)), sorted, as torch 1.13
// on an AVX2 CPU builds it.
inline constexpr float dynamic_map[256] = {
    -0x1.fc66660000000p-1f, -0x1.f533320000000p-1f, -0x1.ee00000000000p-1f, -0x1.e6cccc0000000p-1f,
    -0x1.df99980000000p-1f, -0x1.d866660000000p-1f, -0x1.d133340000000p-1f, -0x1.ca00000000000p-1f,
    -0x1.c2cccc0000000p-1f, -0x1.bb99980000000p-1f, -0x1.b466660000000p-1f, -0x1.ad33320000000p-1f,
    -0x1.a600000000000p-1f, -0x1.9ecccc0000000p-1f, -0x1.9799980000000p-1f, -0x1.9066660000000p-1f,
    -0x1.8933340000000p-1f, -0x1.8200000000000p-1f, -0x1.7accce0000000p-1f, -0x1.73999a0000000p-1f,
    -0x1.6c66680000000p-1f, -0x1.6533340000000p-1f, -0x1.5e00000000000p-1f, -0x1.56ccce0000000p-1f,
    -0x1.4f999a0000000p-1f, -0x1.4866660000000p-1f, -0x1.4133340000000p-1f, -0x1.3a00000000000p-1f,
    -0x1.32cccc0000000p-1f, -0x1.2b999a0000000p-1f, -0x1.2466680000000p-1f, -0x1.1d33340000000p-1f,
    -0x1.1600000000000p-1f, -0x1.0ecccc0000000p-1f, -0x1.07999a0000000p-1f, -0x1.0066660000000p-1f,
    -0x1.f266680000000p-2f, -0x1.e400000000000p-2f, -0x1.d599980000000p-2f, -0x1.c733340000000p-2f,
    -0x1.b8cccc0000000p-2f, -0x1.aa66640000000p-2f, -0x1.9c00000000000p-2f, -0x1.8d99980000000p-2f,
    -0x1.7f33340000000p-2f, -0x1.70cccc0000000p-2f, -0x1.6266640000000p-2f, -0x1.5400000000000p-2f,
    -0x1.4599980000000p-2f, -0x1.3733340000000p-2f, -0x1.28cccc0000000p-2f, -0x1.1a66680000000p-2f,
    -0x1.0c00000000000p-2f, -0x1.fb33340000000p-3f, -0x1.de66680000000p-3f, -0x1.c1999a0000000p-3f,
    -0x1.a4cccc0000000p-3f, -0x1.8800000000000p-3f, -0x1.6b33320000000p-3f, -0x1.4e66660000000p-3f,
    -0x1.31999a0000000p-3f, -0x1.14cccc0000000p-3f, -0x1.f000000000000p-4f, -0x1.b666680000000p-4f,
    -0x1.93d70a0000000p-4f, -0x1.8851ea0000000p-4f, -0x1.7cccce0000000p-4f, -0x1.7147ae0000000p-4f,
    -0x1.65c2900000000p-4f, -0x1.5a3d700000000p-4f, -0x1.4eb8500000000p-4f, -0x1.4333340000000p-4f,
    -0x1.37ae140000000p-4f, -0x1.2c28f60000000p-4f, -0x1.20a3d60000000p-4f, -0x1.151eba0000000p-4f,
    -0x1.09999a0000000p-4f, -0x1.fc28f40000000p-5f, -0x1.e51eba0000000p-5f, -0x1.ce147a0000000p-5f,
    -0x1.b70a3e0000000p-5f, -0x1.a000000000000p-5f, -0x1.88f5c20000000p-5f, -0x1.71eb860000000p-5f,
    -0x1.5ae1460000000p-5f, -0x1.43d70a0000000p-5f, -0x1.2cccce0000000p-5f, -0x1.15c28e0000000p-5f,
    -0x1.fd70a40000000p-6f, -0x1.cf5c260000000p-6f, -0x1.a147ae0000000p-6f, -0x1.7333340000000p-6f,
    -0x1.451eb80000000p-6f, -0x1.170a3e0000000p-6f, -0x1.d1eb860000000p-7f, -0x1.75c2900000000p-7f,
    -0x1.3e76c80000000p-7f, -0x1.2c08300000000p-7f, -0x1.19999a0000000p-7f, -0x1.072b020000000p-7f,
    -0x1.e978d40000000p-8f, -0x1.c49ba60000000p-8f, -0x1.9fbe760000000p-8f, -0x1.7ae1480000000p-8f,
    -0x1.56041a0000000p-8f, -0x1.3126e80000000p-8f, -0x1.0c49ba0000000p-8f, -0x1.ced9140000000p-9f,
    -0x1.851eb80000000p-9f, -0x1.3b645a0000000p-9f, -0x1.e353f80000000p-10f, -0x1.4fdf3a0000000p-10f,
    -0x1.eecbfe0000000p-11f, -0x1.b3d07c0000000p-11f, -0x1.78d5000000000p-11f, -0x1.3dd9820000000p-11f,
    -0x1.02de020000000p-11f, -0x1.8fc5060000000p-12f, -0x1.19ce0a0000000p-12f, -0x1.47ae160000000p-13f,
    -0x1.743e960000000p-14f, -0x1.15df660000000p-14f, -0x1.6f00680000000p-15f, -0x1.64840c0000000p-16f,
    -0x1.040bfe0000000p-17f, -0x1.b435280000000p-19f, -0x1.27476e0000000p-21f, 0x0.0p+0f,
    0x1.27476e0000000p-21f, 0x1.b435280000000p-19f, 0x1.040bfe0000000p-17f, 0x1.64840c0000000p-16f,
    0x1.6f00680000000p-15f, 0x1.15df660000000p-14f, 0x1.743e960000000p-14f, 0x1.47ae160000000p-13f,
    0x1.19ce0a0000000p-12f, 0x1.8fc5060000000p-12f, 0x1.02de020000000p-11f, 0x1.3dd9820000000p-11f,
    0x1.78d5000000000p-11f, 0x1.b3d07c0000000p-11f, 0x1.eecbfe0000000p-11f, 0x1.4fdf3a0000000p-10f,
    0x1.e353f80000000p-10f, 0x1.3b645a0000000p-9f, 0x1.851eb80000000p-9f, 0x1.ced9140000000p-9f,
    0x1.0c49ba0000000p-8f, 0x1.3126e80000000p-8f, 0x1.56041a0000000p-8f, 0x1.7ae1480000000p-8f,
    0x1.9fbe760000000p-8f, 0x1.c49ba60000000p-8f, 0x1.e978d40000000p-8f, 0x1.072b020000000p-7f,
    0x1.19999a0000000p-7f, 0x1.2c08300000000p-7f, 0x1.3e76c80000000p-7f, 0x1.75c2900000000p-7f,
    0x1.d1eb860000000p-7f, 0x1.170a3e0000000p-6f, 0x1.451eb80000000p-6f, 0x1.7333340000000p-6f,
    0x1.a147ae0000000p-6f, 0x1.cf5c260000000p-6f, 0x1.fd70a40000000p-6f, 0x1.15c28e0000000p-5f,
    0x1.2cccce0000000p-5f, 0x1.43d70a0000000p-5f, 0x1.5ae1460000000p-5f, 0x1.71eb860000000p-5f,
    0x1.88f5c20000000p-5f, 0x1.a000000000000p-5f, 0x1.b70a3e0000000p-5f, 0x1.ce147a0000000p-5f,
    0x1.e51eba0000000p-5f, 0x1.fc28f40000000p-5f, 0x1.09999a0000000p-4f, 0x1.151eba0000000p-4f,
    0x1.20a3d60000000p-4f, 0x1.2c28f60000000p-4f, 0x1.37ae140000000p-4f, 0x1.4333340000000p-4f,
    0x1.4eb8500000000p-4f, 0x1.5a3d700000000p-4f, 0x1.65c2900000000p-4f, 0x1.7147ae0000000p-4f,
    0x1.7cccce0000000p-4f, 0x1.8851ea0000000p-4f, 0x1.93d70a0000000p-4f, 0x1.b666680000000p-4f,
    0x1.f000000000000p-4f, 0x1.14cccc0000000p-3f, 0x1.31999a0000000p-3f, 0x1.4e66660000000p-3f,
    0x1.6b33320000000p-3f, 0x1.8800000000000p-3f, 0x1.a4cccc0000000p-3f, 0x1.c1999a0000000p-3f,
    0x1.de66680000000p-3f, 0x1.fb33340000000p-3f, 0x1.0c00000000000p-2f, 0x1.1a66680000000p-2f,
    0x1.28cccc0000000p-2f, 0x1.3733340000000p-2f, 0x1.4599980000000p-2f, 0x1.5400000000000p-2f,
    0x1.6266640000000p-2f, 0x1.70cccc0000000p-2f, 0x1.7f33340000000p-2f, 0x1.8d99980000000p-2f,
    0x1.9c00000000000p-2f, 0x1.aa66640000000p-2f, 0x1.b8cccc0000000p-2f, 0x1.c733340000000p-2f,
    0x1.d599980000000p-2f, 0x1.e400000000000p-2f, 0x1.f266680000000p-2f, 0x1.0066660000000p-1f,
    0x1.07999a0000000p-1f, 0x1.0ecccc0000000p-1f, 0x1.1600000000000p-1f, 0x1.1d33340000000p-1f,
    0x1.2466680000000p-1f, 0x1.2b999a0000000p-1f, 0x1.32cccc0000000p-1f, 0x1.3a00000000000p-1f,
    0x1.4133340000000p-1f, 0x1.4866660000000p-1f, 0x1.4f999a0000000p-1f, 0x1.56ccce0000000p-1f,
    0x1.5e00000000000p-1f, 0x1.6533340000000p-1f, 0x1.6c66680000000p-1f, 0x1.73999a0000000p-1f,
    0x1.7accce0000000p-1f, 0x1.8200000000000p-1f, 0x1.8933340000000p-1f, 0x1.9066660000000p-1f,
    0x1.9799980000000p-1f, 0x1.9ecccc0000000p-1f, 0x1.a600000000000p-1f, 0x1.ad33320000000p-1f,
    0x1.b466660000000p-1f, 0x1.bb99980000000p-1f, 0x1.c2cccc0000000p-1f, 0x1.ca00000000000p-1f,
    0x1.d133340000000p-1f, 0x1.d866660000000p-1f, 0x1.df99980000000p-1f, 0x1.e6cccc0000000p-1f,
    0x1.ee00000000000p-1f, 0x1.f533320000000p-1f, 0x1.fc66660000000p-1f, 0x1.0000000000000p+0f,
};

inline std::uint8_t nf4_code(float v) noexcept {
  std::uint8_t c = 0;
  for (float p : nf4_pivots) c = static_cast<std::uint8_t>(c + (v > p ? 1 : 0));
  return c;  // NaN: 0
}

inline std::uint8_t fp4_code(float v) noexcept {
  const float a = std::fabs(v);
  int rank = 0;
  for (float p : fp4_pivots) rank += a > p ? 1 : 0;
  return static_cast<std::uint8_t>(fp4_by_rank[rank] + (v < 0.0f ? 8 : 0));
}

// dQuantize<0>: binary search over the map from pivot 127, then the float midpoint with the
// neighbour the search ended beside.
inline std::uint8_t dynamic_code(float x) noexcept {
  int pivot = 127, upper_pivot = 255, lower_pivot = 0;
  float lower = -1.0f, upper = 1.0f;
  float val = dynamic_map[pivot];
  for (int i = 64; i > 0; i >>= 1) {
    if (x > val) {
      lower_pivot = pivot;
      lower = val;
      pivot += i;
    } else {
      upper_pivot = pivot;
      upper = val;
      pivot -= i;
    }
    val = dynamic_map[pivot];
  }
  if (upper_pivot == 255) upper = dynamic_map[upper_pivot];
  if (lower_pivot == 0) lower = dynamic_map[lower_pivot];
  if (x > val) return static_cast<std::uint8_t>(x > (upper + val) * 0.5f ? upper_pivot : pivot);
  return static_cast<std::uint8_t>(x < (lower + val) * 0.5f ? lower_pivot : pivot);
}

}  // namespace detail

/// Double-quantized block scales: 8-bit codes of absmax - offset in bitsandbytes' dynamic map,
/// one float scale per `block` of them, and the offset.
struct float4_nested_absmax {
  std::vector<std::uint8_t> codes;
  std::vector<float> scale;
  float offset = 0.0f;
  index_t block = 256;
  /// map[code] * scale, then + offset, each rounded to float (bitsandbytes' order).
  std::vector<float> dequantize() const {
    std::vector<float> out(codes.size());
    for (std::size_t i = 0; i < codes.size(); ++i) {
      // Two roundings: a compiler must not fuse them into one FMA (GCC does on AArch64, even
      // through a double product narrowed to float), so the product is rounded by detail::mul.
      out[i] = detail::mul(detail::dynamic_map[codes[i]], scale[i / static_cast<std::size_t>(block)]) + offset;
    }
    return out;
  }
};

/// bitsandbytes' double quantization of block absmax values (quantize_4bit with
/// compress_statistics): offset = mean (summed in double), then absmax - offset quantized 8-bit
/// block-wise with the dynamic map (dQuantize's rule), scale = max |absmax - offset| per block.
inline float4_nested_absmax double_quantize_absmax(const std::vector<float>& absmax, index_t block = 256) {
  if (block <= 0) detail::fail("double_quantize_absmax: block must be positive, got ", block);
  for (std::size_t i = 0; i < absmax.size(); ++i)
    if (!std::isfinite(absmax[i])) detail::fail("double_quantize_absmax: absmax[", i, "] = ", absmax[i], " is not finite");
  float4_nested_absmax r;
  r.block = block;
  const auto b = static_cast<index_t>(absmax.size());
  double sum = 0;
  for (float a : absmax) sum += a;
  r.offset = b > 0 ? static_cast<float>(sum / static_cast<double>(b)) : 0.0f;
  r.codes.assign(absmax.size(), 0);
  r.scale.assign(static_cast<std::size_t>((b + block - 1) / block), 0.0f);
  for (index_t nb = 0; nb * block < b; ++nb) {
    const index_t lo = nb * block, hi = std::min(lo + block, b);
    float m = 0.0f;
    for (index_t i = lo; i < hi; ++i) m = std::max(m, std::fabs(absmax[static_cast<std::size_t>(i)] - r.offset));
    r.scale[static_cast<std::size_t>(nb)] = m;
    const float inv = 1.0f / m;  // +Inf when every absmax equals the offset, as bitsandbytes computes it
    for (index_t i = lo; i < hi; ++i)
      r.codes[static_cast<std::size_t>(i)] = detail::dynamic_code((absmax[static_cast<std::size_t>(i)] - r.offset) * inv);
  }
  return r;
}

/// The 16 values of a 4-bit table format, indexed by code.
inline const float* float4_table(float4_kind k) noexcept {
  return k == float4_kind::nf4 ? detail::nf4_values : detail::fp4_values;
}

struct float4_options {
  index_t block = 64;            ///< elements per absmax (even; bitsandbytes uses 64 .. 4096)
  bool double_quant = false;     ///< quantize the absmax values to 8 bits (compress_statistics)
  index_t nested_block = 256;    ///< absmax values per 8-bit block
};

class float4_tensor {
 public:
  float4_tensor() = default;

  /// Quantizes x (shape `shape`, C order, finite).
  static float4_tensor quantize(const float* x, std::vector<index_t> shape, float4_kind kind, const float4_options& o = {}) {
    float4_tensor t;
    t.shape_ = std::move(shape);
    t.kind_ = kind;
    t.block_ = o.block;
    t.check_layout("float4_tensor::quantize");
    const index_t n = t.size();
    if (n > 0 && x == nullptr) detail::fail("float4_tensor::quantize: null input");
    for (index_t i = 0; i < n; ++i)
      if (!std::isfinite(x[i])) detail::fail("float4_tensor::quantize: element ", i, " = ", x[i], " is not finite");
    const index_t blocks = t.blocks();
    t.absmax_.assign(static_cast<std::size_t>(blocks), 0.0f);
    t.packed_.assign(static_cast<std::size_t>((n + 1) / 2), 0);
    for (index_t b = 0; b < blocks; ++b) {
      const index_t lo = b * t.block_, hi = std::min(lo + t.block_, n);
      float m = 0.0f;
      for (index_t i = lo; i < hi; ++i) m = std::max(m, std::fabs(x[i]));
      t.absmax_[static_cast<std::size_t>(b)] = m;
      const float r = 1.0f / m;  // +Inf for an all-zero block, as bitsandbytes computes it
      for (index_t i = lo; i < hi + (hi % 2); ++i) {
        const float v = (i < hi ? x[i] : 0.0f) * r;
        const std::uint8_t c = kind == float4_kind::nf4 ? detail::nf4_code(v) : detail::fp4_code(v);
        std::uint8_t& byte = t.packed_[static_cast<std::size_t>(i / 2)];
        byte = static_cast<std::uint8_t>(i % 2 == 0 ? (c << 4) : (byte | c));
      }
    }
    if (o.double_quant) t.compress_absmax(o.nested_block);
    return t;
  }
  template <class Derived>
  static float4_tensor quantize(const Eigen::DenseBase<Derived>& x, float4_kind kind, const float4_options& o = {}) {
    const row_matrix m = x.template cast<float>();
    return quantize(m.data(), {m.rows(), m.cols()}, kind, o);
  }

  /// Assembles a tensor from bitsandbytes-layout parts (e.g. read from a file): packed codes
  /// ((size + 1) / 2 bytes) and one float absmax per block.
  float4_tensor(std::vector<index_t> shape, float4_kind kind, index_t block, std::vector<std::uint8_t> packed,
                std::vector<float> absmax)
      : shape_(std::move(shape)), kind_(kind), block_(block), packed_(std::move(packed)), absmax_(std::move(absmax)) {
    check_layout("float4_tensor");
    check_parts("float4_tensor");
  }
  /// Assembles a double-quantized tensor: 8-bit absmax codes, one scale per nested block, the offset.
  float4_tensor(std::vector<index_t> shape, float4_kind kind, index_t block, std::vector<std::uint8_t> packed,
                std::vector<std::uint8_t> absmax_codes, std::vector<float> nested_scale, float offset, index_t nested_block)
      : shape_(std::move(shape)), kind_(kind), block_(block), packed_(std::move(packed)),
        absmax_codes_(std::move(absmax_codes)), nested_scale_(std::move(nested_scale)), offset_(offset),
        nested_block_(nested_block), double_quant_(true) {
    check_layout("float4_tensor");
    if (nested_block_ <= 0) detail::fail("float4_tensor: nested_block must be positive, got ", nested_block_);
    if (static_cast<index_t>(absmax_codes_.size()) != blocks())
      detail::fail("float4_tensor: ", blocks(), " blocks need ", blocks(), " absmax codes, got ", absmax_codes_.size());
    const index_t nested = (blocks() + nested_block_ - 1) / nested_block_;
    if (static_cast<index_t>(nested_scale_.size()) != nested)
      detail::fail("float4_tensor: ", nested, " nested blocks need ", nested, " scales, got ", nested_scale_.size());
    for (std::size_t i = 0; i < nested_scale_.size(); ++i)
      if (!std::isfinite(nested_scale_[i]) || nested_scale_[i] < 0)
        detail::fail("float4_tensor: nested scale[", i, "] = ", nested_scale_[i], " is not a finite non-negative float");
    if (!std::isfinite(offset_)) detail::fail("float4_tensor: offset ", offset_, " is not finite");
    expand_absmax();
    check_parts("float4_tensor");
  }

  float4_kind kind() const noexcept { return kind_; }
  const std::vector<index_t>& shape() const noexcept { return shape_; }
  index_t size() const noexcept {
    index_t n = 1;
    for (index_t d : shape_) n *= d;
    return shape_.empty() ? 0 : n;
  }
  index_t rows() const noexcept { return shape_.empty() ? 0 : (shape_.size() == 1 ? 1 : shape_[0]); }
  index_t cols() const noexcept { return rows() == 0 ? 0 : size() / rows(); }
  index_t block() const noexcept { return block_; }
  index_t blocks() const noexcept { return (size() + block_ - 1) / block_; }
  /// Packed codes, bitsandbytes' order (element 2j in the high nibble).
  const std::vector<std::uint8_t>& packed() const noexcept { return packed_; }
  /// The absmax each block is dequantized with (after double quantization, its dequantized value).
  const std::vector<float>& absmax() const noexcept { return absmax_; }
  bool double_quantized() const noexcept { return double_quant_; }
  const std::vector<std::uint8_t>& absmax_codes() const noexcept { return absmax_codes_; }
  const std::vector<float>& nested_scale() const noexcept { return nested_scale_; }
  float offset() const noexcept { return offset_; }
  index_t nested_block() const noexcept { return nested_block_; }
  /// Code of element i.
  unsigned code(index_t i) const noexcept { return kernels::scalar::float4_code(packed_.data(), i); }

  /// Bytes of the payload: packed codes and the block scales (and the nested scales and offset).
  index_t bytes() const noexcept {
    const auto codes = static_cast<index_t>(packed_.size());
    if (!double_quant_) return codes + 4 * blocks();
    return codes + blocks() + 4 * static_cast<index_t>(nested_scale_.size()) + 4;
  }
  double bits_per_weight() const noexcept { return size() ? 8.0 * static_cast<double>(bytes()) / static_cast<double>(size()) : 0.0; }

  /// Dequantizes into out (size() floats): table[code] * absmax, by table lookup on ctx's path.
  void dequantize_to(float* out, const context& ctx = {}) const {
    check_path(ctx.path, "float4_tensor::dequantize");
    const index_t n = size();
    if (n == 0) return;
    if (out == nullptr) detail::fail("float4_tensor::dequantize_to: null output");
    const float* table = float4_table(kind_);
    // One chunk of whole blocks per thread (at least 16 Ki elements each): a large output reaches
    // the kernel in large pieces, and a piece of float4_stream_min floats or more into an aligned
    // output is written past the caches (kernels/float4.hpp). (dequantize()'s Eigen matrix is
    // 16-byte aligned in builds without AVX-512 flags: dequantize_to an aligned buffer to stream.)
    const index_t threads = std::max<index_t>(1, ctx.threads);
    const index_t share = (n + threads - 1) / threads;
    const index_t per = std::max<index_t>(std::max<index_t>(1, (index_t{1} << 14) / block_), (share + block_ - 1) / block_) * block_;
    const index_t chunks = (n + per - 1) / per;
    ctx.run(chunks, [&](index_t c) {
      const index_t lo = c * per, cnt = std::min(per, n - lo);
      kernels::dequantize_float4(ctx.path, packed_.data() + lo / 2, cnt, table, absmax_.data() + lo / block_, block_,
                                 out + lo);
    });
  }
  /// rows() x cols() floats.
  row_matrix dequantize(const context& ctx = {}) const {
    row_matrix m(rows(), cols());
    dequantize_to(m.data(), ctx);
    return m;
  }

 private:
  void check_layout(const char* what) const {
    if (shape_.empty()) detail::fail(what, ": the shape needs at least one dimension");
    detail::checked_size(shape_, what);
    if (block_ <= 0 || block_ % 2 != 0)
      detail::fail(what, ": block ", block_, " must be positive and even (blocks start on a byte)");
  }
  void check_parts(const char* what) const {
    if (static_cast<index_t>(packed_.size()) != (size() + 1) / 2)
      detail::fail(what, ": ", size(), " codes need ", (size() + 1) / 2, " bytes, got ", packed_.size());
    if (static_cast<index_t>(absmax_.size()) != blocks())
      detail::fail(what, ": ", blocks(), " blocks need ", blocks(), " absmax values, got ", absmax_.size());
    // Double quantization can bring a small absmax slightly below zero (as in bitsandbytes).
    for (std::size_t i = 0; i < absmax_.size(); ++i)
      if (!std::isfinite(absmax_[i]) || (!double_quant_ && absmax_[i] < 0))
        detail::fail(what, ": absmax[", i, "] = ", absmax_[i], " is not a finite non-negative float");
  }

  // Double quantization of absmax_ (see the file comment); absmax_ becomes its dequantized value.
  void compress_absmax(index_t nested_block) {
    const float4_nested_absmax r = double_quantize_absmax(absmax_, nested_block);
    absmax_codes_ = r.codes;
    nested_scale_ = r.scale;
    offset_ = r.offset;
    nested_block_ = r.block;
    double_quant_ = true;
    absmax_ = r.dequantize();
  }
  void expand_absmax() {
    float4_nested_absmax r;
    r.codes = absmax_codes_;
    r.scale = nested_scale_;
    r.offset = offset_;
    r.block = nested_block_;
    absmax_ = r.dequantize();
  }

  std::vector<index_t> shape_;
  float4_kind kind_ = float4_kind::nf4;
  index_t block_ = 64;
  std::vector<std::uint8_t> packed_;
  std::vector<float> absmax_;
  std::vector<std::uint8_t> absmax_codes_;
  std::vector<float> nested_scale_;
  float offset_ = 0.0f;
  index_t nested_block_ = 256;
  bool double_quant_ = false;
};

LOWBIT_NAMESPACE_END
