// lowbit/kernels/gemm_avx2.hpp: the int8 GEMM micro-kernel for AVX2, exact by widening to int16.
//
// Packed A holds a - za as int16 (|a - za| <= 255). Each 16-byte quarter of a weight quad (4
// columns x 4 depths) is sign-extended to int16 (vpmovsxbw) and multiplied by the row's 4 values
// broadcast (vpbroadcastq) with vpmaddwd: lanes (2c, 2c+1) receive the two partial sums of column
// c, which a final vphaddd joins. vpmaddwd adds two products of at most 255 * 128 into int32, so
// nothing saturates (vpmaddubsw, which saturates at 32767, is not used).
//
// Tiles: up to 6 rows against one 8-column half of a panel (12 accumulators, 2 widened weight
// registers, 1 broadcast: 15 of the 16 ymm registers), called twice per panel; 1-2 rows against
// the whole panel at once (up to 8 accumulators), so a GEMV reads each weight byte once.
//
// The accumulators are named variables, each starting from an opaque zero (LOWBIT_KEEP_YMM):
// with arrays, or with zeros GCC can see are equal, GCC 12 merges the initial values and then
// spills every accumulator to the stack on each iteration.
#pragma once

#include <cstdint>

#include "lowbit/config.hpp"
#include "lowbit/kernels/gemm_contract.hpp"
#include "lowbit/kernels/x86.hpp"
#include "lowbit/runtime/path.hpp"

#if LOWBIT_HAVE_X86_PATHS

LOWBIT_NAMESPACE_BEGIN
namespace kernels {
namespace avx2 {

LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE __m256i broadcast4(const std::int16_t* p) noexcept {
  return _mm256_broadcastq_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}
LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE __m256i widen16(const std::int8_t* p) noexcept {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE __m256i madd_acc(__m256i acc, __m256i a, __m256i b) noexcept {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
}
/// Columns 4g .. 4g + 7 from the accumulators of groups g and g + 1 (lanes 2c, 2c + 1 per column).
LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE void store8(std::int32_t* out, __m256i lo, __m256i hi) noexcept {
  const __m256i s = _mm256_permutevar8x32_epi32(_mm256_hadd_epi32(lo, hi), _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), s);
}

/// Raw sums of MR (<= 6) rows against columns [8 * half, 8 * half + 8) of a panel.
template <int MR>
LOWBIT_TARGET_AVX2 void tile_half(const std::int16_t* a, index_t lda, const std::int8_t* panel,
                                  int half, index_t kq, std::int32_t* out) noexcept {
  static_assert(MR >= 1 && MR <= 6, "tile_half handles 1 to 6 rows");
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256i c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  LOWBIT_KEEP_YMM(c00); LOWBIT_KEEP_YMM(c01); LOWBIT_KEEP_YMM(c10); LOWBIT_KEEP_YMM(c11);
  LOWBIT_KEEP_YMM(c20); LOWBIT_KEEP_YMM(c21); LOWBIT_KEEP_YMM(c30); LOWBIT_KEEP_YMM(c31);
  LOWBIT_KEEP_YMM(c40); LOWBIT_KEEP_YMM(c41); LOWBIT_KEEP_YMM(c50); LOWBIT_KEEP_YMM(c51);
  const std::int8_t* b = panel + half * 32;
  for (index_t q = 0; q < kq; ++q, b += 64) {
    const __m256i b0 = widen16(b), b1 = widen16(b + 16);
    const std::int16_t* ar = a + 4 * q;
#define LOWBIT_AVX2_ROW(r)                                                                         \
  if constexpr (MR > r) {                                                                          \
    const __m256i av = broadcast4(ar + r * lda);                                                   \
    c##r##0 = madd_acc(c##r##0, av, b0);                                                           \
    c##r##1 = madd_acc(c##r##1, av, b1);                                                           \
  }
    LOWBIT_AVX2_ROW(0) LOWBIT_AVX2_ROW(1) LOWBIT_AVX2_ROW(2)
    LOWBIT_AVX2_ROW(3) LOWBIT_AVX2_ROW(4) LOWBIT_AVX2_ROW(5)
#undef LOWBIT_AVX2_ROW
  }
  std::int32_t* o = out + half * 8;
  store8(o, c00, c01);
  if constexpr (MR > 1) store8(o + 16, c10, c11);
  if constexpr (MR > 2) store8(o + 32, c20, c21);
  if constexpr (MR > 3) store8(o + 48, c30, c31);
  if constexpr (MR > 4) store8(o + 64, c40, c41);
  if constexpr (MR > 5) store8(o + 80, c50, c51);
}

/// Raw sums of MR (<= 2) rows against a whole panel.
template <int MR>
LOWBIT_TARGET_AVX2 void tile_full(const std::int16_t* a, index_t lda, const std::int8_t* panel,
                                  index_t kq, std::int32_t* out) noexcept {
  static_assert(MR >= 1 && MR <= 2, "tile_full handles 1 or 2 rows");
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c02 = c00, c03 = c00;
  __m256i c10 = c00, c11 = c00, c12 = c00, c13 = c00;
  LOWBIT_KEEP_YMM(c00); LOWBIT_KEEP_YMM(c01); LOWBIT_KEEP_YMM(c02); LOWBIT_KEEP_YMM(c03);
  LOWBIT_KEEP_YMM(c10); LOWBIT_KEEP_YMM(c11); LOWBIT_KEEP_YMM(c12); LOWBIT_KEEP_YMM(c13);
  const std::int8_t* b = panel;
  for (index_t q = 0; q < kq; ++q, b += 64) {
    const __m256i b0 = widen16(b), b1 = widen16(b + 16), b2 = widen16(b + 32), b3 = widen16(b + 48);
    const __m256i a0 = broadcast4(a + 4 * q);
    c00 = madd_acc(c00, a0, b0);
    c01 = madd_acc(c01, a0, b1);
    c02 = madd_acc(c02, a0, b2);
    c03 = madd_acc(c03, a0, b3);
    if constexpr (MR > 1) {
      const __m256i a1 = broadcast4(a + lda + 4 * q);
      c10 = madd_acc(c10, a1, b0);
      c11 = madd_acc(c11, a1, b1);
      c12 = madd_acc(c12, a1, b2);
      c13 = madd_acc(c13, a1, b3);
    }
  }
  store8(out, c00, c01);
  store8(out + 8, c02, c03);
  if constexpr (MR > 1) {
    store8(out + 16, c10, c11);
    store8(out + 24, c12, c13);
  }
}

struct gemm_micro_kernel {
  static constexpr kernel_path path = kernel_path::avx2;
  static constexpr int mr = 6;
  static constexpr index_t nr = 16, kr = 4;
  static constexpr a_layout packed_a = a_layout::s16;

  /// Raw sums of an MR x 16 tile, out[r * 16 + column].
  template <int MR>
  static void tile(const std::int16_t* a, index_t lda, const std::int8_t* panel, index_t kq,
                   std::int32_t* out) noexcept {
    if constexpr (MR <= 2) {
      tile_full<MR>(a, lda, panel, kq, out);
    } else {
      tile_half<MR>(a, lda, panel, 0, kq, out);
      tile_half<MR>(a, lda, panel, 1, kq, out);
    }
  }
};

}  // namespace avx2

avx2::gemm_micro_kernel gemm_kernel(paths::avx2);
}  // namespace kernels
LOWBIT_NAMESPACE_END

#endif  // LOWBIT_HAVE_X86_PATHS
