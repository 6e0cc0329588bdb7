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
#include "lowbit/kernels/detail/x86_intrinsics.hpp"

#if LOWBIT_HAVE_X86_PATHS

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push  // GCC 12's false -Wuninitialized on _mm512_undefined_* (bug 105593)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

LOWBIT_NAMESPACE_BEGIN
namespace kernels {
namespace gemm_avx512vnni {

inline constexpr int mr = 8;

template <int MR>
LOWBIT_TARGET_AVX512VNNI void tile(const std::uint8_t* a, index_t lda, const std::int8_t* panel,
                                   index_t kq, std::int32_t* out) noexcept {
  __m512i acc[MR];
  for (int r = 0; r < MR; ++r) acc[r] = _mm512_setzero_si512();
  const std::int8_t* b = panel;
  for (index_t q = 0; q < kq; ++q, b += 64) {
    const __m512i bq = _mm512_loadu_si512(b);
    for (int r = 0; r < MR; ++r) {
      std::int32_t quad;
      std::memcpy(&quad, a + r * lda + 4 * q, 4);
      acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_set1_epi32(quad), bq);
    }
  }
  for (int r = 0; r < MR; ++r) _mm512_storeu_si512(out + r * 16, acc[r]);
}

}  // namespace gemm_avx512vnni
}  // namespace kernels
LOWBIT_NAMESPACE_END

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif  // LOWBIT_HAVE_X86_PATHS
