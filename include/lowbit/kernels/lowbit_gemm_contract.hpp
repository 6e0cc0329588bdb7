// lowbit/kernels/lowbit_gemm_contract.hpp: the sub-byte weight GEMM's layout, arithmetic and kernel contract, defined once.
//
//   y[m][n] = stage( sa[m] * sum_g sum_{k in g} (w[n][k] - offset[n][g]) * d[n][g] * a[m][k] )
//
// Weights W [N, K] are codes of 2, 4 or 8 bits with groups of G consecutive k (G divides K, G a
// multiple of 4; "per channel" is one group of K padded to a multiple of 4). Each (column n,
// group g) has an fp16 scale d and an offset of one of three kinds (offset_kind):
//   symmetric    w = d * (u - z) with z fixed by the format (8 for int4, 2 for int2, 128 for int8)
//   zero_point   w = d * (u - zp[n][g]), zp an unsigned byte (affine formats)
//   min          w = d * u + mn[n][g], mn an fp16 value (llama.cpp's Q4_1)
// where u is the code stored unsigned: u = code - qmin (so int4 code -8 is u = 0), u in
// [0, 2^bits - 1]. Activations A [M, K] are int8 with one scale sa per row (symmetric, zero
// point 0: dynamic per-token quantization).
//
// The arithmetic, which every path follows operation for operation (so all paths are bit-identical
// to kernels/lowbit_gemm_scalar.hpp):
//   asum[m][g] = sum_{k in g} a[m][k]                                   (int32, exact)
//   isum       = sum_{k in g} (u[n][k] - o) * a[m][k]                   (int32, exact)
//                o = z (symmetric), zp[n][g] (zero_point), 0 (min)
//   facc       = 0;  for g = 0, 1, ...:                                  (float, groups in order)
//                facc = fma(float(isum), d[n][g], facc)
//                min kind: facc = fma(float(asum[m][g]), mn[n][g], facc)
//   y          = bias ? fma(facc, sa[m], bias[n]) : facc * sa[m];  then the clamp (and the
//                requantization) of output_float / output_requantized, as the int8 GEMM does.
// The integer sums are exact for G <= lowbit_max_group: |u - o| <= 255, |a| <= 128, and a kernel
// may reach isum through partial sums such as sum u a - o * asum, each within G * 255 * 128.
//
// Layout (NR = 64 columns per panel on every path; a path reads it with the vector width it has):
//   panel p     columns [64 p, 64 p + 64), N padded with zero columns
//   block       (panel p, group g), stored at p * groups * block_bytes + g * block_bytes:
//                 codes    G / 4 quads of 32 * bits bytes each
//                 scales   64 fp16 (column order)
//                 offsets  zero_point: 64 bytes (column order); min: 64 fp16; symmetric: none
//               block_bytes is a multiple of 64.
//   quad        4 consecutive k of 64 columns: 256 codes, stored as bits / 2 units of 64 bytes.
//               Unit t's byte i holds, in its bit field f (bits [f * bits, f * bits + bits)), the
//               code of column 16 v + i / 4 at depth 4 q + i % 4, for the zmm-vector
//               v = t * (8 / bits) + f. So one 64-byte load, a shift by f * bits and a mask give
//               the bytes of 16 columns x 4 depths in the order vpdpbusd (and sdot, vpmaddubsw)
//               read them: 4-bit units carry vectors 2t (low nibbles) and 2t + 1 (high nibbles),
//               2-bit units vectors 0 .. 3, 8-bit units one vector each. A 32-byte (ymm) or
//               16-byte (NEON) part of a unit carries the first, second (third, fourth) 8 or 4 of
//               each field's 16 columns.
#pragma once

#include <cstdint>

#include "lowbit/config.hpp"
#include "lowbit/core/output_stages.hpp"
#include "lowbit/runtime/path.hpp"

LOWBIT_NAMESPACE_BEGIN

/// How a (column, group) of sub-byte weights maps codes to values (see the header).
enum class offset_kind : int { symmetric = 0, zero_point = 1, min = 2 };

/// Largest group (depth summed exactly in int32): 65536 * 255 * 128 < 2^31.
inline constexpr index_t lowbit_max_group = 65536;

namespace kernels {

/// Columns of a sub-byte weight panel, on every path.
inline constexpr index_t lowbit_nr = 64;

/// Bytes of one group of one panel: codes, scales and offsets.
constexpr index_t lowbit_block_bytes(int bits, index_t group, offset_kind kind) noexcept {
  return group * 8 * bits + 2 * lowbit_nr + (kind == offset_kind::zero_point ? lowbit_nr : 0) +
         (kind == offset_kind::min ? 2 * lowbit_nr : 0);
}

/// Byte offset, within a block, of the code of column j (0 .. 63) at depth kk of the group, and
/// the shift of its bit field.
constexpr index_t lowbit_code_byte(int bits, index_t j, index_t kk, int& shift) noexcept {
  const int fields = 8 / bits;
  const index_t v = j / 16, unit = v / fields;
  shift = static_cast<int>(v % fields) * bits;
  return (kk / 4) * 32 * bits + unit * 64 + (j % 16) * 4 + kk % 4;
}

/// Where vector e (0 .. 64 / lanes - 1) of a quad comes from when a path reads the quad with
/// vectors of `lanes` int32 lanes (16 zmm, 8 ymm, 4 NEON): the byte offset of its slice of
/// 4 * lanes bytes, the shift of its bit field, and its first column (its lanes are columns
/// col .. col + lanes - 1). Slices are read in order and each gives 8 / bits vectors.
struct lowbit_slot {
  index_t offset = 0;
  int shift = 0;
  index_t col = 0;
};
constexpr lowbit_slot lowbit_vector_slot(int bits, int lanes, int e) noexcept {
  const int fields = 8 / bits, slices_per_unit = 16 / lanes;
  const int s = e / fields, f = e % fields;
  const int unit = s / slices_per_unit, part = s % slices_per_unit;
  return lowbit_slot{4 * lanes * s, f * bits, 16 * (unit * fields + f) + lanes * part};
}

/// What one micro-kernel call needs: R rows of activations against one panel over `groups` groups
/// (a depth block), carrying the float sums facc in memory between groups and blocks.
struct lowbit_tile_args {
  const std::int8_t* a = nullptr;    ///< row r's codes at a + r * lda, from the block's first k
  index_t lda = 0;
  const std::int32_t* asum = nullptr;  ///< row r's group sums at asum + r * ldsum, from the block's first group
  index_t ldsum = 0;
  const std::uint8_t* blocks = nullptr;  ///< the panel's block of the first group
  index_t block_bytes = 0;
  index_t groups = 0;        ///< groups in this call
  index_t group_quads = 0;   ///< G / 4
  offset_kind kind = offset_kind::symmetric;
  std::int32_t z = 0;        ///< the symmetric offset
  float* facc = nullptr;     ///< R x 64 floats, row r at facc + r * 64, zero before the first block
};

/// What the epilogue needs to turn a tile's float sums into outputs.
template <class Stage>
struct lowbit_tile_output {
  const Stage* stage = nullptr;
  const float* a_scale = nullptr;  ///< per row
  const float* bias = nullptr;     ///< per column (the `cols` valid ones), or nullptr
  index_t cols = 0;
  typename Stage::value_type* out = nullptr;
  index_t ldo = 0;
};

// A path's sub-byte kernel is a type K with
//   static constexpr kernel_path path;
//   static constexpr int mr;                      rows of a tile: R = 1 .. mr
//   template <int Bits, int R> static void tile(const lowbit_tile_args&) noexcept;
//   template <class Stage> static void finish(const float* facc, int rows, const lowbit_tile_output<Stage>&) noexcept;
// and optionally, for tasks of many rows, tiles on expanded codes:
//   static constexpr int wide_mr;                 rows of such a tile: R = 1 .. wide_mr
//   template <int Bits> static void expand(const lowbit_tile_args&, std::uint8_t* codes) noexcept;
//   template <int Bits, int R> static void wide_tile(const lowbit_tile_args&, const std::uint8_t* codes) noexcept;
// Expanded codes are the args' groups of the panel as bytes, 64-byte aligned: per group, per quad,
// 4 vectors of 64 bytes, vector v holding u of columns 16 v .. 16 v + 15 at the quad's 4 depths
// (byte 4 c + d: column 16 v + c, depth d). The driver expands each depth block once and runs
// every strip of the task on it; the arithmetic stays the contract's above.
// K is found by overload resolution on the path tags (lowbit_kernel(tag), kernels/lowbit_gemm.hpp).

}  // namespace kernels
LOWBIT_NAMESPACE_END
