// lowbit/kernels/gemm_avx2.hpp: the ymm output stage shared by the AVX2-class kernels, and the int8 GEMM micro-kernels for AVX2: exact, and 7-bit.
//
// finish_vector8 applies the output stage to 8 int32 sums in a ymm register, operation by
// operation as kernels/gemm_scalar.hpp's store_output does (see kernels/gemm_avx512.hpp for the
// details that keep it bit for bit).
//
// Exact kernel (any 8-bit activations). Packed A holds a - za as int16 (|a - za| <= 255). Each
// 16-byte quarter of a weight quad (4 columns x 4 depths) is sign-extended to int16 (vpmovsxbw) and
// multiplied by the row's 4 values broadcast (vpbroadcastq) with vpmaddwd: lanes (2c, 2c+1) receive
// the two partial sums of column c, which a final vphaddd joins. vpmaddwd adds two products of at
// most 255 * 128 into int32, so nothing saturates. Tiles: up to 6 rows against one 8-column half of
// a panel (12 accumulators, 2 widened weight registers, 1 broadcast: 15 of the 16 ymm registers),
// run on both halves; 1-2 rows against the whole panel (up to 8 accumulators), so a GEMV reads each
// weight byte once.
//
// 7-bit kernel (activation codes in [0, 127], format uint7, opt-in). vpmaddubsw multiplies
// unsigned by signed bytes and adds pairs into int16 with saturation; with codes <= 127 and
// weights in [-128, 127] a pair is at most 2 * 127 * 128 = 32,512 < 32,767, so it never saturates
// and the fast instruction is exact. Packed A is the codes themselves (u8 layout); per (row, 8
// columns) a quad costs vpmaddubsw + vpmaddwd (with ones) + vpaddd. Tiles: up to 6 rows x 16
// columns (12 accumulators).
//
// The accumulators are named variables, each starting from an opaque zero (LOWBIT_KEEP_YMM):
// with arrays, or with zeros GCC can see are equal, GCC 12 merges the initial values and then
// spills every accumulator to the stack on each iteration.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "lowbit/config.hpp"
#include "lowbit/core/output_stages.hpp"
#include "lowbit/kernels/gemm_contract.hpp"
#include "lowbit/kernels/x86.hpp"
#include "lowbit/runtime/path.hpp"

#if LOWBIT_HAVE_X86_PATHS

LOWBIT_NAMESPACE_BEGIN
namespace kernels {
namespace avx2 {

/// Lanes j < n set (the mask vpmaskmov takes).
LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE __m256i lane_mask(index_t n) noexcept {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE __m256 float_vector(const output_float& f, __m256i acc, float a_scale,
                                                           const float* w_scale, const float* bias,
                                                           __m256i mask) noexcept {
  const __m256 s = _mm256_mul_ps(_mm256_set1_ps(a_scale), _mm256_loadu_ps(w_scale));
  __m256 y = _mm256_cvtepi32_ps(acc);
  y = bias != nullptr && f.use_bias ? _mm256_fmadd_ps(y, s, _mm256_maskload_ps(bias, mask)) : _mm256_mul_ps(y, s);
  y = _mm256_max_ps(_mm256_set1_ps(f.lo), y);  // std::max(y, lo): y unless y < lo (vmaxps keeps its second operand on ties)
  return _mm256_min_ps(_mm256_set1_ps(f.hi), y);
}

/// Carries or finishes 8 columns (from column c0 of the tile) of row r.
template <class Stage>
LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE void finish_vector8(__m256i acc, int r, index_t c0,
                                                           const tile_output<Stage>& o) noexcept {
  if (c0 >= o.cols) return;
  const index_t n = std::min<index_t>(8, o.cols - c0);
  const __m256i mask = lane_mask(n);
  if (!o.first) acc = _mm256_add_epi32(acc, _mm256_maskload_epi32(o.partial + r * o.ldp + c0, mask));
  if (!o.last) {
    _mm256_maskstore_epi32(o.partial + r * o.ldp + c0, mask, acc);
    return;
  }
  const std::int32_t off = o.offset[r];
  if (off != 0)
    acc = _mm256_sub_epi32(acc, _mm256_mullo_epi32(_mm256_set1_epi32(off),
                                                   _mm256_loadu_si256(reinterpret_cast<const __m256i*>(o.colsum + c0))));
  auto* out = o.out + r * o.ldo + c0;
  const float* bias = o.bias != nullptr ? o.bias + c0 : nullptr;
  if constexpr (std::is_same_v<Stage, output_int32>) {
    _mm256_maskstore_epi32(out, mask, acc);
  } else if constexpr (std::is_same_v<Stage, output_float>) {
    _mm256_maskstore_ps(out, mask, float_vector(*o.stage, acc, o.a_scale[r], o.w_scale + c0, bias, mask));
  } else {
    using F = typename Stage::format;
    const Stage& q = *o.stage;
    __m256 v = _mm256_mul_ps(float_vector(q.pre, acc, o.a_scale[r], o.w_scale + c0, bias, mask),
                             _mm256_set1_ps(1.0f / q.scale));
    v = _mm256_max_ps(_mm256_set1_ps(static_cast<float>(F::qmin - q.zero_point)), v);
    v = _mm256_min_ps(_mm256_set1_ps(static_cast<float>(F::qmax - q.zero_point)), v);
    const __m256i codes = _mm256_add_epi32(_mm256_cvtps_epi32(v), _mm256_set1_epi32(q.zero_point));
    // The low byte of each lane (two's complement for int8) into the low 8 bytes.
    const __m256i bytes = _mm256_shuffle_epi8(codes, _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                                                     0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1));
    const __m128i packed = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1)));
    if (n == 8) {
      _mm_storel_epi64(reinterpret_cast<__m128i*>(out), packed);
    } else {
      alignas(16) std::uint8_t tmp[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(tmp), packed);
      std::memcpy(out, tmp, static_cast<std::size_t>(n));
    }
  }
}

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
LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE __m256i join_pairs(__m256i lo, __m256i hi) noexcept {
  return _mm256_permutevar8x32_epi32(_mm256_hadd_epi32(lo, hi), _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7));
}

/// R (<= 6) rows against 8 columns: one half of a panel (b points at the half's first column).
template <int R, class Stage>
LOWBIT_TARGET_AVX2 void tile_half(const std::int16_t* a, index_t lda, const std::int8_t* b, index_t kq,
                                  const tile_output<Stage>& o) noexcept {
  static_assert(R >= 1 && R <= 6, "tile_half handles 1 to 6 rows");
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256i c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  LOWBIT_KEEP_YMM(c00); LOWBIT_KEEP_YMM(c01); LOWBIT_KEEP_YMM(c10); LOWBIT_KEEP_YMM(c11);
  LOWBIT_KEEP_YMM(c20); LOWBIT_KEEP_YMM(c21); LOWBIT_KEEP_YMM(c30); LOWBIT_KEEP_YMM(c31);
  LOWBIT_KEEP_YMM(c40); LOWBIT_KEEP_YMM(c41); LOWBIT_KEEP_YMM(c50); LOWBIT_KEEP_YMM(c51);
  for (index_t q = 0; q < kq; ++q, b += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(b + 512), _MM_HINT_T0);  // 8 quads ahead
    const __m256i b0 = widen16(b), b1 = widen16(b + 16);
    const std::int16_t* ar = a + 4 * q;
#define LOWBIT_AVX2_ROW(r)                                                                         \
  if constexpr (R > r) {                                                                           \
    const __m256i av = broadcast4(ar + r * lda);                                                   \
    c##r##0 = madd_acc(c##r##0, av, b0);                                                           \
    c##r##1 = madd_acc(c##r##1, av, b1);                                                           \
  }
    LOWBIT_AVX2_ROW(0) LOWBIT_AVX2_ROW(1) LOWBIT_AVX2_ROW(2)
    LOWBIT_AVX2_ROW(3) LOWBIT_AVX2_ROW(4) LOWBIT_AVX2_ROW(5)
#undef LOWBIT_AVX2_ROW
  }
  finish_vector8(join_pairs(c00, c01), 0, 0, o);
  if constexpr (R > 1) finish_vector8(join_pairs(c10, c11), 1, 0, o);
  if constexpr (R > 2) finish_vector8(join_pairs(c20, c21), 2, 0, o);
  if constexpr (R > 3) finish_vector8(join_pairs(c30, c31), 3, 0, o);
  if constexpr (R > 4) finish_vector8(join_pairs(c40, c41), 4, 0, o);
  if constexpr (R > 5) finish_vector8(join_pairs(c50, c51), 5, 0, o);
}

/// R (<= 2) rows against a whole panel.
template <int R, class Stage>
LOWBIT_TARGET_AVX2 void tile_full(const std::int16_t* a, index_t lda, const std::int8_t* b, index_t kq,
                                  const tile_output<Stage>& o) noexcept {
  static_assert(R >= 1 && R <= 2, "tile_full handles 1 or 2 rows");
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c02 = c00, c03 = c00;
  __m256i c10 = c00, c11 = c00, c12 = c00, c13 = c00;
  LOWBIT_KEEP_YMM(c00); LOWBIT_KEEP_YMM(c01); LOWBIT_KEEP_YMM(c02); LOWBIT_KEEP_YMM(c03);
  LOWBIT_KEEP_YMM(c10); LOWBIT_KEEP_YMM(c11); LOWBIT_KEEP_YMM(c12); LOWBIT_KEEP_YMM(c13);
  for (index_t q = 0; q < kq; ++q, b += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(b + 512), _MM_HINT_T0);
    const __m256i b0 = widen16(b), b1 = widen16(b + 16), b2 = widen16(b + 32), b3 = widen16(b + 48);
    const __m256i a0 = broadcast4(a + 4 * q);
    c00 = madd_acc(c00, a0, b0);
    c01 = madd_acc(c01, a0, b1);
    c02 = madd_acc(c02, a0, b2);
    c03 = madd_acc(c03, a0, b3);
    if constexpr (R > 1) {
      const __m256i a1 = broadcast4(a + lda + 4 * q);
      c10 = madd_acc(c10, a1, b0);
      c11 = madd_acc(c11, a1, b1);
      c12 = madd_acc(c12, a1, b2);
      c13 = madd_acc(c13, a1, b3);
    }
  }
  finish_vector8(join_pairs(c00, c01), 0, 0, o);
  finish_vector8(join_pairs(c02, c03), 0, 8, o);
  if constexpr (R > 1) {
    finish_vector8(join_pairs(c10, c11), 1, 0, o);
    finish_vector8(join_pairs(c12, c13), 1, 8, o);
  }
}

struct gemm_micro_kernel {
  static constexpr kernel_path path = kernel_path::avx2;
  static constexpr index_t nr = 16, kr = 4;
  static constexpr a_layout packed_a = a_layout::s16;
  static constexpr int whole_mr = 2, parts = 2, split_mr = 6;
  static constexpr bool large_split = true;

  template <int R, int Parts, class Stage>
  static void tile(const std::int16_t* a, index_t lda, const std::int8_t* b, index_t kq,
                   const tile_output<Stage>& o) noexcept {
    if constexpr (Parts == 1) {
      tile_full<R>(a, lda, b, kq, o);
    } else {
      tile_half<R>(a, lda, b, kq, o);
    }
  }
};

// --- 7-bit activations: vpmaddubsw, exact for codes <= 127 -----------------------------------

LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE __m256i broadcast_quad(const std::uint8_t* p) noexcept {
  std::int32_t quad;
  std::memcpy(&quad, p, 4);
  return _mm256_set1_epi32(quad);
}

/// acc + the 8 column sums of one quad: vpmaddubsw (pairs into int16, exact for codes <= 127),
/// vpmaddwd with ones (pairs of pairs into int32).
LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE __m256i dot7(__m256i acc, __m256i a, __m256i b, __m256i ones) noexcept {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), ones));
}

template <int R, class Stage>
LOWBIT_TARGET_AVX2 void tile_u7(const std::uint8_t* a, index_t lda, const std::int8_t* b, index_t kq,
                                const tile_output<Stage>& o) noexcept {
  static_assert(R >= 1 && R <= 6, "a 7-bit tile has 1 to 6 rows");
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256i c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  LOWBIT_KEEP_YMM(c00); LOWBIT_KEEP_YMM(c01); LOWBIT_KEEP_YMM(c10); LOWBIT_KEEP_YMM(c11);
  LOWBIT_KEEP_YMM(c20); LOWBIT_KEEP_YMM(c21); LOWBIT_KEEP_YMM(c30); LOWBIT_KEEP_YMM(c31);
  LOWBIT_KEEP_YMM(c40); LOWBIT_KEEP_YMM(c41); LOWBIT_KEEP_YMM(c50); LOWBIT_KEEP_YMM(c51);
  const __m256i ones = _mm256_set1_epi16(1);
  for (index_t q = 0; q < kq; ++q, b += 64, a += 4) {
    _mm_prefetch(reinterpret_cast<const char*>(b + 512), _MM_HINT_T0);
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32));
#define LOWBIT_AVX2_U7_ROW(r)                                                                      \
  if constexpr (R > r) {                                                                           \
    const __m256i av = broadcast_quad(a + r * lda);                                                \
    c##r##0 = dot7(c##r##0, av, b0, ones);                                                         \
    c##r##1 = dot7(c##r##1, av, b1, ones);                                                         \
  }
    LOWBIT_AVX2_U7_ROW(0) LOWBIT_AVX2_U7_ROW(1) LOWBIT_AVX2_U7_ROW(2)
    LOWBIT_AVX2_U7_ROW(3) LOWBIT_AVX2_U7_ROW(4) LOWBIT_AVX2_U7_ROW(5)
#undef LOWBIT_AVX2_U7_ROW
  }
#define LOWBIT_AVX2_U7_FINISH(r)                                                                   \
  if constexpr (R > r) {                                                                           \
    finish_vector8(c##r##0, r, 0, o);                                                              \
    finish_vector8(c##r##1, r, 8, o);                                                              \
  }
  LOWBIT_AVX2_U7_FINISH(0) LOWBIT_AVX2_U7_FINISH(1) LOWBIT_AVX2_U7_FINISH(2)
  LOWBIT_AVX2_U7_FINISH(3) LOWBIT_AVX2_U7_FINISH(4) LOWBIT_AVX2_U7_FINISH(5)
#undef LOWBIT_AVX2_U7_FINISH
}

/// The 7-bit kernel: for activations whose codes are in [0, 127] (gemm_kernel_for picks it).
struct gemm_u7_micro_kernel {
  static constexpr kernel_path path = kernel_path::avx2;
  static constexpr index_t nr = 16, kr = 4;
  static constexpr a_layout packed_a = a_layout::u8;
  static constexpr int whole_mr = 6, parts = 1, split_mr = 0;
  static constexpr bool large_split = false;

  template <int R, int Parts, class Stage>
  static void tile(const std::uint8_t* a, index_t lda, const std::int8_t* b, index_t kq,
                   const tile_output<Stage>& o) noexcept {
    static_assert(Parts == 1, "7-bit tiles are whole");
    tile_u7<R>(a, lda, b, kq, o);
  }
};

}  // namespace avx2

avx2::gemm_micro_kernel gemm_kernel(paths::avx2);
avx2::gemm_u7_micro_kernel gemm_kernel_7bit(paths::avx2);
}  // namespace kernels
LOWBIT_NAMESPACE_END

#endif  // LOWBIT_HAVE_X86_PATHS
