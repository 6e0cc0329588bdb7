// lowbit/kernels/gemm_avx512.hpp: the zmm output stage shared by the AVX-512 kernels, and the int8 GEMM micro-kernel for AVX-512BW (no VNNI).
//
// finish_vector applies the output stage to 16 int32 sums in a zmm register, operation by
// operation as kernels/gemm_scalar.hpp's store_output does (so bit for bit): the compensation
// acc - offset * colsum (vpmulld, modulo 2^32), float(acc) (vcvtdq2ps, round to nearest), the
// product sa * sw, fma with the bias, max(lo, y) then min(hi, y) in the operand order that keeps
// std::max / std::min's choice between +0 and -0, the reciprocal multiply and vcvtps2dq (round half
// to even) for requantization. Partial tiles use masked loads and stores.
//
// The AVX-512BW kernel is exact by widening to int16, as the AVX2 kernel: each 32-byte half of a
// weight quad (8 columns x 4 depths) is sign-extended to 32 int16 (vpmovsxbw zmm), multiplied with
// the row's 4 int16 values a - za broadcast (vpmaddwd) and accumulated; lanes (2c, 2c+1) hold
// column c's two partial sums, joined at the end. Two accumulators per row and 8 rows: 16 of the 32
// zmm registers (with 12 rows GCC runs out of general registers for the row pointers and spills).
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "lowbit/config.hpp"
#include "lowbit/core/output_stages.hpp"
#include "lowbit/kernels/gemm_contract.hpp"
#include "lowbit/kernels/x86.hpp"
#include "lowbit/runtime/path.hpp"

#if LOWBIT_HAVE_X86_PATHS

LOWBIT_AVX512_DIAGNOSTICS_BEGIN

LOWBIT_NAMESPACE_BEGIN
namespace kernels {
namespace avx512 {

LOWBIT_TARGET_AVX512 LOWBIT_ALWAYS_INLINE __m512 float_vector(const output_float& f, __m512i acc, float a_scale,
                                                             const float* w_scale, const float* bias,
                                                             __mmask16 m) noexcept {
  const __m512 s = _mm512_mul_ps(_mm512_set1_ps(a_scale), _mm512_loadu_ps(w_scale));
  __m512 y = _mm512_cvtepi32_ps(acc);
  y = bias != nullptr && f.use_bias ? _mm512_fmadd_ps(y, s, _mm512_maskz_loadu_ps(m, bias)) : _mm512_mul_ps(y, s);
  // std::max(y, lo) is y unless y < lo: vmaxps returns its second operand when they compare equal.
  y = _mm512_max_ps(_mm512_set1_ps(f.lo), y);
  return _mm512_min_ps(_mm512_set1_ps(f.hi), y);
}

/// Carries or finishes 16 columns (from column c0 of the tile) of row r.
template <class Stage>
LOWBIT_TARGET_AVX512 LOWBIT_ALWAYS_INLINE void finish_vector(__m512i acc, int r, index_t c0,
                                                            const tile_output<Stage>& o) noexcept {
  if (c0 >= o.cols) return;
  const index_t n = std::min<index_t>(16, o.cols - c0);
  const auto m = static_cast<__mmask16>(n == 16 ? 0xFFFFu : (1u << n) - 1u);
  if (!o.first) acc = _mm512_add_epi32(acc, _mm512_maskz_loadu_epi32(m, o.partial + r * o.ldp + c0));
  if (!o.last) {
    _mm512_mask_storeu_epi32(o.partial + r * o.ldp + c0, m, acc);
    return;
  }
  const std::int32_t off = o.offset[r];
  if (off != 0) acc = _mm512_sub_epi32(acc, _mm512_mullo_epi32(_mm512_set1_epi32(off), _mm512_loadu_si512(o.colsum + c0)));
  auto* out = o.out + r * o.ldo + c0;
  const float* bias = o.bias != nullptr ? o.bias + c0 : nullptr;
  if constexpr (std::is_same_v<Stage, output_int32>) {
    _mm512_mask_storeu_epi32(out, m, acc);
  } else if constexpr (std::is_same_v<Stage, output_float>) {
    _mm512_mask_storeu_ps(out, m, float_vector(*o.stage, acc, o.a_scale[r], o.w_scale + c0, bias, m));
  } else {
    using F = typename Stage::format;
    const Stage& q = *o.stage;
    __m512 v = _mm512_mul_ps(float_vector(q.pre, acc, o.a_scale[r], o.w_scale + c0, bias, m),
                             _mm512_set1_ps(1.0f / q.scale));
    v = _mm512_max_ps(_mm512_set1_ps(static_cast<float>(F::qmin - q.zero_point)), v);
    v = _mm512_min_ps(_mm512_set1_ps(static_cast<float>(F::qmax - q.zero_point)), v);
    const __m512i codes = _mm512_add_epi32(_mm512_cvtps_epi32(v), _mm512_set1_epi32(q.zero_point));
    _mm_mask_storeu_epi8(out, m, _mm512_cvtepi32_epi8(codes));
  }
}

/// Column c from lanes 2c and 2c + 1 of each half, both halves in column order.
LOWBIT_TARGET_AVX512 LOWBIT_ALWAYS_INLINE __m512i join_pairs(__m512i lo, __m512i hi) noexcept {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i s0 = _mm512_add_epi32(lo, _mm512_srli_epi64(lo, 32));
  const __m512i s1 = _mm512_add_epi32(hi, _mm512_srli_epi64(hi, 32));
  return _mm512_permutex2var_epi32(s0, even, s1);
}

template <int R, class Stage>
LOWBIT_TARGET_AVX512 void gemm_tile(const std::int16_t* a, index_t lda, const std::int8_t* panel, index_t kq,
                                    const tile_output<Stage>& o) noexcept {
  static_assert(R >= 1 && R <= 8, "the AVX-512BW tile handles 1 to 8 rows");
  // Named accumulators (see kernels/gemm_avx2.hpp for why).
#define LOWBIT_AVX512_DECLARE(r)                                                                   \
  __m512i c##r##0 = _mm512_setzero_si512(), c##r##1 = c##r##0;                                     \
  LOWBIT_KEEP_ZMM(c##r##0);                                                                        \
  LOWBIT_KEEP_ZMM(c##r##1);
  LOWBIT_AVX512_DECLARE(0) LOWBIT_AVX512_DECLARE(1) LOWBIT_AVX512_DECLARE(2) LOWBIT_AVX512_DECLARE(3)
  LOWBIT_AVX512_DECLARE(4) LOWBIT_AVX512_DECLARE(5) LOWBIT_AVX512_DECLARE(6) LOWBIT_AVX512_DECLARE(7)
#undef LOWBIT_AVX512_DECLARE
  const std::int8_t* b = panel;
  for (index_t q = 0; q < kq; ++q, b += 64) {
    const __m512i b0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b)));
    const __m512i b1 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32)));
    const std::int16_t* ar = a + 4 * q;
#define LOWBIT_AVX512_ROW(r)                                                                       \
  if constexpr (R > r) {                                                                           \
    const __m512i av = _mm512_broadcastq_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(ar + r * lda))); \
    c##r##0 = _mm512_add_epi32(c##r##0, _mm512_madd_epi16(av, b0));                                \
    c##r##1 = _mm512_add_epi32(c##r##1, _mm512_madd_epi16(av, b1));                                \
  }
    LOWBIT_AVX512_ROW(0) LOWBIT_AVX512_ROW(1) LOWBIT_AVX512_ROW(2) LOWBIT_AVX512_ROW(3)
    LOWBIT_AVX512_ROW(4) LOWBIT_AVX512_ROW(5) LOWBIT_AVX512_ROW(6) LOWBIT_AVX512_ROW(7)
#undef LOWBIT_AVX512_ROW
  }
#define LOWBIT_AVX512_FINISH(r) \
  if constexpr (R > r) finish_vector(join_pairs(c##r##0, c##r##1), r, 0, o);
  LOWBIT_AVX512_FINISH(0) LOWBIT_AVX512_FINISH(1) LOWBIT_AVX512_FINISH(2) LOWBIT_AVX512_FINISH(3)
  LOWBIT_AVX512_FINISH(4) LOWBIT_AVX512_FINISH(5) LOWBIT_AVX512_FINISH(6) LOWBIT_AVX512_FINISH(7)
#undef LOWBIT_AVX512_FINISH
}

struct gemm_micro_kernel {
  static constexpr kernel_path path = kernel_path::avx512;
  static constexpr index_t nr = 16, kr = 4;
  static constexpr a_layout packed_a = a_layout::s16;
  static constexpr int whole_mr = 8, parts = 1, split_mr = 0;
  static constexpr bool large_split = false;

  template <int R, int Parts, class Stage>
  static void tile(const std::int16_t* a, index_t lda, const std::int8_t* b, index_t kq,
                   const tile_output<Stage>& o) noexcept {
    static_assert(Parts == 1, "the AVX-512BW kernel's tiles are whole");
    gemm_tile<R>(a, lda, b, kq, o);
  }
};

}  // namespace avx512

avx512::gemm_micro_kernel gemm_kernel(paths::avx512);
}  // namespace kernels
LOWBIT_NAMESPACE_END

LOWBIT_AVX512_DIAGNOSTICS_END

#endif  // LOWBIT_HAVE_X86_PATHS
