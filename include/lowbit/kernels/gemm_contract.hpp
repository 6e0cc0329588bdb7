// lowbit/kernels/gemm_contract.hpp: the int8 GEMM's vocabulary, defined once, and what every path's micro-kernel states about itself.
//
//   C = stage(A W^T)      A: M x K activations (rows are tokens), W: N x K weights ([out, in]),
//                         C: M x N; acc[m][n] = sum_k (a[m][k] - za[m]) * w[n][k], exact in int32
//   K                     depth; exact for K <= gemm_max_k (gemm/packed_weights.hpp gives the bound)
//   KR                    depth group: KR = 4 consecutive k of one column, stored together (one
//                         32-bit lane of vpdpbusd, vpmaddwd's pair of pairs, NEON's sdot)
//   quad                  one depth group; a row of packed A holds kq = ceil(K / KR) quads
//   lanes                 int32 lanes of the path's vector: 16 (zmm), 8 (ymm), 4 (NEON)
//   NR                    columns of one weight panel: NV vectors of lanes
//   panel                 NR columns of packed W over the whole padded depth; quad q of a panel is
//                         NR x KR bytes, column j's KR bytes at offset (q * NR + j) * KR
//   MR                    rows of A one micro-kernel call handles
//   tile                  MR rows x (NR / parts) columns: one micro-kernel call. A "whole" tile
//                         covers the panel (parts = 1); a "split" tile covers one of `parts`
//                         equal column ranges, so that more rows fit in the registers while every
//                         weight byte is still read once per strip of rows
//   strip                 the rows one sequence of tiles covers
//   KC                    depth block: quads per micro-kernel call. The driver splits K so that a
//                         strip's A (MR x KC) stays in L1 and a panel's KC x NR slice in L2, and
//                         carries the int32 sums from one block to the next in memory
//   panel block           panels one task runs its rows against
//   packed A              activations as the path's kernel reads them, see a_layout
//
// A path's micro-kernel is a type K with
//
//   static constexpr kernel_path path;           the path it is written for
//   static constexpr index_t nr, kr;             its weight layout (weight_layout{nr, kr})
//   static constexpr a_layout packed_a;          how packed A looks
//   static constexpr int whole_mr;               rows of a whole tile: R = 1 .. whole_mr
//   static constexpr int parts, split_mr;        split tiles: nr / parts columns, R = 1 .. split_mr
//                                                (parts = 1 and split_mr = 0: none)
//   static constexpr bool large_split;           strips of many rows use split tiles of split_mr
//                                                rows (else whole tiles of whole_mr rows)
//   template <int R, int Parts, class Stage>
//   static void tile(const A* a, index_t lda, const std::int8_t* b, index_t kq,
//                    const tile_output<Stage>& out) noexcept;
//       R rows of packed A from `a` (lda elements apart; for s8x4 the interleaved block of 4
//       rows), against nr / Parts columns of a panel starting at `b` (the panel's first quad of
//       the depth block, advanced to the part's first column; quads are nr * kr bytes apart), over
//       kq quads; then, as `out` says, either carries the int32 sums to the next depth block or
//       finishes the tile: subtracts (za + s) * column_sum where the layout shifted the codes and
//       applies the output stage, bit for bit as kernels/gemm_scalar.hpp does.
//
// Kernels are found by overload resolution on the path tags (kernels/gemm.hpp), so a path without
// its own kernel uses its nearest ancestor's.
#pragma once

#include <cstdint>

#include "lowbit/config.hpp"
#include "lowbit/runtime/path.hpp"

LOWBIT_NAMESPACE_BEGIN

/// How a packed weight matrix is laid out: panels of nr columns, depth groups of kr bytes.
struct weight_layout {
  index_t nr = 16;
  index_t kr = 4;
  friend bool operator==(const weight_layout& a, const weight_layout& b) { return a.nr == b.nr && a.kr == b.kr; }
  friend bool operator!=(const weight_layout& a, const weight_layout& b) { return !(a == b); }
};

/// How packed A looks for a path, with the shift s that turns codes into the bytes the kernel
/// multiplies (the kernel subtracts (za + s) * column_sum[n] from each raw sum):
///   s16   int16 a - za per row, K padded with zeros to KR (nothing to compensate: the offset is 0)
///   u8    uint8 a + s per row: uint8 codes as they are (s = 0), int8 codes + 128 (s = 128); rows
///         of unsigned codes whose K is a multiple of KR are read in place, without a copy
///   s8x4  int8 a + s, 4 rows interleaved per quad (16 bytes: row 0's 4 bytes, row 1's, ...):
///         int8 codes as they are (s = 0), uint8 codes - 128 (s = -128)
enum class a_layout { s16, u8, s8x4 };

namespace kernels {

/// What a micro-kernel call needs to finish its tile, or to carry its sums to the next depth
/// block. Pointers are at the tile's first row (per-row values) and first column (per-column
/// values); per-column arrays other than the bias are padded to whole panels.
template <class Stage>
struct tile_output {
  const Stage* stage = nullptr;
  const std::int32_t* offset = nullptr;  ///< per row: (za + s), times the column sums to subtract
  const float* a_scale = nullptr;        ///< per row
  const std::int32_t* colsum = nullptr;  ///< per column: sum over k of the weight codes
  const float* w_scale = nullptr;        ///< per column
  const float* bias = nullptr;           ///< per column (the `cols` valid ones), or nullptr: no bias
  index_t cols = 0;                      ///< valid columns of this tile (the last panel may be short)
  typename Stage::value_type* out = nullptr;
  index_t ldo = 0;
  std::int32_t* partial = nullptr;  ///< int32 sums between depth blocks, row stride ldp
  index_t ldp = 0;
  bool first = true;  ///< the first depth block: sums start at zero (else from `partial`)
  bool last = true;   ///< the last depth block: finish (else store the sums to `partial`)
};

}  // namespace kernels
LOWBIT_NAMESPACE_END
