// lowbit/kernels/gemm_avx512vnni.hpp: the int8 GEMM micro-kernel for AVX-512 VNNI (vpdpbusd on zmm).
//
// vpdpbusd multiplies unsigned bytes by signed bytes, four at a time, and adds them to int32
// without intermediate saturation. Packed A holds unsigned bytes a' (uint8 codes as they are, int8
// codes + 128); each (row, quad) is one broadcast of the row's 4 bytes, multiplied with one zmm of
// weights per 16 columns. |a'| <= 255 and |w| <= 128 keep every sum within int32 for K <=
// gemm_max_k; the tile subtracts (za + s) * column_sum when it finishes.
//
// Panels are 64 columns (NR = 64, four zmm per quad), so that the inner loop is bound by vpdpbusd
// and not by loads: a tile is up to 6 rows x 4 zmm, 24 accumulators, and costs 4 weight loads + 6
// broadcasts per 24 vpdpbusd. The panel is prefetched prefetch_distance bytes (8 quads) ahead,
// which keeps weights streaming at memory speed when M is small (on a Zen 5 it took M = 8 from 250
// to about 500 GOPS and the GEMV from 100 to 150). Taller tiles over half a panel (12 rows x 2 zmm)
// read the weights once for M = 7 .. 12, but in a strided pattern that streamed from DRAM 30 %
// slower than two whole strips (the second reading the slice from L2), so every strip is whole.
// The output stage runs on the accumulators in registers (kernels/gemm_avx512.hpp's finish_vector).
//
// The accumulators are named variables: GCC 12 spills arrays of them (and, with more than about 32
// named zmm variables in one function, named ones too).
#pragma once

#include <cstdint>
#include <cstring>

#include "lowbit/config.hpp"
#include "lowbit/kernels/gemm_avx512.hpp"
#include "lowbit/kernels/gemm_contract.hpp"
#include "lowbit/kernels/x86.hpp"
#include "lowbit/runtime/path.hpp"

#if LOWBIT_HAVE_X86_PATHS

LOWBIT_AVX512_DIAGNOSTICS_BEGIN

LOWBIT_NAMESPACE_BEGIN
namespace kernels {
namespace avx512vnni {

/// How far ahead in the panel a tile prefetches: 8 quads of 256 bytes.
inline constexpr index_t prefetch_distance = 2048;

LOWBIT_TARGET_AVX512VNNI LOWBIT_ALWAYS_INLINE __m512i broadcast_quad(const std::uint8_t* p) noexcept {
  std::int32_t quad;
  std::memcpy(&quad, p, 4);
  return _mm512_set1_epi32(quad);
}

// One row r of a tile over V zmm of weights: its accumulators are c<r>_0 .. c<r>_<V-1>.
#define LOWBIT_VNNI_LOAD(r, v) _mm512_loadu_si512(o.partial + r * o.ldp + 16 * v)
#define LOWBIT_VNNI_LOAD4(r)                                                                       \
  if constexpr (R > r) {                                                                           \
    c##r##_0 = LOWBIT_VNNI_LOAD(r, 0);                                                             \
    c##r##_1 = LOWBIT_VNNI_LOAD(r, 1);                                                             \
    c##r##_2 = LOWBIT_VNNI_LOAD(r, 2);                                                             \
    c##r##_3 = LOWBIT_VNNI_LOAD(r, 3);                                                             \
  }
#define LOWBIT_VNNI_ROW4(r)                                                                        \
  if constexpr (R > r) {                                                                           \
    const __m512i av = broadcast_quad(a + r * lda);                                                \
    c##r##_0 = _mm512_dpbusd_epi32(c##r##_0, av, b0);                                              \
    c##r##_1 = _mm512_dpbusd_epi32(c##r##_1, av, b1);                                              \
    c##r##_2 = _mm512_dpbusd_epi32(c##r##_2, av, b2);                                              \
    c##r##_3 = _mm512_dpbusd_epi32(c##r##_3, av, b3);                                              \
  }
#define LOWBIT_VNNI_FINISH4(r)                                                                     \
  if constexpr (R > r) {                                                                           \
    avx512::finish_vector(c##r##_0, r, 0, out);                                                            \
    avx512::finish_vector(c##r##_1, r, 16, out);                                                           \
    avx512::finish_vector(c##r##_2, r, 32, out);                                                           \
    avx512::finish_vector(c##r##_3, r, 48, out);                                                           \
  }

/// R rows (up to 6) x 64 columns.
template <int R, class Stage>
LOWBIT_TARGET_AVX512VNNI void tile_whole(const std::uint8_t* a, index_t lda, const std::int8_t* b, index_t kq,
                                         const tile_output<Stage>& o) noexcept {
  static_assert(R >= 1 && R <= 6, "a whole VNNI tile has 1 to 6 rows");
  const __m512i z = _mm512_setzero_si512();
  __m512i c0_0 = z, c0_1 = z, c0_2 = z, c0_3 = z, c1_0 = z, c1_1 = z, c1_2 = z, c1_3 = z;
  __m512i c2_0 = z, c2_1 = z, c2_2 = z, c2_3 = z, c3_0 = z, c3_1 = z, c3_2 = z, c3_3 = z;
  __m512i c4_0 = z, c4_1 = z, c4_2 = z, c4_3 = z, c5_0 = z, c5_1 = z, c5_2 = z, c5_3 = z;
  tile_output<Stage> out = o;
  if (!o.first) {  // start from the sums of the earlier depth blocks
    LOWBIT_VNNI_LOAD4(0) LOWBIT_VNNI_LOAD4(1) LOWBIT_VNNI_LOAD4(2) LOWBIT_VNNI_LOAD4(3) LOWBIT_VNNI_LOAD4(4)
    LOWBIT_VNNI_LOAD4(5)
    out.first = true;
  }
  for (index_t q = 0; q < kq; ++q, b += 256, a += 4) {
    _mm_prefetch(reinterpret_cast<const char*>(b + prefetch_distance), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(b + prefetch_distance + 64), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(b + prefetch_distance + 128), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(b + prefetch_distance + 192), _MM_HINT_T0);
    const __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_loadu_si512(b + 64);
    const __m512i b2 = _mm512_loadu_si512(b + 128), b3 = _mm512_loadu_si512(b + 192);
    LOWBIT_VNNI_ROW4(0) LOWBIT_VNNI_ROW4(1) LOWBIT_VNNI_ROW4(2) LOWBIT_VNNI_ROW4(3) LOWBIT_VNNI_ROW4(4)
    LOWBIT_VNNI_ROW4(5)
  }
  LOWBIT_VNNI_FINISH4(0) LOWBIT_VNNI_FINISH4(1) LOWBIT_VNNI_FINISH4(2) LOWBIT_VNNI_FINISH4(3)
  LOWBIT_VNNI_FINISH4(4) LOWBIT_VNNI_FINISH4(5)
}

#undef LOWBIT_VNNI_LOAD
#undef LOWBIT_VNNI_LOAD4
#undef LOWBIT_VNNI_ROW4
#undef LOWBIT_VNNI_FINISH4

struct gemm_micro_kernel {
  static constexpr kernel_path path = kernel_path::avx512vnni;
  static constexpr index_t nr = 64, kr = 4;
  static constexpr a_layout packed_a = a_layout::u8;
  static constexpr int whole_mr = 6, parts = 1, split_mr = 0;
  static constexpr bool large_split = false;

  template <int R, int Parts, class Stage>
  static void tile(const std::uint8_t* a, index_t lda, const std::int8_t* b, index_t kq,
                   const tile_output<Stage>& o) noexcept {
    static_assert(Parts == 1, "VNNI tiles are whole panels");
    tile_whole<R>(a, lda, b, kq, o);
  }
};

}  // namespace avx512vnni

avx512vnni::gemm_micro_kernel gemm_kernel(paths::avx512vnni);
}  // namespace kernels
LOWBIT_NAMESPACE_END

LOWBIT_AVX512_DIAGNOSTICS_END

#endif  // LOWBIT_HAVE_X86_PATHS
