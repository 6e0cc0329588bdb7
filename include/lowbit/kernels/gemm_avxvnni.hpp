// lowbit/kernels/gemm_avxvnni.hpp: the int8 GEMM micro-kernel for AVX-VNNI (VEX vpdpbusd on ymm, no AVX-512).
//
// The VNNI kernel of kernels/gemm_avx512vnni.hpp at ymm width, for CPUs with AVX-VNNI and 16
// vector registers (Intel Alder Lake and later, AMD Zen 5 when AVX-512 is not used): vpdpbusd
// multiplies the row's 4 unsigned bytes a' (uint8 codes, or int8 codes + 128) with 8 columns x 4
// signed weight bytes and adds to int32 without saturation. Panels are 16 columns (two ymm per
// quad, the avx2 layout). A tile is up to 6 rows x 2 ymm (12 accumulators, 2 weight loads + 6
// broadcasts per 12 vpdpbusd); the panel is prefetched 8 quads ahead, and every strip is whole, as
// in the AVX-512 VNNI kernel. The output stage is kernels/gemm_avx2.hpp's finish_vector8.
#pragma once

#include <cstdint>
#include <cstring>

#include "lowbit/config.hpp"
#include "lowbit/kernels/gemm_avx2.hpp"
#include "lowbit/kernels/gemm_contract.hpp"
#include "lowbit/kernels/x86.hpp"
#include "lowbit/runtime/path.hpp"

#if LOWBIT_HAVE_X86_PATHS

LOWBIT_NAMESPACE_BEGIN
namespace kernels {
namespace avxvnni {

LOWBIT_TARGET_AVXVNNI LOWBIT_ALWAYS_INLINE __m256i broadcast_quad(const std::uint8_t* p) noexcept {
  std::int32_t quad;
  std::memcpy(&quad, p, 4);
  return _mm256_set1_epi32(quad);
}

LOWBIT_TARGET_AVXVNNI LOWBIT_ALWAYS_INLINE __m256i dot(__m256i acc, __m256i a, __m256i b) noexcept {
#if defined(LOWBIT_EMULATE_X86_SIMD)
  return _mm256_dpbusd_epi32(acc, a, b);  // SIMDe has the AVX-512VL form of the same operation
#else
  return _mm256_dpbusd_avx_epi32(acc, a, b);
#endif
}

#define LOWBIT_AVXVNNI_LOAD(r, v) _mm256_loadu_si256(reinterpret_cast<const __m256i*>(o.partial + r * o.ldp + 8 * v))

/// R rows (up to 6) x 16 columns.
template <int R, class Stage>
LOWBIT_TARGET_AVXVNNI void tile_whole(const std::uint8_t* a, index_t lda, const std::int8_t* b, index_t kq,
                                      const tile_output<Stage>& o) noexcept {
  static_assert(R >= 1 && R <= 6, "a whole AVX-VNNI tile has 1 to 6 rows");
  const __m256i z = _mm256_setzero_si256();
  __m256i c0_0 = z, c0_1 = z, c1_0 = z, c1_1 = z, c2_0 = z, c2_1 = z;
  __m256i c3_0 = z, c3_1 = z, c4_0 = z, c4_1 = z, c5_0 = z, c5_1 = z;
  tile_output<Stage> out = o;
  if (!o.first) {
#define LOWBIT_AVXVNNI_LOAD2(r) \
  if constexpr (R > r) { c##r##_0 = LOWBIT_AVXVNNI_LOAD(r, 0); c##r##_1 = LOWBIT_AVXVNNI_LOAD(r, 1); }
    LOWBIT_AVXVNNI_LOAD2(0) LOWBIT_AVXVNNI_LOAD2(1) LOWBIT_AVXVNNI_LOAD2(2)
    LOWBIT_AVXVNNI_LOAD2(3) LOWBIT_AVXVNNI_LOAD2(4) LOWBIT_AVXVNNI_LOAD2(5)
#undef LOWBIT_AVXVNNI_LOAD2
    out.first = true;
  }
  for (index_t q = 0; q < kq; ++q, b += 64, a += 4) {
    _mm_prefetch(reinterpret_cast<const char*>(b + 512), _MM_HINT_T0);
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32));
#define LOWBIT_AVXVNNI_ROW2(r)                                                                     \
  if constexpr (R > r) {                                                                           \
    const __m256i av = broadcast_quad(a + r * lda);                                                \
    c##r##_0 = dot(c##r##_0, av, b0);                                                              \
    c##r##_1 = dot(c##r##_1, av, b1);                                                              \
  }
    LOWBIT_AVXVNNI_ROW2(0) LOWBIT_AVXVNNI_ROW2(1) LOWBIT_AVXVNNI_ROW2(2)
    LOWBIT_AVXVNNI_ROW2(3) LOWBIT_AVXVNNI_ROW2(4) LOWBIT_AVXVNNI_ROW2(5)
#undef LOWBIT_AVXVNNI_ROW2
  }
#define LOWBIT_AVXVNNI_FINISH2(r)                                                                  \
  if constexpr (R > r) {                                                                           \
    avx2::finish_vector8(c##r##_0, r, 0, out);                                                     \
    avx2::finish_vector8(c##r##_1, r, 8, out);                                                     \
  }
  LOWBIT_AVXVNNI_FINISH2(0) LOWBIT_AVXVNNI_FINISH2(1) LOWBIT_AVXVNNI_FINISH2(2)
  LOWBIT_AVXVNNI_FINISH2(3) LOWBIT_AVXVNNI_FINISH2(4) LOWBIT_AVXVNNI_FINISH2(5)
#undef LOWBIT_AVXVNNI_FINISH2
}

#undef LOWBIT_AVXVNNI_LOAD

struct gemm_micro_kernel {
  static constexpr kernel_path path = kernel_path::avxvnni;
  static constexpr index_t nr = 16, kr = 4;
  static constexpr a_layout packed_a = a_layout::u8;
  static constexpr int whole_mr = 6, parts = 1, split_mr = 0;
  static constexpr bool large_split = false;

  template <int R, int Parts, class Stage>
  static void tile(const std::uint8_t* a, index_t lda, const std::int8_t* b, index_t kq,
                   const tile_output<Stage>& o) noexcept {
    static_assert(Parts == 1, "AVX-VNNI tiles are whole panels");
    tile_whole<R>(a, lda, b, kq, o);
  }
};

}  // namespace avxvnni

avxvnni::gemm_micro_kernel gemm_kernel(paths::avxvnni);
}  // namespace kernels
LOWBIT_NAMESPACE_END

#endif  // LOWBIT_HAVE_X86_PATHS
