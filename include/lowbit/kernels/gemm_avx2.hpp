// lowbit/kernels/gemm_avx2.hpp: the int8 GEMM micro-kernel for AVX2, exact by widening to int16.
//
// Packed A holds a - za as int16 (|a - za| <= 255). Each 16-byte quarter of a weight quad (4
// columns x 4 depths) is sign-extended to int16 (vpmovsxbw) and multiplied by the row's 4 values
// broadcast (vpbroadcastq) with vpmaddwd: lanes (2c, 2c+1) receive the two partial sums of column
// c, which a final vphaddd joins. vpmaddwd adds two products of at most 255 * 128 into int32, so
// nothing saturates (vpmaddubsw, which saturates at 32767, is not used).
//
// Tiles: MR <= 2 rows use the whole 16-column panel (4 x 2 accumulators); 3 <= MR <= 6 rows use
// one 8-column half of it per call (MR x 2 accumulators), keeping all 16 ymm registers busy.
#pragma once

#include <cstdint>
#include <cstring>

#include "lowbit/config.hpp"
#include "lowbit/kernels/detail/x86_intrinsics.hpp"

#if LOWBIT_HAVE_X86_PATHS

LOWBIT_NAMESPACE_BEGIN
namespace kernels {
namespace gemm_avx2 {

inline constexpr int mr = 6;

/// Raw sums of `MR` rows of packed A against columns [8 * half, 8 * half + 8 * NG / 2) of a panel
/// (NG groups of 4 columns), written to out[r * 16 + column].
template <int MR, int NG>
LOWBIT_TARGET_AVX2 void tile_part(const std::int16_t* a, index_t lda, const std::int8_t* panel,
                                  int half, index_t kq, std::int32_t* out) noexcept {
  static_assert(NG == 2 || NG == 4, "groups of 4 columns: a half panel (2) or a whole one (4)");
  __m256i acc[MR][NG];
  for (int r = 0; r < MR; ++r)
    for (int g = 0; g < NG; ++g) acc[r][g] = _mm256_setzero_si256();
  const std::int8_t* b = panel + half * 32;
  for (index_t q = 0; q < kq; ++q, b += 64) {
    __m256i bw[NG];
    for (int g = 0; g < NG; ++g)
      bw[g] = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16 * g)));
    for (int r = 0; r < MR; ++r) {
      const __m256i av = _mm256_broadcastq_epi64(
          _mm_loadl_epi64(reinterpret_cast<const __m128i*>(a + r * lda + 4 * q)));
      for (int g = 0; g < NG; ++g) acc[r][g] = _mm256_add_epi32(acc[r][g], _mm256_madd_epi16(av, bw[g]));
    }
  }
  const __m256i order = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
  for (int r = 0; r < MR; ++r) {
    for (int g = 0; g < NG; g += 2) {
      const __m256i s = _mm256_permutevar8x32_epi32(_mm256_hadd_epi32(acc[r][g], acc[r][g + 1]), order);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + r * 16 + half * 8 + g * 4), s);
    }
  }
}

/// Raw sums of an MR x 16 tile.
template <int MR>
LOWBIT_TARGET_AVX2 void tile(const std::int16_t* a, index_t lda, const std::int8_t* panel,
                             index_t kq, std::int32_t* out) noexcept {
  if constexpr (MR <= 2) {
    tile_part<MR, 4>(a, lda, panel, 0, kq, out);
  } else {
    tile_part<MR, 2>(a, lda, panel, 0, kq, out);
    tile_part<MR, 2>(a, lda, panel, 1, kq, out);
  }
}

}  // namespace gemm_avx2
}  // namespace kernels
LOWBIT_NAMESPACE_END

#endif  // LOWBIT_HAVE_X86_PATHS
