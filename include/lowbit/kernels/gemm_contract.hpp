// lowbit/kernels/gemm_contract.hpp: the int8 GEMM's vocabulary, defined once, and what every path's micro-kernel states about itself.
//
//   C = stage(A W^T)      A: M x K activations (rows are tokens), W: N x K weights ([out, in]),
//                         C: M x N; acc[m][n] = sum_k (a[m][k] - za[m]) * w[n][k], exact in int32
//   K                     depth; exact for K <= gemm_max_k (gemm/packed_weights.hpp gives the bound)
//   KR                    depth group: KR = 4 consecutive k of one column, stored together (one
//                         32-bit lane of vpdpbusd, vpmaddwd's pair of pairs, NEON's sdot)
//   quad                  one depth group; a row of packed A holds kq = ceil(K / KR) quads
//   NR                    columns of one weight panel: NV vectors of the path's int32 lanes
//   panel                 NR columns of packed W over the whole padded depth; quad q of a panel is
//                         NR x KR bytes, column j's KR bytes at offset (q * NR + j) * KR
//   MR                    rows of A one micro-kernel call handles
//   tile                  MR x NR outputs: one micro-kernel call
//   KC                    depth block: quads per micro-kernel call (the driver splits K so that an
//                         MR x KC strip of A stays in L1 and a KC x NR slice of a panel in L2)
//   panel block           panels one task runs its rows against, sized for L2
//   packed A              activations rearranged for the path, see a_layout
//
// A path's micro-kernel is a type with
//
//   static constexpr kernel_path path;      the path it is written for
//   static constexpr int mr;                largest MR; tile<R> handles R = 1 .. mr rows
//   static constexpr index_t nr, kr;        its weight layout (weight_layout{nr, kr})
//   static constexpr a_layout packed_a;     how packed A looks
//   template <int R> static void tile(const A* a, index_t lda, const std::int8_t* panel,
//                                     index_t kq, std::int32_t* out) noexcept;
//                                           raw sums of R rows against one panel over kq quads,
//                                           out[r * nr + j]; the driver compensates the sign shift
//                                           and zero points with the column sums and applies the
//                                           output stage
//
// and is found by overload resolution on the path tags, so a path without its own kernel uses its
// nearest ancestor's:  `decltype(gemm_kernel(paths::avx512vnni{}))`.
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
/// multiplies (the driver subtracts (za + s) * column_sum[n] from each raw sum):
///   s16   int16 a - za per row, K padded with zeros to KR (s = -za: nothing to compensate)
///   u8    uint8 a + s per row: uint8 codes as they are (s = 0), int8 codes + 128 (s = 128)
///   s8x4  int8 a + s, 4 rows interleaved per quad (16 bytes: row 0's 4 bytes, row 1's, ...):
///         int8 codes as they are (s = 0), uint8 codes - 128 (s = -128)
enum class a_layout { s16, u8, s8x4 };

LOWBIT_NAMESPACE_END
