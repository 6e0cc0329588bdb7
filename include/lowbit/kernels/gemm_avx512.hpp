// lowbit/kernels/gemm_avx512.hpp: the int8 GEMM micro-kernel for AVX-512BW (no VNNI), exact by widening to int16.
//
// As the AVX2 kernel, one register wider: each 32-byte half of a weight quad (8 columns x 4 depths)
// is sign-extended to 32 int16 (vpmovsxbw zmm), multiplied with the row's 4 int16 values a - za
// broadcast (vpmaddwd) and accumulated; lanes (2c, 2c+1) hold column c's two partial sums, joined at
// the end. Two accumulators per row, MR = 12 rows (24 of the 32 zmm registers).
#pragma once

#include <cstdint>

#include "lowbit/config.hpp"
#include "lowbit/kernels/detail/x86_intrinsics.hpp"

#if LOWBIT_HAVE_X86_PATHS

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push  // GCC 12's false -Wuninitialized on _mm512_undefined_* (bug 105593)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

LOWBIT_NAMESPACE_BEGIN
namespace kernels {
namespace gemm_avx512 {

inline constexpr int mr = 12;

template <int MR>
LOWBIT_TARGET_AVX512 void tile(const std::int16_t* a, index_t lda, const std::int8_t* panel,
                               index_t kq, std::int32_t* out) noexcept {
  __m512i acc[MR][2];
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
  const std::int8_t* b = panel;
  for (index_t q = 0; q < kq; ++q, b += 64) {
    const __m512i b0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b)));
    const __m512i b1 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32)));
    for (int r = 0; r < MR; ++r) {
      const __m512i av = _mm512_broadcastq_epi64(
          _mm_loadl_epi64(reinterpret_cast<const __m128i*>(a + r * lda + 4 * q)));
      acc[r][0] = _mm512_add_epi32(acc[r][0], _mm512_madd_epi16(av, b0));
      acc[r][1] = _mm512_add_epi32(acc[r][1], _mm512_madd_epi16(av, b1));
    }
  }
  // Lane 2c + (lane 2c + 1) -> column c, then the even lanes of both halves in column order.
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  for (int r = 0; r < MR; ++r) {
    const __m512i s0 = _mm512_add_epi32(acc[r][0], _mm512_srli_epi64(acc[r][0], 32));
    const __m512i s1 = _mm512_add_epi32(acc[r][1], _mm512_srli_epi64(acc[r][1], 32));
    _mm512_storeu_si512(out + r * 16, _mm512_permutex2var_epi32(s0, even, s1));
  }
}

}  // namespace gemm_avx512
}  // namespace kernels
LOWBIT_NAMESPACE_END

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif  // LOWBIT_HAVE_X86_PATHS
