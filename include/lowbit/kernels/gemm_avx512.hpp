// lowbit/kernels/gemm_avx512.hpp: the int8 GEMM micro-kernel for AVX-512BW (no VNNI), exact by widening to int16.
//
// As the AVX2 kernel, one register wider: each 32-byte half of a weight quad (8 columns x 4 depths)
// is sign-extended to 32 int16 (vpmovsxbw zmm), multiplied with the row's 4 int16 values a - za
// broadcast (vpmaddwd) and accumulated; lanes (2c, 2c+1) hold column c's two partial sums, joined at
// the end. Two accumulators per row and MR = 8 rows: 16 of the 32 zmm registers (with 12 rows GCC
// runs out of general registers for the row pointers and spills).
#pragma once

#include <cstdint>

#include "lowbit/config.hpp"
#include "lowbit/kernels/gemm_contract.hpp"
#include "lowbit/kernels/x86.hpp"
#include "lowbit/runtime/path.hpp"

#if LOWBIT_HAVE_X86_PATHS

LOWBIT_AVX512_DIAGNOSTICS_BEGIN

LOWBIT_NAMESPACE_BEGIN
namespace kernels {
namespace avx512 {

/// Column c from lanes 2c and 2c + 1 of each half, both halves in column order.
LOWBIT_TARGET_AVX512 LOWBIT_ALWAYS_INLINE void store16(std::int32_t* out, __m512i lo, __m512i hi) noexcept {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i s0 = _mm512_add_epi32(lo, _mm512_srli_epi64(lo, 32));
  const __m512i s1 = _mm512_add_epi32(hi, _mm512_srli_epi64(hi, 32));
  _mm512_storeu_si512(out, _mm512_permutex2var_epi32(s0, even, s1));
}

template <int MR>
LOWBIT_TARGET_AVX512 void gemm_tile(const std::int16_t* a, index_t lda, const std::int8_t* panel,
                                    index_t kq, std::int32_t* out) noexcept {
  static_assert(MR >= 1 && MR <= 8, "the AVX-512BW tile handles 1 to 8 rows");
  // Named accumulators from opaque zeros (see kernels/gemm_avx2.hpp for why).
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
  if constexpr (MR > r) {                                                                          \
    const __m512i av = _mm512_broadcastq_epi64(                                                    \
        _mm_loadl_epi64(reinterpret_cast<const __m128i*>(ar + r * lda)));                          \
    c##r##0 = _mm512_add_epi32(c##r##0, _mm512_madd_epi16(av, b0));                                \
    c##r##1 = _mm512_add_epi32(c##r##1, _mm512_madd_epi16(av, b1));                                \
  }
    LOWBIT_AVX512_ROW(0) LOWBIT_AVX512_ROW(1) LOWBIT_AVX512_ROW(2) LOWBIT_AVX512_ROW(3)
    LOWBIT_AVX512_ROW(4) LOWBIT_AVX512_ROW(5) LOWBIT_AVX512_ROW(6) LOWBIT_AVX512_ROW(7)
#undef LOWBIT_AVX512_ROW
  }
#define LOWBIT_AVX512_STORE(r) \
  if constexpr (MR > r) store16(out + r * 16, c##r##0, c##r##1);
  LOWBIT_AVX512_STORE(0) LOWBIT_AVX512_STORE(1) LOWBIT_AVX512_STORE(2) LOWBIT_AVX512_STORE(3)
  LOWBIT_AVX512_STORE(4) LOWBIT_AVX512_STORE(5) LOWBIT_AVX512_STORE(6) LOWBIT_AVX512_STORE(7)
#undef LOWBIT_AVX512_STORE
}

struct gemm_micro_kernel {
  static constexpr kernel_path path = kernel_path::avx512;
  static constexpr int mr = 8;
  static constexpr index_t nr = 16, kr = 4;
  static constexpr a_layout packed_a = a_layout::s16;

  template <int MR>
  static void tile(const std::int16_t* a, index_t lda, const std::int8_t* panel, index_t kq,
                   std::int32_t* out) noexcept {
    gemm_tile<MR>(a, lda, panel, kq, out);
  }
};

}  // namespace avx512

avx512::gemm_micro_kernel gemm_kernel(paths::avx512);
}  // namespace kernels
LOWBIT_NAMESPACE_END

LOWBIT_AVX512_DIAGNOSTICS_END

#endif  // LOWBIT_HAVE_X86_PATHS
