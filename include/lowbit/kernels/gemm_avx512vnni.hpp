// lowbit/kernels/gemm_avx512vnni.hpp: the int8 GEMM micro-kernel for AVX-512 VNNI (vpdpbusd).
//
// vpdpbusd multiplies unsigned bytes by signed bytes, four at a time, and adds them to int32
// without intermediate saturation. Packed A holds unsigned bytes a' (uint8 codes as they are, int8
// codes shifted by +128); one weight quad is exactly one zmm (16 columns x 4 depths), so each
// (row, quad) is one vpdpbusd with the row's 4 bytes broadcast. The driver subtracts
// (za + shift) * column_sum afterwards. |a'| <= 255 and |w| <= 128 keep every sum within int32 for
// K <= gemm_max_k.
#pragma once

#include <cstdint>
#include <cstring>

#include "lowbit/config.hpp"
#include "lowbit/kernels/gemm_contract.hpp"
#include "lowbit/kernels/x86.hpp"
#include "lowbit/runtime/path.hpp"

#if LOWBIT_HAVE_X86_PATHS

LOWBIT_AVX512_DIAGNOSTICS_BEGIN

LOWBIT_NAMESPACE_BEGIN
namespace kernels {
namespace avx512vnni {

template <int MR>
LOWBIT_TARGET_AVX512VNNI void gemm_tile(const std::uint8_t* a, index_t lda, const std::int8_t* panel,
                                   index_t kq, std::int32_t* out) noexcept {
  static_assert(MR >= 1 && MR <= 8, "the VNNI tile handles 1 to 8 rows");
  // Named accumulators from opaque zeros (see kernels/gemm_avx2.hpp for why).
  __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
  LOWBIT_KEEP_ZMM(c0); LOWBIT_KEEP_ZMM(c1); LOWBIT_KEEP_ZMM(c2); LOWBIT_KEEP_ZMM(c3);
  LOWBIT_KEEP_ZMM(c4); LOWBIT_KEEP_ZMM(c5); LOWBIT_KEEP_ZMM(c6); LOWBIT_KEEP_ZMM(c7);
  const std::int8_t* b = panel;
  for (index_t q = 0; q < kq; ++q, b += 64) {
    const __m512i bq = _mm512_loadu_si512(b);
    const std::uint8_t* ar = a + 4 * q;
#define LOWBIT_VNNI_ROW(r)                                                                         \
  if constexpr (MR > r) {                                                                          \
    std::int32_t quad;                                                                             \
    std::memcpy(&quad, ar + r * lda, 4);                                                           \
    c##r = _mm512_dpbusd_epi32(c##r, _mm512_set1_epi32(quad), bq);                                 \
  }
    LOWBIT_VNNI_ROW(0) LOWBIT_VNNI_ROW(1) LOWBIT_VNNI_ROW(2) LOWBIT_VNNI_ROW(3)
    LOWBIT_VNNI_ROW(4) LOWBIT_VNNI_ROW(5) LOWBIT_VNNI_ROW(6) LOWBIT_VNNI_ROW(7)
#undef LOWBIT_VNNI_ROW
  }
  _mm512_storeu_si512(out, c0);
  if constexpr (MR > 1) _mm512_storeu_si512(out + 16, c1);
  if constexpr (MR > 2) _mm512_storeu_si512(out + 32, c2);
  if constexpr (MR > 3) _mm512_storeu_si512(out + 48, c3);
  if constexpr (MR > 4) _mm512_storeu_si512(out + 64, c4);
  if constexpr (MR > 5) _mm512_storeu_si512(out + 80, c5);
  if constexpr (MR > 6) _mm512_storeu_si512(out + 96, c6);
  if constexpr (MR > 7) _mm512_storeu_si512(out + 112, c7);
}

struct gemm_micro_kernel {
  static constexpr kernel_path path = kernel_path::avx512vnni;
  static constexpr int mr = 8;
  static constexpr index_t nr = 16, kr = 4;
  static constexpr a_layout packed_a = a_layout::u8;

  template <int MR>
  static void tile(const std::uint8_t* a, index_t lda, const std::int8_t* panel, index_t kq,
                   std::int32_t* out) noexcept {
    gemm_tile<MR>(a, lda, panel, kq, out);
  }
};

}  // namespace avx512vnni

avx512vnni::gemm_micro_kernel gemm_kernel(paths::avx512vnni);
}  // namespace kernels
LOWBIT_NAMESPACE_END

LOWBIT_AVX512_DIAGNOSTICS_END

#endif  // LOWBIT_HAVE_X86_PATHS
